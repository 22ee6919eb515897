"""Customers: ``cti customers import FILE.csv``, and the lookup the switchboard asks for.

The CSV has a header row. ``number`` is required; ``customer_id`` (default: the number),
``name``, ``vip`` (``true``/``false``, ``yes``/``no``, ``1``/``0``, or a tier name, which counts
as VIP unless it is empty or ``none``) and ``preferred_agent`` (the account manager) are
optional; every other column is kept in the record's ``data``. Importing a number again replaces
its record. A bad row is refused with its line number and column, and nothing of the file is
written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.core import CustomerRecord
from cti.store.models import CallRecordRow, CustomerRow, TicketRow

__all__ = [
    "CustomerImportError", "caller_history", "import_customers", "lookup_customer",
    "parse_customers",
]

_KNOWN = {"number", "customer_id", "name", "vip", "preferred_agent"}
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n", "", "none"}


class CustomerImportError(ValueError):
    """The file names its line and column."""


def parse_customers(text: str, source: str = "<csv>") -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "number" not in reader.fieldnames:
        raise CustomerImportError(f"{source}: line 1: the header needs a 'number' column")
    rows: dict[str, dict[str, Any]] = {}
    for row in reader:
        line = reader.line_num
        number = (row.get("number") or "").strip()
        if not number:
            raise CustomerImportError(f"{source}: line {line}: number: empty")
        if None in row:  # more fields than the header has
            raise CustomerImportError(f"{source}: line {line}: more fields than the header")
        vip_text = (row.get("vip") or "").strip().lower()
        vip = vip_text in _TRUE or vip_text not in _FALSE  # a tier name counts as VIP
        rows[number] = {
            "number": number,
            "customer_id": (row.get("customer_id") or "").strip() or number,
            "name": (row.get("name") or "").strip(),
            "vip": vip,
            "account_manager": (row.get("preferred_agent") or "").strip() or None,
            "data": {k: v for k, v in row.items() if k not in _KNOWN and k is not None},
        }
    return list(rows.values())


async def import_customers(engine: AsyncEngine, path: str | Path) -> int:
    """Load a CSV file; returns how many customers it held. All or nothing."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CustomerImportError(f"{path}: cannot read: {exc.strerror}") from exc
    rows = parse_customers(text, str(path))
    async with engine.begin() as conn:
        for chunk in _chunks(rows, 1000):
            numbers = [r["number"] for r in chunk]
            await conn.execute(delete(CustomerRow).where(CustomerRow.number.in_(numbers)))
            await conn.execute(insert(CustomerRow), chunk)
    return len(rows)


async def lookup_customer(engine: AsyncEngine, number: str) -> CustomerRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(CustomerRow).where(CustomerRow.number == number))
               ).first()
    if row is None:
        return None
    return CustomerRecord(row.customer_id, row.name, bool(row.vip), row.account_manager,
                          dict(row.data or {}))


async def caller_history(engine: AsyncEngine, number: str, *, calls: int = 5,
                         now: float | None = None,
                         ticket_window_s: float = 86_400.0) -> dict[str, object]:
    """The caller's last ``calls`` calls (newest first) and tickets of the last window, for the
    screen pop: the agent sees at once that this caller rang three times this morning."""
    async with engine.connect() as conn:
        recent = (await conn.execute(
            select(CallRecordRow.call_id, CallRecordRow.ended_at, CallRecordRow.queue,
                   CallRecordRow.disposition, CallRecordRow.agent_id)
            .where(CallRecordRow.caller == number)
            .order_by(CallRecordRow.ended_at.desc()).limit(calls)
        )).all()
        query = select(TicketRow.ticket_id, TicketRow.kind, TicketRow.at,
                       TicketRow.requests).where(TicketRow.caller == number)
        if now is not None:
            query = query.where(TicketRow.at >= now - ticket_window_s)
        tickets = (await conn.execute(query.order_by(TicketRow.at.desc()).limit(10))).all()
    return {
        "recent_calls": [{"call_id": r.call_id, "ended_at": r.ended_at, "queue": r.queue,
                          "disposition": r.disposition, "agent_id": r.agent_id}
                         for r in recent],
        "open_tickets": [{"ticket_id": t.ticket_id, "kind": t.kind, "at": t.at,
                          "requests": t.requests} for t in tickets],
    }


def _chunks(rows: list[dict[str, Any]], n: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), n):
        yield rows[i:i + n]
