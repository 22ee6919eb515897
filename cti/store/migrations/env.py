"""Alembic's environment for the store: always run on a connection the daemon hands over
(``StoreWriter.migrate``), so the same code migrates SQLite and PostgreSQL, sync or async."""

from __future__ import annotations

from alembic import context

from cti.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the daemon runs these migrations
    raise RuntimeError("run the store's migrations through cti (StoreWriter.migrate)")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
