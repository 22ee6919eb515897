"""The store's tables (SQLAlchemy 2), the same on SQLite and PostgreSQL.

Call records keep every phase with its timestamps and the call's attached data (JSON columns);
agent state history keeps one row per change; tickets one row per ticket. Times are POSIX
seconds, as the switchboard keeps them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["AgentStateRow", "Base", "CallRecordRow", "CustomerRow", "OpenCallRow", "TicketRow"]


class Base(DeclarativeBase):
    pass


class CallRecordRow(Base):
    __tablename__ = "call_records"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    caller: Mapped[str] = mapped_column(String(64))
    dialed: Mapped[str] = mapped_column(String(64))
    trunk: Mapped[str] = mapped_column(String(64))
    disposition: Mapped[str] = mapped_column(String(32))
    arrived_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float] = mapped_column(Float, index=True)
    queue: Mapped[str | None] = mapped_column(String(128), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(128), index=True)
    enqueued_at: Mapped[float | None] = mapped_column(Float)
    answered_at: Mapped[float | None] = mapped_column(Float)
    wait_s: Mapped[float] = mapped_column(Float)
    talk_s: Mapped[float] = mapped_column(Float)
    priority: Mapped[float] = mapped_column(Float)
    offers: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str | None] = mapped_column(String(128))
    phases: Mapped[list[Any]] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AgentStateRow(Base):
    __tablename__ = "agent_states"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32))
    previous: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_agent_states_agent_at", "agent_id", "at"),)


class TicketRow(Base):
    __tablename__ = "tickets"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str] = mapped_column(String(128))
    caller: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Requests merged into this ticket (the same caller asking again while it is open).
    requests: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[float | None] = mapped_column(Float)


class CustomerRow(Base):
    """A customer, found by phone number for the screen pop and routing (VIP, account
    manager)."""

    __tablename__ = "customers"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    vip: Mapped[bool] = mapped_column(default=False)
    account_manager: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OpenCallRow(Base):
    """A call in progress: written when it arrives, deleted when its record is written. What
    is left after a crash is closed on the next start as ``interrupted``."""

    __tablename__ = "open_calls"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    caller: Mapped[str] = mapped_column(String(64))
    dialed: Mapped[str] = mapped_column(String(64))
    trunk: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))
    arrived_at: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
