"""A fake PBX and a small driver for switchboard tests.

``FakePbx`` knows only what a real PBX driver would know: the commands the switchboard gave it
(which calls are parked, which agent each call is ringing, which legs were hung up) and the
notifications it published. From that it says which PBX events may be sent next, and it checks
every command against what the PBX was told before (a ``CancelOffer`` must name a live offer, a
call ends only once and only after its caller's leg is gone, ...). Violations raise
``AssertionError`` at once, so a failing step points at the output that broke the protocol.

``Drive`` wraps one ``Switchboard`` with a ``FakePbx`` and a clock that only moves forward: it
fires every deadline at its own instant, in order, exactly as the daemon's timer or the
simulator's heap would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from cti.core import (
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegRinging,
    AgentStateChanged,
    Announce,
    CallArrived,
    CallEnded,
    CallHungUp,
    CallRecord,
    CancelOffer,
    CollectDigits,
    Command,
    ConnectAgent,
    CustomerLookupDone,
    CustomerRecord,
    DataLookupDone,
    DataLookupFailed,
    DigitsEntered,
    Event,
    HangUp,
    LegFailure,
    LookupCustomer,
    LookupData,
    Notification,
    Output,
    ParkWithMusic,
    PlayPrompt,
    PromptDone,
    Record,
    RecordingDone,
    Redirect,
    ScreenPop,
    SetHold,
    Switchboard,
    SwitchboardConfig,
    TicketCreated,
)

__all__ = ["Drive", "FakePbx", "Offer", "check_record", "merge", "notes_of", "records"]

N = TypeVar("N", bound=Notification)

#: More timer firings than this at one instant means the switchboard re-arms what it fires.
TIMER_STORM = 1000


@dataclass
class Offer:
    """An outstanding ``ConnectAgent``: the PBX is (about to be) ringing ``agent_id``."""

    call_id: str
    agent_id: str
    at: float
    command: ConnectAgent
    ringing: bool = False


@dataclass
class FakePbx:
    """The PBX's view of the switchboard's orders, and the log of what was published."""

    #: Configured trunk names; calls on any other trunk use ``default``.
    trunks: frozenset[str] = frozenset()
    offers: dict[str, Offer] = field(default_factory=dict)
    #: call -> agent whose leg is bridged to the caller.
    bridged: dict[str, str] = field(default_factory=dict)
    #: Calls whose caller (or, for an answered callback, the customer called back) is on the line.
    caller_up: set[str] = field(default_factory=set)
    #: call -> trunk, for calls whose inbound leg holds a channel.
    channels: dict[str, str] = field(default_factory=dict)
    parked: set[str] = field(default_factory=set)
    #: call -> when it was last parked in a queue (entering a queue parks it), and first.
    entered: dict[str, float] = field(default_factory=dict)
    first_parked: dict[str, float] = field(default_factory=dict)
    recording: set[str] = field(default_factory=set)
    #: call -> when its customer lookup was asked for.
    lookups: dict[str, float] = field(default_factory=dict)
    #: Calls the switchboard hung up or redirected: the PBX may still report their hang-up once.
    echoes: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, CallArrived] = field(default_factory=dict)
    ended: dict[str, CallRecord] = field(default_factory=dict)
    #: agent -> (state, reason) as the last ``AgentStateChanged`` said.
    agent_states: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    connects: list[tuple[float, ConnectAgent]] = field(default_factory=list)
    cancels: list[tuple[float, CancelOffer]] = field(default_factory=list)
    hangups: list[tuple[float, HangUp]] = field(default_factory=list)
    pops: list[ScreenPop] = field(default_factory=list)
    #: The offers the last output cancelled, by call.
    cancelled: dict[str, Offer] = field(default_factory=dict)
    tickets: list[TicketCreated] = field(default_factory=list)
    #: IVR: the prompt or collection each call's flow is playing, the lookups asked for, and
    #: the announcements made to callers in line.
    media: dict[str, PlayPrompt | CollectDigits] = field(default_factory=dict)
    data_lookups: dict[str, LookupData] = field(default_factory=dict)
    announced: list[tuple[float, Announce]] = field(default_factory=list)

    # -- reading the switchboard's output ----------------------------------------------------

    def apply(self, out: Output, now: float) -> None:
        self.cancelled = {}
        for cmd in out.commands:
            self._command(cmd, now)
        connected = {(c.call_id, c.agent_id) for c in out.commands if isinstance(c, ConnectAgent)}
        for note in out.notifications:
            self._notification(note, now, connected)

    def _command(self, cmd: Command, now: float) -> None:
        if isinstance(cmd, ParkWithMusic):
            assert cmd.call_id in self.caller_up, f"parks {cmd.call_id}, whose caller is gone"
            assert cmd.call_id not in self.offers, f"parks {cmd.call_id} while it rings an agent"
            self.bridged.pop(cmd.call_id, None)  # a transfer to a queue takes it off the agent
            self.parked.add(cmd.call_id)
            self.entered[cmd.call_id] = now
            self.first_parked.setdefault(cmd.call_id, now)
        elif isinstance(cmd, ConnectAgent):
            cid, agent = cmd.call_id, cmd.agent_id
            assert cid not in self.offers, f"{cid} offered to {agent} while ringing another"
            assert cid not in self.bridged, f"{cid} offered to {agent} while talking"
            held = self.held_by(agent)
            assert held is None, f"{agent} offered {cid} while holding {held}"
            if cmd.callback_number is None:
                assert cid in self.caller_up, f"{cid} offered to {agent} but its caller is gone"
                assert cid in self.parked, f"{cid} offered to {agent} but it was never parked"
            else:
                assert cid not in self.caller_up, f"callback {cid} while its caller is on the line"
            assert cmd.timeout_s > 0
            assert cmd.variables.get("cti_call_id") == cid
            self.offers[cid] = Offer(cid, agent, now, cmd)
            self.parked.discard(cid)
            self.connects.append((now, cmd))
        elif isinstance(cmd, CancelOffer):
            offer = self.offers.pop(cmd.call_id, None)
            assert offer is not None, f"cancels {cmd.call_id}, which rings nobody"
            assert offer.agent_id == cmd.agent_id, f"cancels {cmd}, which rings {offer.agent_id}"
            self.cancels.append((now, cmd))
            self.cancelled[cmd.call_id] = offer
            if cmd.call_id in self.caller_up:
                self.parked.add(cmd.call_id)  # back to music while waiting again
        elif isinstance(cmd, HangUp | Redirect):
            cid = cmd.call_id
            assert cid in self.caller_up, f"{type(cmd).__name__} for {cid}, whose caller is gone"
            assert cid not in self.offers, f"{type(cmd).__name__} for {cid} while it rings"
            self._caller_gone(cid)
            self.echoes[cid] = now
            if isinstance(cmd, HangUp):
                self.hangups.append((now, cmd))
        elif isinstance(cmd, Record):
            assert cmd.call_id in self.caller_up, f"records {cmd.call_id}, whose caller is gone"
            self.parked.discard(cmd.call_id)
            self.recording.add(cmd.call_id)
        elif isinstance(cmd, LookupCustomer):
            assert cmd.call_id in self.arrived
            assert cmd.caller == self.arrived[cmd.call_id].caller
            self.lookups[cmd.call_id] = now
        elif isinstance(cmd, SetHold):
            assert cmd.call_id in self.bridged, f"holds {cmd.call_id}, which is not bridged"
        elif isinstance(cmd, PlayPrompt | CollectDigits):
            cid = cmd.call_id
            assert cid in self.caller_up, f"plays to {cid}, whose caller is gone"
            assert cid not in self.offers, f"plays to {cid} while it rings an agent"
            assert cid not in self.bridged, f"plays to {cid}, bridged to an agent"
            old = self.media.get(cid)
            assert old is None or cmd.step > old.step, f"{cid}: step {cmd.step} after {old}"
            assert cmd.prompts, cmd
            self.media[cid] = cmd
        elif isinstance(cmd, Announce):
            assert cmd.call_id in self.parked, f"announces to {cmd.call_id}, which is not in line"
            self.announced.append((now, cmd))
        elif isinstance(cmd, LookupData):
            assert cmd.call_id in self.caller_up, f"looks up for {cmd.call_id}, who is gone"
            self.data_lookups[cmd.call_id] = cmd
        else:  # pragma: no cover - a command this PBX does not know
            raise AssertionError(f"unexpected command {cmd!r}")

    def _notification(
        self, note: Notification, now: float, connected: set[tuple[str, str]]
    ) -> None:
        if isinstance(note, CallEnded):
            rec = note.record
            cid = rec.call_id
            assert cid in self.arrived, f"{cid} ended but never arrived"
            assert cid not in self.ended, f"{cid} ended twice: {self.ended[cid]} and {rec}"
            assert cid not in self.offers, f"{cid} ended while ringing {self.offers[cid].agent_id}"
            assert cid not in self.bridged, f"{cid} ended while bridged to {self.bridged[cid]}"
            assert cid not in self.caller_up, f"{cid} ended with its caller still on the line"
            check_record(rec, now)
            self.ended[cid] = rec
            self.channels.pop(cid, None)
            self.parked.discard(cid)
            self.recording.discard(cid)
        elif isinstance(note, AgentStateChanged):
            known = self.agent_states.get(note.agent_id)
            previous = known[0] if known is not None else "logged-out"
            assert note.previous == previous, f"{note}: last told {previous}"
            assert known is None or (note.state, note.reason) != known, f"no change: {note}"
            self.agent_states[note.agent_id] = (note.state, note.reason)
        elif isinstance(note, ScreenPop):
            assert (note.call_id, note.agent_id) in connected, f"pop without a ring: {note}"
            self.pops.append(note)
        elif isinstance(note, TicketCreated):
            self.tickets.append(note)

    def _caller_gone(self, cid: str) -> None:
        self.caller_up.discard(cid)
        self.media.pop(cid, None)
        self.bridged.pop(cid, None)
        self.channels.pop(cid, None)
        self.parked.discard(cid)
        self.recording.discard(cid)

    # -- what the PBX may say next -----------------------------------------------------------

    def held_by(self, agent_id: str) -> str | None:
        """The call the agent's phone is ringing for or bridged to, if any."""
        held = [o.call_id for o in self.offers.values() if o.agent_id == agent_id]
        held += [cid for cid, a in self.bridged.items() if a == agent_id]
        assert len(held) <= 1, f"{agent_id} holds {held}"
        return held[0] if held else None

    def channel_count(self, trunk: str) -> int:
        return sum(1 for t in self.channels.values() if t == trunk)

    def arrive(self, ev: CallArrived) -> CallArrived:
        assert ev.call_id not in self.arrived
        self.arrived[ev.call_id] = ev
        self.caller_up.add(ev.call_id)
        self.channels[ev.call_id] = ev.trunk if ev.trunk in self.trunks else "default"
        return ev

    def ringing(self, cid: str) -> AgentLegRinging:
        offer = self.offers[cid]
        assert not offer.ringing
        offer.ringing = True
        return AgentLegRinging(cid, offer.agent_id)

    def answer(self, cid: str) -> AgentLegAnswered:
        offer = self.offers.pop(cid)
        self.bridged[cid] = offer.agent_id
        if offer.command.callback_number is not None:
            self.caller_up.add(cid)  # the customer picked up the callback
        return AgentLegAnswered(cid, offer.agent_id)

    def fail(self, cid: str, cause: LegFailure) -> AgentLegFailed:
        offer = self.offers.pop(cid)
        if cid in self.caller_up:
            self.parked.add(cid)
        return AgentLegFailed(cid, offer.agent_id, cause)

    def hang_up(self, cid: str) -> CallHungUp:
        """The caller (or the agent, once bridged) hangs up."""
        self._caller_gone(cid)
        return CallHungUp(cid)

    def echo(self, cid: str) -> CallHungUp:
        """The late report of a leg the switchboard hung up itself."""
        del self.echoes[cid]
        return CallHungUp(cid, "echo")

    def recorded(self, cid: str) -> RecordingDone:
        """The voicemail is recorded; the caller stays on the line until told to hang up."""
        self.recording.discard(cid)
        return RecordingDone(cid, f"file:///vm/{cid}.wav")

    def looked_up(self, cid: str, record: CustomerRecord | None) -> CustomerLookupDone:
        self.lookups.pop(cid, None)
        return CustomerLookupDone(cid, record)

    def prompt_done(self, cid: str) -> PromptDone:
        return PromptDone(cid, self.media[cid].step)

    def digits(self, cid: str, digits: str) -> DigitsEntered:
        media = self.media[cid]
        assert isinstance(media, CollectDigits), f"keys for {cid}, which collects none: {media}"
        return DigitsEntered(cid, digits, media.step)

    def data_found(self, cid: str, record: Mapping[str, object] | None) -> DataLookupDone:
        ask = self.data_lookups.pop(cid)
        return DataLookupDone(cid, ask.request, record)

    def data_failed(self, cid: str) -> DataLookupFailed:
        ask = self.data_lookups.pop(cid)
        return DataLookupFailed(cid, ask.request, "down")


def check_record(rec: CallRecord, now: float) -> None:
    """What every call record must satisfy, whatever happened to the call."""
    assert rec.ended_at == now
    assert rec.arrived_at <= rec.ended_at
    assert rec.wait_s >= 0, rec
    assert rec.talk_s >= 0, rec
    if rec.disposition == "answered":
        assert rec.answered_at is not None, rec
    if rec.disposition in ("abandoned", "blocked", "rejected"):
        assert rec.answered_at is None, rec
    if rec.enqueued_at is not None:
        assert rec.arrived_at <= rec.enqueued_at <= rec.ended_at, rec
        if rec.answered_at is not None:
            assert rec.enqueued_at <= rec.answered_at, rec
    assert rec.phases, rec
    assert rec.phases[0].state == "arrived", rec.phases
    times = [p.at for p in rec.phases]
    assert times == sorted(times), rec.phases
    assert rec.phases[-1].state == "ended", rec.phases


def merge(outputs: Iterable[Output]) -> Output:
    commands: list[Command] = []
    notes: list[Notification] = []
    for out in outputs:
        commands += out.commands
        notes += out.notifications
    return Output(commands, notes)


class Drive:
    """One switchboard, its fake PBX and a clock that only moves forward."""

    def __init__(self, config: SwitchboardConfig, now: float = 0.0) -> None:
        self.sb = Switchboard(config, now=now)
        self.pbx = FakePbx(trunks=frozenset(t.name for t in config.trunks))
        self.now = now
        self.outputs: list[Output] = []
        #: Called with each output after the PBX read it, and whether a timer produced it.
        self.observe: Callable[[Output, bool], None] | None = None

    def advance(self, to: float) -> Output:
        """Move the clock to ``to``, firing every deadline on the way at its own instant."""
        assert to >= self.now
        fired = []
        count = 0
        while (due := self.sb.next_deadline()) is not None and due <= to:
            count += 1
            assert count < TIMER_STORM, f"timer storm at {due}"
            self.now = max(self.now, due)
            fired.append(self._take(self.sb.on_timer(self.now), timer=True))
        self.now = to
        return merge(fired)

    def send(self, event: Event, at: float | None = None) -> Output:
        """Handle one event at ``at`` (default: now), after the deadlines before it."""
        before = self.advance(self.now if at is None else at)
        out = self._take(self.sb.handle(event, self.now))
        return merge([before, out, self.advance(self.now)])

    def _take(self, out: Output, *, timer: bool = False) -> Output:
        self.pbx.apply(out, self.now)
        self.outputs.append(out)
        if self.observe is not None:
            self.observe(out, timer)
        return out

    # PBX events, through the fake PBX's bookkeeping.

    def arrive(self, call_id: str, caller: str = "+15550100", dialed: str = "100",
               at: float | None = None, **kw: object) -> Output:
        return self.send(self.pbx.arrive(CallArrived(call_id, caller, dialed, **kw)), at)  # type: ignore[arg-type]

    def ring(self, call_id: str, at: float | None = None) -> Output:
        return self.send(self.pbx.ringing(call_id), at)

    def answer(self, call_id: str, at: float | None = None) -> Output:
        return self.send(self.pbx.answer(call_id), at)

    def fail(self, call_id: str, cause: LegFailure, at: float | None = None) -> Output:
        return self.send(self.pbx.fail(call_id, cause), at)

    def hang_up(self, call_id: str, at: float | None = None) -> Output:
        return self.send(self.pbx.hang_up(call_id), at)

    # IVR: the PBX playing a flow, and the shell answering its lookups.

    def prompt_done(self, call_id: str, at: float | None = None) -> Output:
        return self.send(self.pbx.prompt_done(call_id), at)

    def press(self, call_id: str, digits: str, at: float | None = None) -> Output:
        return self.send(self.pbx.digits(call_id, digits), at)

    def found(self, call_id: str, record: Mapping[str, object] | None,
              at: float | None = None) -> Output:
        return self.send(self.pbx.data_found(call_id, record), at)

    def lookup_failed(self, call_id: str, at: float | None = None) -> Output:
        return self.send(self.pbx.data_failed(call_id), at)

    def offered_to(self, agent_id: str) -> str | None:
        """The call now ringing ``agent_id``, if any."""
        return next((o.call_id for o in self.pbx.offers.values() if o.agent_id == agent_id), None)

    def connect_of(self, out: Output, call_id: str) -> ConnectAgent:
        found = [c for c in out.commands if isinstance(c, ConnectAgent) and c.call_id == call_id]
        assert len(found) == 1, out.commands
        return found[0]

    def ended(self, call_id: str) -> CallRecord:
        return self.pbx.ended[call_id]

    def state(self, agent_id: str) -> tuple[str, str | None]:
        agent = self.sb.agents[agent_id]
        return agent.state.value, agent.reason


def notes_of(out: Output, kind: type[N]) -> list[N]:
    return [n for n in out.notifications if isinstance(n, kind)]


def records(out: Output) -> Mapping[str, CallRecord]:
    return {n.record.call_id: n.record for n in notes_of(out, CallEnded)}
