"""The evapi router's mapping, sans-IO, against a real Switchboard (no sockets, no clock):
Kamailio's events in as JSON frames, the actions it would get out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kamailio import EvapiOptions, EvapiRouter, leg_failure
from cti.config import ConfigFileError, parse_config, parse_settings
from cti.core import (
    AgentLogin,
    AgentReady,
    AgentState,
    Event,
    HangUp,
    LegFailure,
    PbxCommand,
    Switchboard,
)
from cti.pbx import pbx_link

CONFIG = """
blacklist = ["666"]
[numbers]
"100" = "sales"
"200" = "full"
[queues.sales]
wrap_up_s = 5
ring_timeout_s = 10
[queues.full]
max_size = 0
[ring]
retry_s = {no-answer = 60, busy = 60, rejected = 60, unreachable = 60}
[agents.a1]
endpoint = "sip:1001@10.0.0.1"
queues = ["sales"]
[agents.a2]
endpoint = "sip:1002@10.0.0.2:5070"
queues = ["sales"]
"""


class Harness:
    """The runtime's order: one event at a time, its commands before the next event; events
    the router submits while a command runs wait for the end of the step (as the adapter
    does)."""

    def __init__(self, options: EvapiOptions | None = None, config: str = CONFIG) -> None:
        self.sb = Switchboard(parse_config(config), now=0.0)
        self.now = 0.0
        self._pending: list[Event] = []
        self._running = False
        self.actions: list[dict[str, Any]] = []
        self.router = EvapiRouter(options or EvapiOptions(), self._submit, self._send)

    def _send(self, payload: bytes) -> bool:
        self.actions.append(json.loads(payload))
        return True

    def _submit(self, event: Event) -> bool:
        self._pending.append(event)
        if not self._running:
            self._run()
        return True

    def _run(self) -> None:
        self._running = True
        try:
            while self._pending:
                self._commands(self.sb.handle(self._pending.pop(0), self.now))
        finally:
            self._running = False

    def _commands(self, out: Any) -> None:
        for cmd in out.commands:
            if isinstance(cmd, PbxCommand):
                self.router.execute(cmd)
        self.router.end_step()

    def event(self, event: Event) -> None:
        self._submit(event)

    def login(self, *agents: str) -> None:
        for agent in agents:
            self.event(AgentLogin(agent))
            self.event(AgentReady(agent))
            self.now += 0.01  # login order is idle order

    def advance(self, to: float) -> None:
        while (due := self.sb.next_deadline()) is not None and due <= to:
            self.now = max(self.now, due)
            self._running = True
            try:
                self._commands(self.sb.on_timer(self.now))
            finally:
                self._running = False
            self._run()
        self.now = to

    def frame(self, **message: Any) -> None:
        self.router.receive(json.dumps(message).encode())

    def route(self, call_id: str = "c1", *, dialed: str = "100", caller: str = "4420",
              tindex: int = 1, tlabel: int = 10, headers: str = "X-CTI-Account: acct-1") -> None:
        self.frame(event="route", call_id=call_id, cseq="1", tindex=tindex, tlabel=tlabel,
                   **{"from": f"sip:{caller}@192.0.2.50", "ruri": f"sip:{dialed}@kam.test",
                      "headers": f"Via: SIP/2.0/UDP 192.0.2.50\r\n{headers}"})

    def take(self) -> list[dict[str, Any]]:
        out, self.actions = self.actions, []
        return out

    def state(self, agent: str) -> AgentState:
        return self.sb.agents[agent].state


def extra_headers(action: dict[str, Any]) -> dict[str, str]:
    (route,) = action["rtjson"]["routes"]
    lines = route["headers"]["extra"].split("\r\n")
    return dict(line.split(": ", 1) for line in lines if line)


def test_a_call_goes_to_an_agent_and_follows_its_dialog() -> None:
    h = Harness()
    h.login("a1", "a2")
    h.route("c1", tindex=7, tlabel=70)
    (action,) = h.take()
    assert action["action"] == "route"
    assert (action["tindex"], action["tlabel"], action["agent"]) == (7, 70, "a1")
    (route,) = action["rtjson"]["routes"]
    assert route["uri"] == "sip:1001@10.0.0.1"
    # Kamailio ends an unanswered ring a second before the switchboard would.
    assert (route["fr_timer"], route["fr_inv_timer"]) == (5000, 9000)
    headers = extra_headers(action)
    assert headers["X-CTI-Call-Id"] == "c1"
    assert headers["X-CTI-Queue"] == "sales"
    assert json.loads(headers["X-CTI-Data"]) == {"account": "acct-1"}
    assert h.state("a1") is AgentState.RINGING
    h.frame(event="answered", call_id="c1", agent="a1")
    assert h.state("a1") is AgentState.ON_CALL
    # The agent stays busy for the whole call: the next caller goes to a2.
    h.route("c2", tindex=8, tlabel=80)
    assert h.take()[0]["agent"] == "a2"
    h.now = 30.0
    h.frame(event="ended", call_id="c1", agent="a1")
    assert h.state("a1") is AgentState.WRAP_UP
    record = h.sb.agents["a1"].statistics(h.now)
    assert record.talk_s == pytest.approx(30.0 - 0.02, abs=0.05)
    stats = h.router.statistics()
    assert (stats.routed, stats.offered, stats.answered, stats.ended) == (2, 2, 1, 1)
    assert h.router.active_calls == 1
    assert h.take() == []


def test_a_waiting_caller_gets_182_with_the_position_then_the_next_free_agent() -> None:
    h = Harness()
    h.route("c1", tindex=1, tlabel=10)
    h.route("c2", tindex=2, tlabel=20)
    assert h.take() == [
        {"action": "queued", "tindex": 1, "tlabel": 10, "call_id": "c1",
         "reason": "Queued position 1 expected wait 30s"},
        {"action": "queued", "tindex": 2, "tlabel": 20, "call_id": "c2",
         "reason": "Queued position 2 expected wait 60s"}]
    h.login("a1")
    (action,) = h.take()
    assert (action["action"], action["call_id"], action["tindex"]) == ("route", "c1", 1)
    assert h.router.statistics().queued == 2


def test_a_call_offered_at_once_gets_no_182() -> None:
    h = Harness()
    h.login("a1")
    h.route("c1")
    assert [a["action"] for a in h.take()] == ["route"]


def test_a_failed_branch_is_a_leg_failure_and_the_next_agent_gets_the_call() -> None:
    h = Harness()
    h.login("a1", "a2")
    h.route("c1", tindex=1, tlabel=10)
    assert h.take()[0]["agent"] == "a1"
    h.frame(event="failed", call_id="c1", agent="a1", code=480, replied=True, tindex=1,
            tlabel=11)
    (action,) = h.take()
    assert (action["agent"], action["tindex"], action["tlabel"]) == ("a2", 1, 11)
    a1 = h.sb.agents["a1"]
    assert a1.state is AgentState.NOT_READY
    assert a1.missed == 1
    assert h.router.statistics().branch_failures == 1


@pytest.mark.parametrize(("code", "replied", "cause"), [
    (408, True, LegFailure.NO_ANSWER), (480, True, LegFailure.NO_ANSWER),
    (486, True, LegFailure.BUSY), (600, True, LegFailure.BUSY),
    (603, True, LegFailure.REJECTED), (403, True, LegFailure.REJECTED),
    (404, True, LegFailure.UNREACHABLE), (503, True, LegFailure.UNREACHABLE),
    (408, False, LegFailure.UNREACHABLE), (0, False, LegFailure.UNREACHABLE),
    (499, True, LegFailure.REJECTED),
])
def test_failure_statuses_mean_what_freeswitch_gives_them(code: int, replied: bool,
                                                         cause: LegFailure) -> None:
    assert leg_failure(code, replied=replied) is cause


def test_the_acd_ring_timeout_cancels_the_branch_and_waits_for_kamailio_to_hand_back() -> None:
    h = Harness()
    h.login("a1", "a2")
    h.route("c1", tindex=1, tlabel=10)
    assert h.take()[0]["agent"] == "a1"
    h.advance(10.5)  # the switchboard's ring timeout (Kamailio's timer did not fire)
    # Kamailio is told to cancel; the switchboard chose a2 already, but the transaction is
    # not Kamailio's to continue until the branch has failed.
    assert h.take() == [{"action": "cancel", "call_id": "c1", "cseq": "1"}]
    assert h.state("a2") is AgentState.RESERVED
    h.frame(event="failed", call_id="c1", agent="a1", code=487, replied=True, tindex=1,
            tlabel=12)
    (action,) = h.take()
    assert (action["agent"], action["tlabel"]) == ("a2", 12)
    assert h.sb.agents["a1"].missed == 1  # one miss, not two
    assert h.router.statistics().offers_cancelled == 1


def test_an_answer_that_crossed_the_cancel_ends_the_call_in_the_switchboard() -> None:
    h = Harness()
    h.login("a1", "a2")
    h.route("c1")
    h.advance(10.5)
    h.take()
    h.frame(event="answered", call_id="c1", agent="a1")
    assert h.router.statistics().late_answers == 1
    assert "c1" not in h.sb.calls
    assert h.state("a2") is AgentState.READY  # the offer to a2 was withdrawn
    h.frame(event="ended", call_id="c1", agent="a1")
    assert h.take() == []
    assert h.router.active_calls == 0


@pytest.mark.parametrize(("dialed", "caller", "status"), [
    ("999", "4420", 480),  # no queue for the number
    ("200", "4420", 486),  # full
    ("100", "666", 603),  # blacklisted
])
def test_refusals_get_the_status_configured_for_the_cause(dialed: str, caller: str,
                                                          status: int) -> None:
    h = Harness()
    h.route("c1", dialed=dialed, caller=caller, tindex=3, tlabel=30)
    (action,) = h.take()
    assert action["action"] == "reply"
    assert (action["code"], action["tindex"], action["tlabel"]) == (status, 3, 30)
    assert h.router.active_calls == 0


def test_a_configured_status_wins() -> None:
    h = Harness(EvapiOptions(responses={"no-route": 404}))
    h.route("c1", dialed="999")
    assert h.take()[0]["code"] == 404


def test_a_caller_who_cancels_releases_the_agent_ringing() -> None:
    h = Harness()
    h.login("a1")
    h.route("c1")
    h.take()
    h.frame(event="cancelled", call_id="c1")
    assert h.state("a1") is AgentState.READY
    assert h.sb.queues["sales"].abandoned == 1
    assert h.take() == []  # Kamailio cancels the branch itself
    assert h.router.statistics().cancelled == 1


def test_a_call_kamailio_gave_up_on_ends_as_abandoned() -> None:
    # ACD_WAIT_MS ran out (Kamailio answered 480 itself), then dialog:failed.
    h = Harness()
    h.route("c1")
    h.take()
    h.frame(event="ended", call_id="c1", reason="failed")
    assert not h.sb.calls
    assert h.sb.queues["sales"].abandoned == 1
    assert h.router.active_calls == 0


def test_a_hang_up_while_ringing_cancels_then_answers_the_caller() -> None:
    # (The switchboard of today withdraws the offer first; the router must not depend on it.)
    h = Harness()
    h.login("a1")
    h.route("c1")
    h.take()
    h.router.execute(HangUp("c1", "closed"))
    assert h.take() == [{"action": "cancel", "call_id": "c1", "cseq": "1"}]
    h.frame(event="failed", call_id="c1", agent="a1", code=487, tindex=1, tlabel=13)
    (action,) = h.take()
    assert (action["action"], action["code"], action["tlabel"]) == ("reply", 480, 13)


def test_malformed_and_stale_frames_are_counted_and_change_nothing() -> None:
    h = Harness()
    for payload in (b"not json", b"[1]", b'{"event":"nope"}', b'{"event":"route"}'):
        h.router.receive(payload)
    h.frame(event="answered", call_id="unknown", agent="a1")
    stats = h.router.statistics()
    assert (stats.malformed, stats.stale) == (4, 1)
    assert h.take() == []


def test_a_second_invite_for_a_call_held_is_refused() -> None:
    h = Harness()
    h.route("c1", tindex=1)
    h.route("c1", tindex=2, tlabel=20)
    assert h.take()[-1] == {"action": "reply", "tindex": 2, "tlabel": 20, "call_id": "c1",
                            "code": 482, "reason": "Loop Detected"}


def test_a_lost_link_ends_every_call() -> None:
    h = Harness()
    h.login("a1")
    h.route("c1")
    h.route("c2")
    h.router.link_lost()
    assert not h.sb.calls
    assert h.state("a1") is AgentState.READY
    assert h.router.active_calls == 0


def test_kamailio_settings_and_one_pbx_per_config() -> None:
    settings = parse_settings(CONFIG + '[kamailio]\nport = 9448\nresponses = {closed = 503}\n',
                              source="site.toml")
    link = pbx_link(settings)
    from adapters.kamailio.adapter import KamailioAdapter

    assert isinstance(link, KamailioAdapter)
    assert link.link.port == 9448
    assert link.router.options.responses["closed"] == 503
    with pytest.raises(ConfigFileError, match=r"kamailio.*one PBX"):
        parse_settings(CONFIG + "[sip]\n[kamailio]\n", source="site.toml")
    with pytest.raises(ConfigFileError, match="300-699"):
        parse_settings(CONFIG + "[kamailio]\nresponses = {closed = 200}\n", source="site.toml")


# -- the protocol holds whatever Kamailio sends ------------------------------------------------

CALLS = ["c1", "c2", "c3"]
FRAMES = st.one_of(
    st.builds(lambda c, d: ("route", c, d), st.sampled_from(CALLS),
              st.sampled_from(["100", "200", "999"])),
    st.builds(lambda c, code: ("failed", c, code), st.sampled_from(CALLS),
              st.sampled_from([408, 480, 486, 487, 603, 0])),
    st.builds(lambda c: ("answered", c, None), st.sampled_from(CALLS)),
    st.builds(lambda c: ("ended", c, None), st.sampled_from(CALLS)),
    st.builds(lambda c: ("cancelled", c, None), st.sampled_from(CALLS)),
    st.builds(lambda t: ("advance", "", t), st.floats(0.1, 12)),
    st.just(("garbage", "", None)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(FRAMES, max_size=30))
def test_one_decision_per_suspension_whatever_kamailio_sends(frames: list[Any]) -> None:
    """Whatever Kamailio reports in whatever order, the router sends at most one decision
    (route or reply) per suspended transaction it was handed, a 182 only while one is open,
    never raises, and leaves the switchboard consistent."""
    h = Harness()
    h.login("a1", "a2")
    handle = 0
    open_handle: dict[str, int | None] = {}

    def check() -> None:
        for action in h.take():
            call = action["call_id"]
            if action["action"] == "cancel":
                continue
            assert open_handle.get(call) == action["tlabel"], action
            if action["action"] in ("route", "reply"):
                open_handle[call] = None

    for kind, call_id, arg in frames:
        if kind == "advance":
            h.advance(h.now + arg)
        elif kind == "garbage":
            h.router.receive(b"\x00{")
        elif kind in ("route", "failed"):
            handle += 1
            if kind == "route" and call_id in h.router._calls:
                # Kamailio would have a new transaction; the 482 goes to it, not this call.
                h.route(call_id, dialed=arg, tlabel=handle)
                assert h.take()[-1]["code"] == 482
                continue
            if kind == "route":
                h.route(call_id, dialed=arg, tlabel=handle)
            else:
                h.frame(event="failed", call_id=call_id, agent="a1", code=arg, tindex=1,
                        tlabel=handle)
            open_handle[call_id] = handle
        else:
            h.frame(event=kind, call_id=call_id, agent="a1")
            if kind in ("ended", "cancelled"):
                open_handle.pop(call_id, None)
        check()
    for agent in ("a1", "a2"):
        assert h.sb.agents[agent].state is not AgentState.LOGGED_OUT
    busy = [a.call_id for a in h.sb.agents.values() if a.call_id is not None]
    assert len(busy) == len(set(busy))
    h.router.link_lost()
    assert not h.sb.calls
