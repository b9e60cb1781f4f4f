"""Who may open a business item (seed 000 第4章: 经办人员可办理已被授权单位的对应业务).

The legal representative and the administrator may open every item for every relationship of
their company (seed 002: 管理员可在授权有效期内办理任何业务); an agent only the items AND the
insurance relationships granted to them. Everyone else: 403, nothing shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.errors import ItemForbidden


@dataclass(frozen=True)
class Access:
    everything: bool = False
    items: frozenset[str] = frozenset()
    relationship_ids: frozenset[int] = frozenset()

    def may_item(self, code: str) -> bool:
        return self.everything or code in self.items

    def may_relationship(self, relationship_id: int | None) -> bool:
        return self.everything or relationship_id in self.relationship_ids

    def may(self, code: str, relationship_id: int | None) -> bool:
        return self.may_item(code) and self.may_relationship(relationship_id)

    def check(
        self, code: str, relationship_id: int | None = None, *, item_only: bool = False
    ) -> None:
        """Refuse (403 item_forbidden) what was not granted."""
        allowed = self.may_item(code) if item_only else self.may(code, relationship_id)
        if not allowed:
            raise ItemForbidden(f"{code} / {relationship_id}")


NOTHING = Access()
