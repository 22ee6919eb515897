"""The ticket desk: abandoned calls past the threshold become callback tickets; a second ticket
of the same kind from the same caller within the window updates the open one."""

from __future__ import annotations

from cti.core.notifications import CallEnded, TicketCreated, TicketUpdated
from cti.core.records import CallRecord, Phase
from cti.tickets import TicketDesk


def ended(call_id: str, caller: str, disposition: str, wait: float, at: float,
          agent: str | None = None) -> CallEnded:
    return CallEnded(CallRecord(call_id, caller, "3000", "default", disposition, at - wait, at,
                                "sales", agent, at - wait, None, wait, 0.0, 0.0, 0, None,
                                (Phase("arrived", at - wait),), {}))


def test_abandoned_after_the_threshold_becomes_a_ticket() -> None:
    desk = TicketDesk(abandoned_after_s=60, prefix="A")
    out = desk.process([ended("c1", "+1", "abandoned", 30, 100.0)])
    assert [type(n) for n in out] == [CallEnded]  # gave up quickly: no ticket
    out = desk.process([ended("c2", "+1", "abandoned", 61, 200.0)])
    assert [type(n) for n in out] == [CallEnded, TicketCreated]
    ticket = out[1]
    assert isinstance(ticket, TicketCreated)
    assert (ticket.ticket_id, ticket.kind, ticket.caller) == ("A1", "abandoned", "+1")
    assert desk.process([ended("c3", "+2", "answered", 90, 300.0)])[1:] == []


def test_a_second_request_within_the_window_updates_the_open_ticket() -> None:
    desk = TicketDesk(abandoned_after_s=None, merge_window_s=3600)
    first = TicketCreated("T1", "voicemail", "c1", "+1", "q", 1000.0)
    assert desk.process([first]) == [first]
    again = desk.process([TicketCreated("T2", "voicemail", "c2", "+1", "q", 2000.0)])
    assert again == [TicketUpdated("T1", "voicemail", "c2", "+1", "q", 2000.0, 2)]
    other_kind = TicketCreated("T3", "callback", "c3", "+1", "q", 2100.0)
    assert desk.process([other_kind]) == [other_kind]  # another kind: its own ticket
    later = TicketCreated("T4", "voicemail", "c4", "+1", "q", 1000.0 + 3601)
    assert desk.process([later]) == [later]  # the window has passed: a new ticket
    assert (desk.created, desk.merged) == (3, 1)


def test_a_follow_up_disposition_opens_a_ticket_for_the_call() -> None:
    desk = TicketDesk(abandoned_after_s=None, follow_up=["callback-needed"], prefix="A")
    record = ended("c1", "+1", "answered", 5, 100.0, agent="1001")
    desk.process([record])
    assert desk.wrapped_up("1001", "sale", 110.0) == []  # not a follow-up disposition
    desk.process([record])
    created = desk.process(desk.wrapped_up("1001", "callback-needed", 120.0))
    assert len(created) == 1
    ticket = created[0]
    assert isinstance(ticket, TicketCreated)
    assert (ticket.kind, ticket.call_id, ticket.data["disposition"]) == (
        "follow-up", "c1", "callback-needed")
    assert desk.wrapped_up("1001", "callback-needed", 130.0) == []  # already used
