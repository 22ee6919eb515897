"""The ticket desk: which events become tickets, and when a new one is merged into an open one.

It sits between the switchboard and the subscribers (bus, store): ``process`` takes the
notifications of one step and returns what to publish. Tickets come from

- the switchboard: a voicemail left, a callback requested (``TicketCreated``);
- a call abandoned after waiting at least ``[tickets] abandoned_after_s``: a callback ticket
  (kind ``abandoned``), so somebody calls back the caller who gave up;
- an agent's wrap-up disposition listed in ``[tickets] follow_up``: a ticket of kind
  ``follow-up`` for the call the agent just finished (``wrapped_up``).

A ticket from a caller who already has one of the same kind, created less than
``merge_window_s`` ago, is not a new ticket: it is published as ``TicketUpdated`` of the open one
(with how many requests it now holds), so the ticketing system does not get duplicates. The desk
cannot know when a ticketing system closes a ticket; the window stands for "still open".
Memory is bounded by the tickets of one window.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from cti.core.notifications import CallEnded, Notification, TicketCreated, TicketUpdated
from cti.core.records import CallRecord

__all__ = ["TicketDesk"]


@dataclass(slots=True)
class _Open:
    ticket_id: str
    at: float
    requests: int = 1


class TicketDesk:
    def __init__(self, *, abandoned_after_s: float | None = 60.0,
                 merge_window_s: float = 86_400.0, prefix: str = "A",
                 follow_up: Iterable[str] = ()) -> None:
        self.abandoned_after_s = abandoned_after_s
        self.follow_up = frozenset(follow_up)
        #: agent -> the record of the last call they handled (for follow-up tickets).
        self._last_call: dict[str, CallRecord] = {}
        self.merge_window_s = merge_window_s
        self.prefix = prefix
        self._count = 0
        #: (caller, kind) -> the ticket still taken as open; oldest first.
        self._open: OrderedDict[tuple[str, str], _Open] = OrderedDict()
        self.created = 0
        self.merged = 0

    def process(self, notes: list[Notification]) -> list[Notification]:
        # Most steps hold neither a ticket nor a call's end: hand them back as they are, so
        # the runtime's hot path allocates nothing here.
        for note in notes:
            if type(note) is TicketCreated or type(note) is CallEnded:
                break
        else:
            return notes
        out: list[Notification] = []
        for note in notes:
            if isinstance(note, TicketCreated):
                out.append(self._ticket(note))
            else:
                out.append(note)
                if isinstance(note, CallEnded) and note.record.agent_id is not None:
                    self._last_call[note.record.agent_id] = note.record
                if (isinstance(note, CallEnded) and self.abandoned_after_s is not None
                        and note.record.disposition == "abandoned"
                        and note.record.wait_s >= self.abandoned_after_s):
                    rec = note.record
                    self._count += 1
                    out.append(self._ticket(TicketCreated(
                        f"{self.prefix}{self._count}", "abandoned", rec.call_id, rec.caller,
                        rec.queue, rec.ended_at, {"waited_s": round(rec.wait_s, 3)})))
        return out

    def wrapped_up(self, agent_id: str, disposition: str | None,
                   now: float) -> list[Notification]:
        """The agent closed their wrap-up with ``disposition``: a follow-up ticket for the call
        they handled, if the disposition asks for one."""
        rec = self._last_call.pop(agent_id, None)
        if rec is None or disposition is None or disposition not in self.follow_up:
            return []
        self._count += 1
        # Returned as created: ``process`` then merges it like any other ticket.
        return [TicketCreated(
            f"{self.prefix}{self._count}", "follow-up", rec.call_id, rec.caller, rec.queue, now,
            {"disposition": disposition, "agent_id": agent_id})]

    def _ticket(self, ticket: TicketCreated) -> Notification:
        self._forget_before(ticket.at - self.merge_window_s)
        key = (ticket.caller, ticket.kind)
        open_ = self._open.get(key)
        if open_ is not None:
            open_.requests += 1
            self.merged += 1
            return TicketUpdated(open_.ticket_id, ticket.kind, ticket.call_id, ticket.caller,
                                 ticket.queue, ticket.at, open_.requests, ticket.data)
        self._open[key] = _Open(ticket.ticket_id, ticket.at)
        self.created += 1
        return ticket

    def _forget_before(self, cutoff: float) -> None:
        opened = self._open
        while opened:
            key, oldest = next(iter(opened.items()))
            if oldest.at >= cutoff:
                break
            del opened[key]
