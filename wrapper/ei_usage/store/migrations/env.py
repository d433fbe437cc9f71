"""Alembic's environment for the store: always run programmatically, on a given connection.

:mod:`ei_usage.store._store` passes the open connection in ``config.attributes``; there is no
``alembic.ini`` and no logging configuration (the store's errors say what went wrong).
"""

from __future__ import annotations

from alembic import context

from ei_usage.store._schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite alters tables by copying them; later revisions need it there.
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
