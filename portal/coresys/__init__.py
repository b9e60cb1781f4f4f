"""The agency's core business system (核心业务系统), simulated in the portal's database.

One interface (`base.CoreSystem`), one implementation (`sql.SqlCoreSystem`) seeded from
data/coresys.json (`seed.load`). It changes only when the agency approves an application.
"""

from portal.coresys.base import Change, CoreSystem, RosterEntry, UnitInfo
from portal.coresys.sql import SqlCoreSystem

__all__ = ["Change", "CoreSystem", "RosterEntry", "SqlCoreSystem", "UnitInfo"]
