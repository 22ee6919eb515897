"""Persistence: call records, agent state history and tickets, written in batches off the hot
path (SQLAlchemy 2 async; SQLite through aiosqlite by default, PostgreSQL through asyncpg)."""

from cti.store.models import AgentStateRow, Base, CallRecordRow, OpenCallRow, TicketRow
from cti.store.writer import StoreWriter

__all__ = ["AgentStateRow", "Base", "CallRecordRow", "OpenCallRow", "StoreWriter", "TicketRow"]
