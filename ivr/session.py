"""One call's walk through a flow: inputs in, actions out, time passed in (sans-IO).

Theory of operation. A session is in one of five states: ``PLAYING`` a prompt, ``COLLECTING``
digits (for a menu or a ``collect`` node), ``LOOKING_UP`` data through the shell, ``QUEUED`` (an
``Enqueue`` with ``max_wait_s`` was sent and the flow resumes when that wait is over) and
``DONE``. ``TABLE`` maps each ``(State, Input)`` a session handles to its handler; the state a
handler leaves depends on the node the flow goes to, so the table names handlers rather than
next states. Entering a node that does not wait (``branch``, ``set``, ``hours``) goes straight
on to the next one; a node that waits sets the state and, while a timer runs, ``deadline``.

Inputs the table does not list are ignored and counted (``ignored``), not raised: they are races
the PBX and the shell cannot avoid (digits typed over a plain prompt, a lookup answer after its
timeout, a timer fired early), not misuse. So a session never raises on any sequence of inputs.

Termination. Every wait has a deadline (a prompt whose end is never reported gives up after
``prompt_timeout_s``); each wait ends in a node entry or one more attempt, and attempts are
bounded by the node's ``retries``; the checks at load refuse loops without caller input; and
``max_steps`` node entries per walk (then ``on_step_limit``, once, then a hang-up) bound even a
caller who keeps choosing. So every walk reaches a terminal action in a bounded number of inputs.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from ivr.actions import (
    Action,
    Announcements,
    Callback,
    CollectDigits,
    Enqueue,
    HangUp,
    Lookup,
    Play,
    Say,
    SkillStage,
    Transfer,
    Voicemail,
)
from ivr.nodes import (
    BranchNode,
    CallbackNode,
    CollectNode,
    HangupNode,
    HoursNode,
    LookupNode,
    MenuNode,
    PlayNode,
    QueueNode,
    SetNode,
    Skills,
    TransferNode,
    VoicemailNode,
)
from ivr.variables import lookup, passes, render

if TYPE_CHECKING:
    from ivr.flow import Flow

__all__ = ["TABLE", "HoursFn", "Input", "Session", "State"]

#: ``hours(queue, now)``: the queue's calendar state at ``now`` (the shell builds it from the
#: queues' business hours and holidays, and any supervisor override).
HoursFn = Callable[[str, float], Literal["open", "closed", "holiday"]]

_DTMF = frozenset("0123456789*#")


class State(enum.Enum):
    PLAYING = "playing"
    COLLECTING = "collecting"
    LOOKING_UP = "looking-up"
    QUEUED = "queued"
    DONE = "done"


class Input(enum.Enum):
    DIGITS = "digits"
    PLAYBACK_DONE = "playback-done"
    TIMEOUT = "timeout"
    LOOKUP_RESULT = "lookup-result"
    LOOKUP_FAILED = "lookup-failed"
    MAX_WAIT = "max-wait"
    ANSWERED = "answered"
    HANGUP = "hangup"


def _always_open(queue: str, now: float) -> Literal["open"]:
    return "open"


def _stages(skills: Skills | None) -> tuple[SkillStage, ...] | None:
    if skills is None:
        return None
    if isinstance(skills, dict):
        return (SkillStage(0.0, MappingProxyType(dict(skills))),)
    return tuple(SkillStage(s.after, MappingProxyType(dict(s.require))) for s in skills)


class Session:
    """A call in a flow. Build it with ``Flow.start``; then feed it what happens."""

    __slots__ = (
        "_buffer", "_hours", "_limit_used", "_prompted", "_request", "_resume", "attempt",
        "call_id", "data", "deadline", "ended_at", "flow", "ignored", "node", "outcome",
        "path", "priority", "queue", "skills", "started_at", "state", "steps", "trace",
        "variables",
    )

    def __init__(
        self, flow: Flow, call_id: str, variables: Mapping[str, object], *,
        hours: HoursFn | None = None, trace: bool = False,
    ) -> None:
        self.flow = flow
        self.call_id = call_id
        #: What the driver passed in (``caller``, ``dialed``, ...): read, never attached.
        self.variables: Mapping[str, object] = dict(variables)
        #: What the flow produced (digits, lookup results, ``set`` data): attached to the call.
        self.data: dict[str, object] = {}
        #: Node ids in the order entered.
        self.path: list[str] = []
        #: (node, what happened) notes for ``cti ivr try``; None unless asked for.
        self.trace: list[tuple[str, str]] | None = [] if trace else None
        self.state = State.DONE
        self.node = ""
        self.deadline: float | None = None
        self.steps = 0
        self.attempt = 0
        self.queue: str | None = None
        self.priority: float | None = None
        self.skills: tuple[SkillStage, ...] | None = None
        #: How the call left the flow: queued, voicemail, callback, transfer, hangup,
        #: answered, abandoned; None while in the flow.
        self.outcome: str | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.ignored = 0
        self._hours: HoursFn = hours or _always_open
        self._buffer = ""
        self._prompted = False
        self._request = 0
        self._resume: str | None = None
        self._limit_used = False

    # -- the driver's entry points -----------------------------------------------------------

    def begin(self, now: float) -> list[Action]:
        """The first actions (``Flow.start`` calls this)."""
        if self.started_at is not None:
            self.ignored += 1
            return []
        self.started_at = now
        return self._enter(self.flow.header.start, now)

    def next_deadline(self) -> float | None:
        """When to call ``on_timeout`` next; None while nothing is timed."""
        return self.deadline

    @property
    def done(self) -> bool:
        return self.state is State.DONE

    @property
    def prompt_playing(self) -> bool:
        """Collecting digits while the prompt has not ended yet (no-input timer not started)."""
        return self.state is State.COLLECTING and not self._prompted

    def on_digits(self, digits: str, now: float) -> list[Action]:
        """DTMF from the caller, one digit or several; ``""`` is the PBX saying nothing was
        typed before its own timeout."""
        return self._fire(Input.DIGITS, now, digits)

    def on_playback_done(self, now: float) -> list[Action]:
        return self._fire(Input.PLAYBACK_DONE, now, None)

    def on_timeout(self, now: float) -> list[Action]:
        """The deadline passed (calls before it are ignored)."""
        if self.deadline is None or now < self.deadline:
            self.ignored += 1
            return []
        return self._fire(Input.TIMEOUT, now, None)

    def on_lookup_result(
        self, result: Mapping[str, object] | None, now: float, *, request: int | None = None
    ) -> list[Action]:
        """The shell's answer to ``Lookup``: a record, or None when nothing matched. With
        ``request``, an answer to an older lookup is ignored."""
        if request is not None and request != self._request:
            self.ignored += 1
            return []
        return self._fire(Input.LOOKUP_RESULT, now, result)

    def on_lookup_failed(self, now: float, *, request: int | None = None) -> list[Action]:
        """The data source could not answer (down, error): the lookup's ``fallback``."""
        if request is not None and request != self._request:
            self.ignored += 1
            return []
        return self._fire(Input.LOOKUP_FAILED, now, None)

    def on_max_wait(self, now: float) -> list[Action]:
        """The call waited the ``max_wait_s`` of its ``Enqueue``: the flow goes on from the
        queue node's ``on_max_wait`` (the caller still holds their place in line)."""
        return self._fire(Input.MAX_WAIT, now, None)

    def on_answered(self, now: float) -> list[Action]:
        """An agent took the queued call: the session ends."""
        return self._fire(Input.ANSWERED, now, None)

    def on_hangup(self, now: float) -> list[Action]:
        """The caller hung up while in the flow (or in line): the session ends."""
        return self._fire(Input.HANGUP, now, None)

    def attached(self) -> Mapping[str, object]:
        """The data the call carries to the agent: what the flow collected, and its path."""
        out = dict(self.data)
        out["ivr_flow"] = self.flow.name
        out["ivr_path"] = tuple(self.path)
        return MappingProxyType(out)

    # -- machinery ---------------------------------------------------------------------------

    def _fire(self, inp: Input, now: float, arg: object) -> list[Action]:
        handler = TABLE.get((self.state, inp))
        if handler is None:
            self.ignored += 1
            return []
        return handler(self, now, arg)

    def _note(self, note: str) -> None:
        if self.trace is not None:
            self.trace.append((self.node, note))

    def _finish(self, outcome: str, now: float, action: Action | None) -> list[Action]:
        self.state = State.DONE
        self.deadline = None
        self.outcome = outcome
        self.ended_at = now
        return [] if action is None else [action]

    def _render(self, template: str) -> str:
        return render(template, self.data, self.variables)

    def _enter(self, ident: str, now: float) -> list[Action]:
        """Go to node ``ident`` and on through nodes that do not wait, until one does."""
        header = self.flow.header
        out: list[Action] = []
        while True:
            self.steps += 1
            if self.steps > header.max_steps:
                if header.on_step_limit is not None and not self._limit_used:
                    self._limit_used = True
                    self.steps = 1
                    self._note(f"step limit {header.max_steps} reached -> {header.on_step_limit}")
                    ident = header.on_step_limit
                else:
                    self._note(f"step limit {header.max_steps} reached: hanging up")
                    return out + self._finish("hangup", now, HangUp(
                        self.call_id, "ivr-step-limit", data=self.attached()))
            self.node = ident
            self.path.append(ident)
            node = self.flow.nodes[ident]
            self.deadline = None
            if isinstance(node, PlayNode):
                self.state = State.PLAYING
                self.deadline = now + header.prompt_timeout_s
                say = tuple(Say(self._render(s.value), s.kind) for s in node.say)
                out.append(Play(self.call_id, node.prompt, say))
                return out
            if isinstance(node, (MenuNode, CollectNode)):
                self.attempt = 0
                out.append(self._ask(node, None, now))
                return out
            if isinstance(node, LookupNode):
                key = lookup(node.key, self.data, self.variables)
                if key is None or key == "":
                    self._note(f"no value for key {node.key!r}: not asked")
                    ident = node.not_found or node.fallback
                    continue
                self._request += 1
                self.state = State.LOOKING_UP
                self.deadline = now + node.timeout_s
                out.append(Lookup(self.call_id, self._request, node.source, str(key),
                                  node.timeout_s))
                return out
            if isinstance(node, BranchNode):
                ident = self._branch(node)
                continue
            if isinstance(node, SetNode):
                ident = self._set(node)
                continue
            if isinstance(node, HoursNode):
                status = self._hours(node.queue, now)
                if status == "open":
                    ident = node.open
                elif status == "holiday" and node.holiday is not None:
                    ident = node.holiday
                else:
                    ident = node.closed
                self._note(f"{node.queue} is {status} -> {ident}")
                continue
            return out + self._terminal(node, now)

    def _terminal(self, node: object, now: float) -> list[Action]:
        if isinstance(node, QueueNode):
            return self._enqueue(node, now)
        if isinstance(node, VoicemailNode):
            queue = node.queue or self.queue
            return self._finish("voicemail", now, Voicemail(
                self.call_id, node.prompt, node.max_s, queue, self.attached()))
        if isinstance(node, CallbackNode):
            number = self._render(node.number)
            if not number:
                self._note("no number to call back: hanging up")
                return self._finish("hangup", now, HangUp(
                    self.call_id, "ivr-no-callback-number", data=self.attached()))
            return self._finish("callback", now, Callback(
                self.call_id, node.queue or self.queue, number, self.priority, self.skills,
                self.attached(), node.prompt))
        if isinstance(node, TransferNode):
            number = self._render(node.number)
            if not number:
                self._note("no number to transfer to: hanging up")
                return self._finish("hangup", now, HangUp(
                    self.call_id, "ivr-no-transfer-number", data=self.attached()))
            return self._finish("transfer", now, Transfer(self.call_id, number, self.attached()))
        assert isinstance(node, HangupNode)
        return self._finish("hangup", now, HangUp(
            self.call_id, node.cause, node.prompt, self.attached()))

    def _enqueue(self, node: QueueNode, now: float) -> list[Action]:
        if node.queue is not None:
            self.queue = node.queue
        if node.priority is not None:
            self.priority = node.priority
        if node.skills is not None:
            self.skills = _stages(node.skills)
        announcements = None
        if node.announce or node.announce_prompt:
            announcements = Announcements(
                node.announce_every_s, "position" in node.announce,
                "expected-wait" in node.announce, node.announce_prompt)
        action = Enqueue(self.call_id, self.queue, self.priority, self.skills, self.attached(),
                         announcements, node.max_wait_s, node.music)
        if node.on_max_wait is None:
            return self._finish("queued", now, action)
        self.state = State.QUEUED
        self.outcome = "queued"
        self._resume = node.on_max_wait
        self.steps = 0  # a new walk: the time in line was the caller's to spend
        return [action]

    def _branch(self, node: BranchNode) -> str:
        for i, case in enumerate(node.cases):
            value = lookup(case.var, self.data, self.variables)
            if passes(case, value):
                self._note(f"cases[{i}] ({case.var} = {value!r}) -> {case.next}")
                return case.next
        self._note(f"no case matched -> default {node.default}")
        return node.default

    def _set(self, node: SetNode) -> str:
        if node.queue is not None:
            self.queue = node.queue
        if node.priority is not None:
            self.priority = node.priority
        if node.skills is not None:
            self.skills = _stages(node.skills)
        for key, value in node.data.items():
            self.data[key] = self._render(value) if isinstance(value, str) else value
        return node.next

    # -- digits ------------------------------------------------------------------------------

    def _ask(self, node: MenuNode | CollectNode, retry: str | None, now: float) -> Action:
        self.attempt += 1
        self.state = State.COLLECTING
        self._buffer = ""
        self._prompted = False
        self.deadline = now + self.flow.header.prompt_timeout_s
        prompts = (node.prompt,) if retry is None else (retry, node.prompt)
        if isinstance(node, MenuNode):
            return CollectDigits(self.call_id, self.node, self.attempt, prompts, 1,
                                 node.max_digits, "", node.timeout_s, node.interdigit_s)
        return CollectDigits(self.call_id, self.node, self.attempt, prompts, node.min_digits,
                             node.max_digits, node.terminator, node.timeout_s, node.interdigit_s)

    def _input_node(self) -> MenuNode | CollectNode:
        node = self.flow.nodes[self.node]
        assert isinstance(node, (MenuNode, CollectNode))
        return node

    def _h_prompted(self, now: float, _: object) -> list[Action]:
        if not self._prompted:
            self._prompted = True
            if not self._buffer:
                self.deadline = now + self._input_node().timeout_s
        return []

    def _h_digits(self, now: float, arg: object) -> list[Action]:
        node = self._input_node()
        digits = arg if isinstance(arg, str) else ""
        if not digits:
            return self._retry(node, "timeout", now)
        for char in digits:
            if char not in _DTMF:
                continue
            if isinstance(node, MenuNode):
                self._buffer += char
                buffer = self._buffer
                longer = any(k != buffer and k.startswith(buffer) for k in node.choices)
                if buffer in node.choices and not longer:
                    return self._choose(node, now)
                if not longer:
                    return self._retry(node, "invalid", now)
            elif char == node.terminator:
                return self._collected(node, now)
            else:
                self._buffer += char
                if len(self._buffer) >= node.max_digits:
                    return self._collected(node, now)
        if self._buffer:  # typing over the prompt ends it; wait for the next digit
            self._prompted = True
            self.deadline = now + node.interdigit_s
        return []

    def _h_collect_timeout(self, now: float, _: object) -> list[Action]:
        node = self._input_node()
        if not self._prompted:  # the prompt's end was never reported: assume it ended
            return self._h_prompted(now, None)
        if not self._buffer:
            return self._retry(node, "timeout", now)
        if isinstance(node, MenuNode):
            if self._buffer in node.choices:
                return self._choose(node, now)
            return self._retry(node, "invalid", now)
        return self._collected(node, now)

    def _choose(self, node: MenuNode, now: float) -> list[Action]:
        target = node.choices[self._buffer]
        if node.variable is not None:
            self.data[node.variable] = self._buffer
        self._note(f"pressed {self._buffer} -> {target}")
        return self._enter(target, now)

    def _collected(self, node: CollectNode, now: float) -> list[Action]:
        value = self._buffer
        if len(value) < node.min_digits or (
            node.pattern is not None and re.fullmatch(node.pattern, value) is None
        ):
            return self._retry(node, "invalid", now)
        self.data[node.variable] = value
        self._note(f"{node.variable} = {value!r} -> {node.next}")
        return self._enter(node.next, now)

    def _retry(self, node: MenuNode | CollectNode, why: str, now: float) -> list[Action]:
        total = node.retries + 1
        typed = f" {self._buffer!r}" if why == "invalid" else ""
        if self.attempt < total:
            self._note(f"{'no input' if why == 'timeout' else 'invalid input'}{typed} "
                       f"(attempt {self.attempt} of {total}): asking again")
            prompt = node.invalid_prompt
            if why == "timeout" and node.timeout_prompt is not None:
                prompt = node.timeout_prompt
            return [self._ask(node, prompt, now)]
        target = node.default if isinstance(node, MenuNode) else node.on_failure
        if target is None:
            cause = "ivr-no-input" if why == "timeout" else "ivr-invalid-input"
            self._note(f"{why}{typed} on the last attempt: hanging up ({cause})")
            return self._finish("hangup", now, HangUp(self.call_id, cause, data=self.attached()))
        self._note(f"{why}{typed} on the last attempt -> {target}")
        return self._enter(target, now)

    # -- other handlers ----------------------------------------------------------------------

    def _h_played(self, now: float, _: object) -> list[Action]:
        node = self.flow.nodes[self.node]
        assert isinstance(node, PlayNode)
        return self._enter(node.next, now)

    def _h_lookup_result(self, now: float, arg: object) -> list[Action]:
        node = self.flow.nodes[self.node]
        assert isinstance(node, LookupNode)
        if not isinstance(arg, Mapping):
            target = node.not_found or node.fallback
            self._note(f"not found -> {target}")
            return self._enter(target, now)
        self.data[node.store] = MappingProxyType(dict(arg))
        self._note(f"found {dict(arg)!r} -> {node.next}")
        return self._enter(node.next, now)

    def _h_lookup_failed(self, now: float, arg: object) -> list[Action]:
        node = self.flow.nodes[self.node]
        assert isinstance(node, LookupNode)
        self._note(f"{'timed out' if arg is Input.TIMEOUT else 'failed'} -> {node.fallback}")
        return self._enter(node.fallback, now)

    def _h_lookup_timeout(self, now: float, _: object) -> list[Action]:
        return self._h_lookup_failed(now, Input.TIMEOUT)

    def _h_max_wait(self, now: float, _: object) -> list[Action]:
        target = self._resume
        assert target is not None
        self._resume = None
        self.outcome = None
        self._note(f"waited the longest -> {target}")
        return self._enter(target, now)

    def _h_answered(self, now: float, _: object) -> list[Action]:
        return self._finish("answered", now, None)

    def _h_hangup(self, now: float, _: object) -> list[Action]:
        self._note("caller hung up")
        return self._finish("abandoned", now, None)


_Handler = Callable[[Session, float, object], list[Action]]

#: (state, input) -> handler; any other pair is ignored and counted.
TABLE: dict[tuple[State, Input], _Handler] = {
    (State.PLAYING, Input.PLAYBACK_DONE): Session._h_played,
    (State.PLAYING, Input.TIMEOUT): Session._h_played,
    (State.COLLECTING, Input.PLAYBACK_DONE): Session._h_prompted,
    (State.COLLECTING, Input.DIGITS): Session._h_digits,
    (State.COLLECTING, Input.TIMEOUT): Session._h_collect_timeout,
    (State.LOOKING_UP, Input.LOOKUP_RESULT): Session._h_lookup_result,
    (State.LOOKING_UP, Input.LOOKUP_FAILED): Session._h_lookup_failed,
    (State.LOOKING_UP, Input.TIMEOUT): Session._h_lookup_timeout,
    (State.QUEUED, Input.MAX_WAIT): Session._h_max_wait,
    (State.QUEUED, Input.ANSWERED): Session._h_answered,
    **{(state, Input.HANGUP): Session._h_hangup
       for state in State if state is not State.DONE},
}
