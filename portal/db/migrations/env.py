"""Alembic environment: always run programmatically with a connection handed in.

`portal.db.engine.upgrade()` opens an async connection and runs `command.upgrade` inside
`run_sync`, passing the sync connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from portal.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `portal db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
