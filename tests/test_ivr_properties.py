"""Hypothesis over random callers: whatever digits, silences, prompt ends, lookup answers and
stray inputs arrive, a session never raises, never asks more often than a node's retries allow,
always has a deadline while it waits, and reaches a terminal action within a bounded number of
inputs (at most one per batch of actions, always the last)."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import ivr
from ivr import CollectDigits, Enqueue, HangUp, State, parse_flow
from ivr.nodes import CollectNode, MenuNode

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ivr.load_flow(ROOT / "ivr" / "examples" / "water-utility.toml")

# Small limits, so the hypothesis runs reach the step limit too.
SMALL = parse_flow("""
[flow]
start = "hello"
max_steps = 8
on_step_limit = "bye"

[nodes.hello]
type = "play"
prompt = "hello"
say = [{ value = "${caller}", as = "digits" }]
next = "menu"

[nodes.menu]
type = "menu"
prompt = "menu"
choices = { "1" = "account", "12" = "menu", "2" = "vm", "3" = "out", "#" = "hello" }
retries = 1
timeout_s = 2
default = "q"

[nodes.account]
type = "collect"
prompt = "account"
variable = "account"
min_digits = 2
max_digits = 4
pattern = "[1-9][0-9]*"
retries = 2
next = "find"

[nodes.find]
type = "lookup"
source = "crm"
key = "account"
next = "check"
not_found = "menu"
fallback = "q"

[nodes.check]
type = "branch"
cases = [
  { var = "crm.vip", equals = true, next = "vip" },
  { var = "crm.owed", gt = 0, next = "hours" },
]
default = "bye"

[nodes.vip]
type = "set"
priority = 5
skills = [{ after = 0, require = { sales = 8 } }, { after = 30, require = { sales = 4 } }]
data = { tier = "vip", who = "${crm.name}" }
next = "hours"

[nodes.hours]
type = "hours"
queue = "sales"
open = "q"
closed = "vm"
holiday = "cb"

[nodes.q]
type = "queue"
queue = "sales"
max_wait_s = 30
on_max_wait = "menu"

[nodes.vm]
type = "voicemail"
prompt = "vm"

[nodes.cb]
type = "callback"
queue = "sales"

[nodes.out]
type = "transfer"
number = "+100"

[nodes.bye]
type = "hangup"
""")

# A caller who keeps choosing goes round: only the step limit ends the walk.
LOOPS = parse_flow("""
[flow]
start = "hello"
max_steps = 5

[nodes.hello]
type = "play"
prompt = "hello"
next = "menu"

[nodes.menu]
type = "menu"
prompt = "menu"
choices = { "1" = "menu", "2" = "hello", "3" = "bye" }
retries = 0

[nodes.bye]
type = "hangup"
""")

FLOWS = (EXAMPLE, SMALL, LOOPS)
RECORDS: list[dict[str, object] | None] = [
    None, {}, {"status": "open", "balance": 12.5, "due_date": "2026-01-01"},
    {"status": "overdue", "balance": "x"}, {"vip": True, "name": "Ann"}, {"owed": 3},
    {"balance": -1}, {"vip": "true", "owed": "0"},
]
DIGITS = "0123456789*#x"


def _bound(flow: ivr.Flow) -> int:
    """Relevant inputs one walk can take at most: node entries (twice max_steps with a second
    chance) times the inputs one entry can take (attempts x (digits + prompt end + timeout))."""
    worst = 1
    for node in flow.nodes.values():
        if isinstance(node, (MenuNode, CollectNode)):
            worst = max(worst, (node.retries + 1) * (node.max_digits + 3))
    return 2 * flow.header.max_steps * worst + 1


def _digits(rnd: random.Random) -> str:
    return "".join(rnd.choice(DIGITS) for _ in range(rnd.choice((0, 1, 1, 1, 2, 3, 8, 9))))


class Driver:
    def __init__(self, flow: ivr.Flow, rnd: random.Random, hours: str) -> None:
        self.flow = flow
        self.rnd = rnd
        self.now = 0.0
        self.walks = 0
        self.since_terminal = 0
        self.walk_start = 0
        self.visit_attempts: dict[str, int] = {}
        self.bound = _bound(flow)
        self.session, actions = flow.start(
            "c", {"caller": rnd.choice(("+15550001", ""))}, 0.0,
            hours=lambda q, now: hours)  # type: ignore[arg-type, return-value]
        self.check(actions, relevant=False)

    def check(self, actions: list[ivr.Action], *, relevant: bool) -> None:
        session = self.session
        terminals = [i for i, a in enumerate(actions) if isinstance(a, ivr.TERMINAL)]
        assert len(terminals) <= 1
        assert (not terminals or terminals[0] == len(actions) - 1)
        for action in actions:
            if isinstance(action, CollectDigits):
                node = self.flow.nodes[action.node]
                assert isinstance(node, (MenuNode, CollectNode))
                assert 1 <= action.attempt <= node.retries + 1
                if action.attempt > 1:  # one more try at the same visit
                    assert self.visit_attempts.get(action.node) == action.attempt - 1
                self.visit_attempts[action.node] = action.attempt
        limit = self.flow.header.max_steps * (1 if self.flow.header.on_step_limit is None else 2)
        assert len(session.path) - self.walk_start <= limit
        if terminals:
            self.walk_start = len(session.path)
            last = actions[-1]
            self.walks += 1
            self.since_terminal = 0
            resumable = isinstance(last, Enqueue) and last.max_wait_s is not None
            assert session.state is (State.QUEUED if resumable else State.DONE)
            if isinstance(last, HangUp):
                assert last.cause in {"normal", "ivr-no-input", "ivr-invalid-input",
                                      "ivr-step-limit", "ivr-no-callback-number",
                                      "ivr-no-transfer-number"}
        elif relevant:
            self.since_terminal += 1
            assert self.since_terminal <= self.bound, "no terminal action within the bound"
        waiting = session.state in (State.PLAYING, State.COLLECTING, State.LOOKING_UP)
        assert (session.next_deadline() is not None) == waiting
        if session.done:
            assert session.outcome is not None
            assert session.ended_at is not None

    def typed(self) -> str:
        """Random keys, or often what the node wants (so menus are walked, and loops taken)."""
        node = self.flow.nodes[self.session.node]
        if self.rnd.random() < 0.5:
            if isinstance(node, MenuNode):
                return self.rnd.choice(list(node.choices))
            if isinstance(node, CollectNode):
                size = self.rnd.randint(node.min_digits, node.max_digits)
                return "".join(self.rnd.choice("123456789") for _ in range(size)) + "#"
        return _digits(self.rnd)

    def stray(self) -> None:
        """An input the current state does not expect (or an early timer)."""
        s = self.session
        choice = self.rnd.randrange(6)
        before = s.state
        if choice == 0:
            out = s.on_digits(_digits(self.rnd), self.now)
        elif choice == 1:
            deadline = s.next_deadline()
            out = s.on_timeout(self.now if deadline is None else deadline - 0.5)
        elif choice == 2:
            out = s.on_lookup_result(self.rnd.choice(RECORDS), self.now, request=-1)
        elif choice == 3:
            out = s.on_lookup_failed(self.now, request=-1)
        elif choice == 4:
            out = s.on_playback_done(self.now) if before is not State.PLAYING else []
        else:
            out = s.on_max_wait(self.now) if before is not State.QUEUED else []
        if before is not State.COLLECTING or choice not in (0, 4):
            assert out == []
            assert s.state is before
        self.check(out, relevant=False)

    def step(self) -> bool:
        """One input the session is waiting for; False when the call is over."""
        s = self.session
        self.now += self.rnd.choice((0.0, 0.5, 1.0, 4.0))
        if self.rnd.random() < 0.15:
            self.stray()
        if s.state is State.DONE:
            return False
        if s.state is State.QUEUED:
            if self.walks >= 4 or self.rnd.random() < 0.2:
                end = s.on_answered if self.rnd.random() < 0.5 else s.on_hangup
                assert end(self.now) == []
                assert s.done
                return False
            out = s.on_max_wait(self.now)
        elif self.rnd.random() < 0.01:
            out = s.on_hangup(self.now)
        elif s.state is State.PLAYING:
            if self.rnd.random() < 0.2:
                self.now = s.next_deadline() or self.now
                out = s.on_timeout(self.now)
            else:
                out = s.on_playback_done(self.now)
        elif s.state is State.LOOKING_UP:
            pick = self.rnd.randrange(4)
            if pick == 0:
                self.now = s.next_deadline() or self.now
                out = s.on_timeout(self.now)
            elif pick == 1:
                out = s.on_lookup_failed(self.now)
            else:
                out = s.on_lookup_result(self.rnd.choice(RECORDS), self.now)
        else:
            pick = self.rnd.randrange(5)
            if pick == 0 or (pick == 1 and not s.prompt_playing):
                self.now = max(self.now, s.next_deadline() or self.now)
                out = s.on_timeout(self.now)
            elif pick == 1:
                out = s.on_playback_done(self.now)
            else:
                out = s.on_digits(self.typed(), self.now)
        self.check(out, relevant=True)
        return not s.done


@settings(max_examples=300, deadline=None)
@given(flow=st.sampled_from(FLOWS), seed=st.integers(0, 2**32 - 1),
       hours=st.sampled_from(("open", "closed", "holiday")))
def test_random_callers(flow: ivr.Flow, seed: int, hours: str) -> None:
    driver = Driver(flow, random.Random(seed), hours)
    for _ in range(20 * driver.bound):
        if not driver.step():
            break
    assert driver.session.done
    assert driver.session.path[0] == flow.header.start


@settings(max_examples=100, deadline=None)
@given(flow=st.sampled_from(FLOWS),
       inputs=st.lists(st.tuples(st.integers(0, 7), st.text(DIGITS, max_size=6),
                                 st.floats(-5, 200, allow_nan=False)), max_size=60))
def test_any_input_sequence_never_raises(
    flow: ivr.Flow, inputs: list[tuple[int, str, float]]
) -> None:
    session, _ = flow.start("c", {"caller": "+1"}, 0.0)
    now = 0.0
    for kind, digits, dt in inputs:
        now += dt  # the clock may even go back: nothing breaks
        [session.on_digits, lambda d, t: session.on_playback_done(t),
         lambda d, t: session.on_timeout(t), lambda d, t: session.on_lookup_result(None, t),
         lambda d, t: session.on_lookup_result({"status": d}, t),
         lambda d, t: session.on_lookup_failed(t), lambda d, t: session.on_max_wait(t),
         lambda d, t: session.on_answered(t)][kind](digits, now)
    if not session.done:
        assert session.state is State.QUEUED or session.next_deadline() is not None
