"""FreeSWITCH call control (adapters/esl/control.py) against the production switchboard.

Channel events go in as FreeSWITCH would send them; the switchboard's commands come back
through ``CallControl.execute``; the test reads the ESL commands the adapter would send.
"""

from __future__ import annotations

import itertools
import re

import pytest

from adapters.esl.control import CallControl, ControlOptions, leg_failure
from cti.config import parse_config
from cti.core import (
    AgentLogin,
    AgentReady,
    AgentState,
    CallEnded,
    CtiError,
    Event,
    LegFailure,
    Switchboard,
    TicketCreated,
)

CONFIG = """
site = "t"
default_queue = "q"
[ring]
max_misses = 5
[queues.q]
strategy = "least-idle"
wrap_up_s = 0
ring_timeout_s = 15
max_wait_s = 600
on_max_wait = "voicemail"
[agents.a1]
endpoint = "user/1001"
queues = ["q"]
[agents.a2]
endpoint = "user/1002"
queues = ["q"]
"""


class Harness:
    def __init__(self, options: ControlOptions | None = None) -> None:
        self.board = Switchboard(parse_config(CONFIG))
        self.now = 1000.0
        self.sent: list[str] = []
        self.notes: list[object] = []
        self.refused: list[Event] = []
        ids = itertools.count(1)
        self.control = CallControl(options or ControlOptions(), self.submit,
                                   lambda command, leg: self.sent.append(command),
                                   new_uuid=lambda: f"leg-{next(ids)}")

    def submit(self, event: Event) -> bool:
        try:
            out = self.board.handle(event, self.now)
        except CtiError:
            self.refused.append(event)
            return False
        self.notes += out.notifications
        for cmd in out.commands:
            self.control.execute(cmd)  # type: ignore[arg-type]
        return True

    def login(self, *agents: str) -> None:
        for a in agents:
            self.submit(AgentLogin(a))
            self.submit(AgentReady(a))

    def fs(self, name: str, uuid: str, **headers: str) -> None:
        h = {"Event-Name": name, "Unique-ID": uuid, **headers}
        self.control.on_event(name, h)

    def park(self, uuid: str, caller: str = "+331", dialed: str = "3000", **extra: str) -> None:
        self.fs("CHANNEL_PARK", uuid, **{"Call-Direction": "inbound",
                                          "Caller-Caller-ID-Number": caller,
                                          "Caller-Destination-Number": dialed, **extra})

    def answer(self, leg: str) -> None:
        """The agent answers: FreeSWITCH reports the answer, then the leg enters ``&park()``."""
        self.fs("CHANNEL_ANSWER", leg)
        self.fs("CHANNEL_PARK", leg, **{"Call-Direction": "outbound",
                                         "variable_cti_leg": "agent"})

    def take(self) -> list[str]:
        out, self.sent[:] = list(self.sent), []
        return out

    def originated(self) -> list[tuple[str, str]]:
        """(leg uuid, endpoint) of every originate sent so far (and clears the sent list)."""
        found = []
        for cmd in self.take():
            m = re.match(r"originate \{origination_uuid=([^,]+),.*\}(\S+) &park\(\)$", cmd)
            if m:
                found.append((m.group(1), m.group(2)))
        return found

    def records(self) -> list[CallEnded]:
        return [n for n in self.notes if isinstance(n, CallEnded)]

    def agent(self, agent_id: str) -> AgentState:
        return self.board.agents[agent_id].state


def test_a_full_call_parks_rings_bridges_and_ends_with_its_record() -> None:
    h = Harness()
    h.login("a1")
    h.park("caller-1", variable_cti_account="42-17", variable_cti_queue="q")
    sent = h.take()
    assert sent[0] == "uuid_broadcast caller-1 local_stream://moh aleg"
    assert sent[1].startswith("originate {origination_uuid=leg-1,cti_leg=agent,cti_agent_id=a1,"
                              "originate_timeout=15,ignore_early_media=true,")
    assert "cti_call_id=caller-1" in sent[1]
    assert "cti_account=42-17" in sent[1]
    assert sent[1].endswith("}user/1001 &park()")
    h.fs("CHANNEL_CREATE", "leg-1")
    h.fs("CHANNEL_PROGRESS", "leg-1")
    assert h.agent("a1") is AgentState.RINGING
    h.answer("leg-1")
    assert h.take() == ["uuid_bridge caller-1 leg-1"]
    assert h.agent("a1") is AgentState.ON_CALL
    h.now += 60
    h.fs("CHANNEL_HANGUP_COMPLETE", "caller-1", **{"Hangup-Cause": "NORMAL_CLEARING"})
    assert h.take() == ["uuid_kill leg-1 NORMAL_CLEARING"]
    (rec,) = h.records()
    assert rec.record.disposition == "answered"
    assert rec.record.agent_id == "a1"
    assert rec.record.data["account"] == "42-17"
    # The agent leg's own hang-up, after the adapter killed it, changes nothing.
    h.fs("CHANNEL_HANGUP_COMPLETE", "leg-1", **{"Hangup-Cause": "NORMAL_CLEARING"})
    assert h.take() == []
    assert h.refused == []
    assert not h.control.calls
    assert not h.control.legs


def test_a_recorded_conversation_is_in_the_call_record() -> None:
    h = Harness(ControlOptions(recordings="/rec", record_calls=True))
    h.login("a1")
    h.park("caller-1", variable_cti_queue="q")
    h.originated()
    h.fs("CHANNEL_CREATE", "leg-1")
    h.answer("leg-1")
    assert h.take() == ["uuid_bridge caller-1 leg-1",
                        "uuid_record caller-1 start /rec/caller-1.wav"]
    h.fs("CHANNEL_HANGUP_COMPLETE", "caller-1", **{"Hangup-Cause": "NORMAL_CLEARING"})
    (rec,) = h.records()
    assert rec.record.data["recording"] == "/rec/caller-1.wav"


def test_an_unrecorded_call_names_no_recording() -> None:
    h = Harness()
    h.login("a1")
    h.park("caller-1", variable_cti_queue="q")
    h.originated()
    h.fs("CHANNEL_CREATE", "leg-1")
    h.answer("leg-1")
    assert h.take() == ["uuid_bridge caller-1 leg-1"]
    h.fs("CHANNEL_HANGUP_COMPLETE", "caller-1", **{"Hangup-Cause": "NORMAL_CLEARING"})
    (rec,) = h.records()
    assert "recording" not in rec.record.data


def test_ring_no_answer_goes_to_another_agent() -> None:
    h = Harness()
    h.login("a1", "a2")
    h.park("c1")
    ((leg1, ep1),) = h.originated()
    h.fs("CHANNEL_CREATE", leg1)
    h.fs("CHANNEL_PROGRESS", leg1)
    h.control.on_job_result(leg1, "-ERR NO_ANSWER\n")
    ((leg2, ep2),) = h.originated()
    assert {ep1, ep2} == {"user/1001", "user/1002"}
    first = "a1" if ep1 == "user/1001" else "a2"
    assert h.board.agents[first].state is not AgentState.ON_CALL
    # The hang-up of the failed leg arrives after the job's result: counted once only.
    h.fs("CHANNEL_HANGUP_COMPLETE", leg1, **{"Hangup-Cause": "NO_ANSWER"})
    assert h.board.agents[first].statistics(h.now).missed == 1
    h.answer(leg2)
    assert h.take() == [f"uuid_bridge c1 {leg2}"]


def test_caller_hanging_up_while_the_agent_rings_releases_the_agent() -> None:
    h = Harness()
    h.login("a1")
    h.park("c1")
    ((leg, _),) = h.originated()
    h.fs("CHANNEL_CREATE", leg)
    h.fs("CHANNEL_PROGRESS", leg)
    h.fs("CHANNEL_HANGUP_COMPLETE", "c1", **{"Hangup-Cause": "ORIGINATOR_CANCEL"})
    assert h.take() == [f"uuid_kill {leg} ORIGINATOR_CANCEL"]
    assert h.agent("a1") is AgentState.READY
    (rec,) = h.records()
    assert rec.record.disposition == "abandoned"
    h.control.on_job_result(leg, "-ERR ORIGINATOR_CANCEL\n")
    h.fs("CHANNEL_HANGUP_COMPLETE", leg, **{"Hangup-Cause": "ORIGINATOR_CANCEL"})
    assert h.board.agents["a1"].statistics(h.now).missed == 0
    assert h.refused == []
    assert not h.control.legs


def test_an_offer_cancelled_before_freeswitch_created_the_leg_is_killed_on_sight() -> None:
    h = Harness()
    h.login("a1")
    h.park("c1")
    ((leg, _),) = h.originated()
    h.fs("CHANNEL_HANGUP_COMPLETE", "c1", **{"Hangup-Cause": "NORMAL_CLEARING"})
    assert h.take() == []  # nothing to kill yet: FreeSWITCH has not reported the leg
    h.fs("CHANNEL_CREATE", leg)
    assert h.take() == [f"uuid_kill {leg} ORIGINATOR_CANCEL"]
    h.fs("CHANNEL_ANSWER", leg)  # answered in the same instant: still no bridge
    assert h.take() == []
    assert h.agent("a1") is AgentState.READY


def test_the_agent_hanging_up_ends_the_call_and_hangs_up_the_customer() -> None:
    h = Harness()
    h.login("a1")
    h.park("c1")
    ((leg, _),) = h.originated()
    h.answer(leg)
    h.take()
    h.fs("CHANNEL_HANGUP_COMPLETE", leg, **{"Hangup-Cause": "NORMAL_CLEARING"})
    assert h.take() == ["uuid_kill c1 NORMAL_CLEARING"]
    (rec,) = h.records()
    assert rec.record.disposition == "answered"
    h.board.on_timer(h.now)  # wrap_up_s = 0: wrap-up ends at once
    assert h.agent("a1") is AgentState.READY


@pytest.mark.parametrize("restarted", [False, True])
def test_resync_ends_what_freeswitch_no_longer_has(restarted: bool) -> None:
    h = Harness()
    h.login("a1", "a2")
    h.park("talking")
    ((leg, _),) = h.originated()
    h.answer(leg)
    h.park("ringing")
    ((leg2, _),) = h.originated()
    h.fs("CHANNEL_CREATE", leg2)
    h.take()
    # After the outage FreeSWITCH has only the talking pair (or, restarted, nothing of old).
    rows = [{"uuid": "talking", "direction": "inbound", "application": "park"},
            {"uuid": leg, "direction": "outbound", "application": "park"},
            {"uuid": "new-caller", "direction": "inbound", "application": "park",
             "cid_num": "+339", "dest": "3000"}]
    h.control.on_resync(rows if not restarted else rows[2:], restarted)
    ends = {r.record.call_id: r.record.disposition for r in h.records()}
    if restarted:
        assert ends == {"talking": "answered", "ringing": "abandoned"}
        assert set(h.board.calls) == {"new-caller"}
    else:
        assert ends == {"ringing": "abandoned"}
        assert set(h.board.calls) == {"talking", "new-caller"}
    assert h.board.calls["new-caller"].caller == "+339"
    # Nobody stays reserved for a call that is gone.
    for agent in h.board.agents.values():
        if agent.call_id is not None:
            assert agent.call_id in h.board.calls


def test_voicemail_recording_becomes_the_ticket() -> None:
    h = Harness()
    h.park("c1")  # no agent logged in: waits, then voicemail after max_wait_s
    h.take()
    h.now += 601
    out = h.board.on_timer(h.now)
    for cmd in out.commands:
        h.control.execute(cmd)  # type: ignore[arg-type]
    sent = h.take()
    assert sent[0] == "uuid_broadcast c1 /usr/share/freeswitch/sounds/cti/leave-message.wav aleg"
    assert sent[1] == ("uuid_record c1 start /var/lib/freeswitch/recordings/cti/"
                       "voicemail-c1.wav 120")
    h.fs("RECORD_STOP", "c1", **{"Record-File-Path": "/rec/voicemail-c1.wav"})
    (ticket,) = [n for n in h.notes if isinstance(n, TicketCreated)]
    assert ticket.data["recording"] == "/rec/voicemail-c1.wav"
    assert h.take() == ["uuid_kill c1 NORMAL_CLEARING"]


def test_values_cannot_inject_a_second_command() -> None:
    h = Harness()
    h.login("a1")
    h.park("c1", variable_cti_note="x}\n\nbgapi hupall, 'y'")
    (cmd,) = [c for c in h.take() if c.startswith("originate")]
    assert "\n" not in cmd
    block = cmd[cmd.index("{") + 1:cmd.index("}")]
    assert "cti_note=x___bgapi_hupall___y_" in block.split(",")


def test_unknown_destinations_are_left_alone_when_the_acd_owns_a_list() -> None:
    h = Harness(ControlOptions(destinations=frozenset({"3000"})))
    h.park("c1", dialed="4000")
    assert h.take() == []
    assert not h.board.calls
    h.park("c2", dialed="3000")
    assert "c2" in h.board.calls


def test_failure_causes_map_to_the_switchboards_retry_classes() -> None:
    assert leg_failure("NO_ANSWER") is LegFailure.NO_ANSWER
    assert leg_failure("user_busy") is LegFailure.BUSY
    assert leg_failure("CALL_REJECTED") is LegFailure.REJECTED
    assert leg_failure("USER_NOT_REGISTERED") is LegFailure.UNREACHABLE
    assert leg_failure("SOMETHING_NEW") is LegFailure.REJECTED
