"""Alembic's environment for dcpoc: always online, on the connection that dcpoc.runs.migrate
hands over in ``config.attributes["connection"]`` (inside its transaction; no alembic.ini)."""
from alembic import context

from dcpoc.runs.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("upgrade with `python -m dcpoc db upgrade`, not the alembic command")
# Batch mode lets a later revision alter a SQLite table (by rebuilding it); migrate.py turns
# SQLite's foreign keys off for that, so the rebuild cannot cascade into other tables' rows.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
