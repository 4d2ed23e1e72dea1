"""Alembic environment: runs on the connection the catalog hands over (never a URL from a file)."""

from alembic import context

from archive.catalog.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used through archive.catalog.db.migrate
    raise RuntimeError("run migrations through archive.catalog.db.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
