"""FreeSWITCH call control: channel events to switchboard events, switchboard commands to ESL.

Theory of operation. The dialplan parks calls for the ACD (README, "Run beside FreeSWITCH").
A parked inbound channel nobody knows yet becomes a ``CallArrived`` whose call id is the
channel's Unique-ID; its ``cti_*`` channel variables are the attached data. To offer a call the
adapter originates the agent's leg with a Unique-ID it chose itself (``origination_uuid``), so
it can cancel the leg before FreeSWITCH has even created it, and parks it on answer; once the
leg is in park it bridges the two parked legs with ``uuid_bridge``. Everything slow is a ``bgapi``.

Each agent leg reports exactly one outcome to the switchboard: answered (CHANNEL_ANSWER), or
failed with a cause (whichever comes first of the originate job's ``-ERR CAUSE`` and the leg's
CHANNEL_HANGUP_COMPLETE); a leg the switchboard cancelled reports nothing. Once the call is
bridged either side hanging up ends it, and the adapter hangs up the other side itself rather
than trusting the dialplan's ``hangup_after_bridge``.

After a link loss the client hands over the list of live channels (``Resync``): calls and legs
that are gone are ended or failed, so no agent stays reserved or talking to nobody, and parked
inbound channels the adapter never saw become arrivals. A new Core-UUID (FreeSWITCH restarted)
means every channel known before is gone.

Sans-IO: ``CallControl`` is given a ``submit`` function (the runtime's, returning whether the
switchboard took the event) and a ``send`` function (queue one API command for ``bgapi``, with
the leg an ``originate`` creates, whose job result comes back through ``on_job_result``; or a
``SendMsg`` for the IVR's media, see ``adapters.esl.media``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from adapters.esl.media import IvrMedia, SendMsg
from cti.core import (
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegRinging,
    Announce,
    CallArrived,
    CallHungUp,
    CancelOffer,
    CollectDigits,
    ConnectAgent,
    HangUp,
    LegFailure,
    ParkWithMusic,
    PbxCommand,
    Play,
    PlayPrompt,
    Record,
    RecordingDone,
    RecordingStarted,
    Redirect,
    SetHold,
)
from cti.core import Event as CoreEvent

__all__ = ["CallControl", "ControlOptions", "leg_failure", "q850_cause"]

log = logging.getLogger("cti.adapters.esl")

#: FreeSWITCH hang-up causes of an agent leg that never answered, by what the switchboard does
#: next (each ``LegFailure`` has its own rest period in ``[ring.retry_s]``).
_FAILURES: dict[str, LegFailure] = {
    **dict.fromkeys(("NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT",
                     "RECOVERY_ON_TIMER_EXPIRE"), LegFailure.NO_ANSWER),
    **dict.fromkeys(("USER_BUSY", "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION"),
                    LegFailure.BUSY),
    **dict.fromkeys(("CALL_REJECTED", "NORMAL_CLEARING", "NO_PICKUP"), LegFailure.REJECTED),
    **dict.fromkeys(("UNALLOCATED_NUMBER", "USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT",
                     "NO_ROUTE_DESTINATION", "DESTINATION_OUT_OF_ORDER", "INVALID_GATEWAY",
                     "GATEWAY_DOWN", "NETWORK_OUT_OF_ORDER", "INCOMPATIBLE_DESTINATION",
                     "INVALID_NUMBER_FORMAT", "MANDATORY_IE_MISSING"), LegFailure.UNREACHABLE),
}

#: The switchboard's hang-up reasons as Q.850 cause names for ``uuid_kill``.
_CAUSES: dict[str, str] = {
    "normal": "NORMAL_CLEARING",
    "callback-scheduled": "NORMAL_CLEARING",
    "blocked": "NORMAL_CIRCUIT_CONGESTION",
    "rejected": "CALL_REJECTED",
    "no-route": "NO_ROUTE_DESTINATION",
}

#: Channel variables the adapter reads or sets itself; every other ``cti_*`` one is data.
_RESERVED = frozenset({"cti_call_id", "cti_agent_id", "cti_queue", "cti_priority", "cti_trunk",
                       "cti_leg"})
_VAR_NAME = re.compile(r"[A-Za-z0-9_]+\Z")


def leg_failure(cause: str) -> LegFailure:
    """What a FreeSWITCH hang-up cause of an unanswered agent leg means for the agent."""
    return _FAILURES.get(cause.upper(), LegFailure.REJECTED)


def q850_cause(reason: str) -> str:
    return _CAUSES.get(reason, "NORMAL_CLEARING")


def _arg(value: object) -> str:
    """A value safe on an ESL command line: one line, no spaces, no braces or commas that would
    end a variable block early (an injected newline would be a second command)."""
    text = str(value)
    return re.sub(r"[\s{},'\"\\]", "_", text)


@dataclass(frozen=True, slots=True)
class ControlOptions:
    """How calls map onto FreeSWITCH (``[freeswitch]`` in the daemon's config)."""

    #: Dialed numbers the ACD owns; empty: every parked inbound channel is for the ACD.
    destinations: frozenset[str] = frozenset()
    #: Dialplan context for transfers to outside numbers.
    context: str = "default"
    #: Music on hold for a queue whose music is ``"default"``; other names are used as given.
    music: str = "local_stream://moh"
    #: Directory of prompt files (``Play``, ``Record``): ``{prompts}/{name}.wav``.
    prompts: str = "/usr/share/freeswitch/sounds/cti"
    #: Where voicemails and (with ``record_calls``) conversations are recorded.
    recordings: str = "/var/lib/freeswitch/recordings/cti"
    record_calls: bool = False
    #: How a callback dials the customer once the agent has answered.
    callback_endpoint: str = "sofia/gateway/pstn/{number}"
    #: The trunk a call uses when its channel has no ``cti_trunk`` variable.
    trunk: str = "default"
    #: mod_say's language for the values an IVR speaks (positions, amounts, dates).
    say_language: str = "en"


@dataclass(slots=True)
class _Call:
    call_id: str
    #: The customer's channel: the caller's, or for a callback the one dialled out.
    uuid: str | None
    leg: str | None = None  # the agent leg being offered or talking
    customer_leg: str | None = None  # a callback's leg to the customer, while it rings
    callback_number: str | None = None
    voicemail: bool = False
    #: The music the call's queue plays it (to resume after an announcement).
    music: str | None = None


@dataclass(slots=True)
class _Leg:
    uuid: str
    call_id: str
    agent_id: str
    seen: bool = False  # FreeSWITCH has reported the channel
    ringing: bool = False
    answered: bool = False
    reported: bool = False  # the switchboard has heard its outcome (or cancelled it)
    cancelled: bool = False  # the switchboard withdrew the offer
    customer: bool = False  # a callback's leg to the customer, not an agent's


class CallControl:
    def __init__(
        self,
        options: ControlOptions,
        submit: Callable[[CoreEvent], bool],
        send: Callable[[str | SendMsg, str | None], None],
        new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.options = options
        self._submit = submit
        self._sender = send
        self._new_uuid = new_uuid
        self.calls: dict[str, _Call] = {}
        self._by_uuid: dict[str, str] = {}  # customer channel -> call id
        self.legs: dict[str, _Leg] = {}
        #: Answered legs (agent, or a callback's customer) to bridge once they reach park.
        self._bridge_on_park: dict[str, str] = {}
        self.ignored_events = 0
        self.media = IvrMedia(lambda command: send(command, None), submit, new_uuid,
                              prompts=options.prompts, language=options.say_language)

    # -- FreeSWITCH to the switchboard ------------------------------------------------------

    def on_event(self, name: str, headers: Mapping[str, str]) -> None:
        handler = self._HANDLERS.get(name)
        if handler is None:
            self.ignored_events += 1
            return
        handler(self, headers)

    def on_job_result(self, leg_uuid: str, result: str) -> None:
        """The originate job of ``leg_uuid`` finished: ``+OK <uuid>`` or ``-ERR <CAUSE>``."""
        if result.startswith("-ERR"):
            cause = result[4:].strip().split()[0] if result[4:].strip() else "UNKNOWN"
            self._leg_gone(leg_uuid, cause)

    def on_resync(self, channels: Sequence[Mapping[str, str]], restarted: bool) -> None:
        alive = {} if restarted else {row.get("uuid", ""): row for row in channels}
        why = "pbx-restarted" if restarted else "link-lost"
        # Only legs FreeSWITCH had reported: one whose originate is still on its way is not
        # in the list yet (one lost with the link fails through its job).
        for leg_uuid in [u for u, leg in self.legs.items() if leg.seen and u not in alive]:
            self._leg_gone(leg_uuid, "NETWORK_OUT_OF_ORDER", why)
        for cid in [c for c, call in self.calls.items()
                    if call.uuid is not None and call.uuid not in alive]:
            self._caller_gone(cid, why)
        rows = channels if restarted else alive.values()
        for row in rows:
            u = row.get("uuid", "")
            if (u and u not in self._by_uuid and u not in self.legs
                    and row.get("direction") == "inbound" and row.get("application") == "park"):
                self._arrive(u, row.get("cid_num", ""), row.get("dest", ""), {})

    def _on_park(self, h: Mapping[str, str]) -> None:
        u = h.get("Unique-ID", "")
        cid = self._bridge_on_park.pop(u, None)
        if cid is not None:  # an answered leg is in ``&park()``: it can be bridged now
            call = self.calls.get(cid)
            if call is not None and call.uuid is not None and call.leg is not None:
                self._bridge(call, call.leg)
            return
        if not u or u in self._by_uuid or u in self.legs:
            return  # back in park after a transfer, or our own leg
        if h.get("variable_cti_leg") or h.get("Call-Direction", "inbound") != "inbound":
            return  # a leg some other instance originated
        self._arrive(u, h.get("Caller-Caller-ID-Number", ""),
                     h.get("Caller-Destination-Number", ""), h)

    def _arrive(self, u: str, caller: str, dialed: str, h: Mapping[str, str]) -> None:
        if self.options.destinations and dialed not in self.options.destinations:
            self.ignored_events += 1
            return
        # Keys only: the headers decode a value when it is read, and few are wanted.
        data = {k[len("variable_cti_"):]: h[k] for k in h
                if k.startswith("variable_cti_") and k[len("variable_"):] not in _RESERVED}
        priority: float | None = None
        if raw := h.get("variable_cti_priority"):
            try:
                priority = float(raw)
            except ValueError:
                log.warning("channel %s: cti_priority %r is not a number; ignored", u, raw)
        self.calls[u] = _Call(u, u)
        self._by_uuid[u] = u
        arrived = CallArrived(u, caller, dialed, h.get("variable_cti_trunk") or self.options.trunk,
                              h.get("variable_cti_queue") or None, priority, data=data)
        if not self._submit(arrived):
            self._forget(u)
            self._send(f"uuid_kill {u} CALL_REJECTED")

    def _on_created(self, h: Mapping[str, str]) -> None:
        leg = self.legs.get(h.get("Unique-ID", ""))
        if leg is not None:
            self._seen(leg)

    def _on_progress(self, h: Mapping[str, str]) -> None:
        leg = self.legs.get(h.get("Unique-ID", ""))
        if leg is None or not self._seen(leg) or leg.ringing or leg.customer:
            return
        leg.ringing = True
        self._submit(AgentLegRinging(leg.call_id, leg.agent_id))

    def _on_answer(self, h: Mapping[str, str]) -> None:
        leg = self.legs.get(h.get("Unique-ID", ""))
        if leg is None or not self._seen(leg) or leg.answered:
            return
        leg.answered = True
        call = self.calls.get(leg.call_id)
        if call is None:
            self._kill(leg.uuid, "NORMAL_CLEARING")
            return
        if leg.customer:  # a callback: the customer answered; the agent is waiting
            call.uuid = leg.uuid
            call.customer_leg = None
            self._by_uuid[leg.uuid] = call.call_id
            del self.legs[leg.uuid]
            self._bridge_on_park[leg.uuid] = call.call_id
            return
        leg.reported = True
        if not self._submit(AgentLegAnswered(leg.call_id, leg.agent_id)):
            self._kill(leg.uuid, "NORMAL_CLEARING")  # the switchboard had moved on
            return
        if call.callback_number is not None:
            self._dial_customer(call)
        else:
            self._bridge_on_park[leg.uuid] = call.call_id

    def _on_hangup(self, h: Mapping[str, str]) -> None:
        u = h.get("Unique-ID", "")
        cause = h.get("Hangup-Cause", "NORMAL_CLEARING")
        if u in self.legs:
            self._leg_gone(u, cause)
        elif (cid := self._by_uuid.get(u)) is not None:
            self._caller_gone(cid, cause.lower().replace("_", "-"))

    def _on_record_stop(self, h: Mapping[str, str]) -> None:
        cid = self._by_uuid.get(h.get("Unique-ID", ""))
        call = self.calls.get(cid) if cid is not None else None
        if call is not None and call.voicemail:
            call.voicemail = False
            self._submit(RecordingDone(call.call_id, h.get("Record-File-Path", "")))

    def _on_execute_complete(self, h: Mapping[str, str]) -> None:
        self.media.on_complete(h)

    _HANDLERS: ClassVar[dict[str, Callable[[CallControl, Mapping[str, str]], None]]] = {
        "CHANNEL_PARK": _on_park,
        "CHANNEL_EXECUTE_COMPLETE": _on_execute_complete,
        "CHANNEL_CREATE": _on_created,
        "CHANNEL_PROGRESS": _on_progress,
        "CHANNEL_PROGRESS_MEDIA": _on_progress,
        "CHANNEL_ANSWER": _on_answer,
        "CHANNEL_HANGUP_COMPLETE": _on_hangup,
        "RECORD_STOP": _on_record_stop,
    }

    #: The events call control reads: subscribe to these and no more (FreeSWITCH then does not
    #: format, and the reader does not parse, events nobody uses).
    EVENTS: ClassVar[tuple[str, ...]] = ()
    #: What the IVR's media needs besides: the adapter subscribes to it with the first prompt
    #: (every application's completion on every channel: at 500 calls/s without an IVR,
    #: leaving it out took park -> originate p99 from about 10 ms to 6.4 ms).
    MEDIA_EVENTS: ClassVar[tuple[str, ...]] = ("CHANNEL_EXECUTE_COMPLETE",)

    def _seen(self, leg: _Leg) -> bool:
        """First sight of a leg; a leg cancelled before FreeSWITCH created it dies now."""
        leg.seen = True
        if leg.cancelled:
            del self.legs[leg.uuid]
            self._kill(leg.uuid, "ORIGINATOR_CANCEL")
            return False
        return True

    def _leg_gone(self, leg_uuid: str, cause: str, why: str = "agent-hung-up") -> None:
        self._bridge_on_park.pop(leg_uuid, None)
        leg = self.legs.pop(leg_uuid, None)
        if leg is None:
            return
        call = self.calls.get(leg.call_id)
        if leg.customer:  # the callback's customer did not answer
            if call is not None:
                self._caller_gone(call.call_id, f"callback-{cause.lower().replace('_', '-')}")
            return
        current = call is not None and call.leg == leg_uuid
        if call is not None and current:
            call.leg = None
        if not leg.answered:
            if not leg.reported:
                leg.reported = True
                self._submit(AgentLegFailed(leg.call_id, leg.agent_id, leg_failure(cause)))
        elif call is not None and current:
            # The agent hung up on the customer (or the link took the leg): the call is over.
            if call.uuid is not None:
                self._kill(call.uuid, "NORMAL_CLEARING")
            self._caller_gone(call.call_id, why)

    def _caller_gone(self, cid: str, cause: str) -> None:
        call = self._forget(cid)
        if call is None:
            return
        if call.leg is not None and (leg := self.legs.get(call.leg)) is not None and leg.answered:
            self.legs.pop(call.leg)
            self._kill(call.leg, "NORMAL_CLEARING")
        # A ringing agent leg stays: the switchboard cancels the offer (``CancelOffer``).
        if call.customer_leg is not None and self.legs.pop(call.customer_leg, None) is not None:
            self._kill(call.customer_leg, "ORIGINATOR_CANCEL")
        self._submit(CallHungUp(cid, cause))

    def _forget(self, cid: str) -> _Call | None:
        call = self.calls.pop(cid, None)
        if call is not None:
            self.media.forget(cid)
        if call is not None and call.uuid is not None:
            self._by_uuid.pop(call.uuid, None)
            self._bridge_on_park.pop(call.uuid, None)
        return call

    # -- the switchboard to FreeSWITCH -----------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        handler = self._COMMANDS.get(type(command))
        if handler is None:
            log.warning("the FreeSWITCH adapter cannot carry out %s", type(command).__name__)
            return
        handler(self, command)

    def _connect(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, ConnectAgent)
        call = self.calls.get(cmd.call_id)
        if call is None:
            if cmd.callback_number is None:
                return  # the caller is already gone; the switchboard hears of it in order
            call = self.calls[cmd.call_id] = _Call(cmd.call_id, None)
        self._unbridge(call)  # a transfer from one agent straight to another
        call.callback_number = cmd.callback_number
        leg_uuid = self._new_uuid()
        call.leg = leg_uuid
        self.legs[leg_uuid] = _Leg(leg_uuid, cmd.call_id, cmd.agent_id)
        variables = {"origination_uuid": leg_uuid, "cti_leg": "agent",
                     "cti_agent_id": cmd.agent_id,
                     "originate_timeout": str(max(1, round(cmd.timeout_s))),
                     "ignore_early_media": "true"}
        for k, v in cmd.variables.items():
            name = k if k.startswith("cti_") else f"cti_{k}"
            if _VAR_NAME.match(name) and isinstance(v, str | int | float | bool):
                variables[name] = v if isinstance(v, str) else str(v)
        self._originate(variables, cmd.endpoint)

    def _dial_customer(self, call: _Call) -> None:
        assert call.callback_number is not None
        assert call.leg is not None
        leg_uuid = self._new_uuid()
        agent = self.legs[call.leg]
        self.legs[leg_uuid] = _Leg(leg_uuid, call.call_id, agent.agent_id, customer=True,
                                   reported=True)
        call.customer_leg = leg_uuid
        endpoint = self.options.callback_endpoint.format(number=_arg(call.callback_number))
        self._originate({"origination_uuid": leg_uuid, "cti_leg": "customer",
                         "cti_call_id": call.call_id}, endpoint)

    def _originate(self, variables: Mapping[str, str], endpoint: str) -> None:
        block = ",".join(f"{k}={_arg(v)}" for k, v in variables.items())
        self._send(f"originate {{{block}}}{_arg(endpoint)} &park()",
                   leg=variables["origination_uuid"])

    def _cancel(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, CancelOffer)
        call = self.calls.get(cmd.call_id)
        leg_uuid = call.leg if call is not None else None
        if leg_uuid is None:
            leg_uuid = next((u for u, leg in self.legs.items()
                             if leg.call_id == cmd.call_id and leg.agent_id == cmd.agent_id),
                            None)
        leg = self.legs.get(leg_uuid) if leg_uuid is not None else None
        if leg is None:
            return
        leg.reported = leg.cancelled = True  # the switchboard has written this offer off
        if call is not None and call.leg == leg.uuid:
            call.leg = None
        if leg.seen:
            del self.legs[leg.uuid]
            self._kill(leg.uuid, "ORIGINATOR_CANCEL")
        # else: killed when FreeSWITCH first reports it (``_seen``) or its originate fails

    def _park(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, ParkWithMusic)
        call = self.calls.get(cmd.call_id)
        if call is None or call.uuid is None:
            return
        self._unbridge(call)  # transferred back into a queue
        music = self.options.music if cmd.music == "default" else cmd.music
        call.music = _arg(music)
        self._send(f"uuid_broadcast {call.uuid} {call.music} aleg")

    def _play(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, Play)
        call = self.calls.get(cmd.call_id)
        if call is not None and call.uuid is not None:
            self._send(f"uuid_broadcast {call.uuid} {self._prompt(cmd.prompt)} aleg")

    def _record(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, Record)
        call = self.calls.get(cmd.call_id)
        if call is None or call.uuid is None:
            return
        call.voicemail = True
        path = f"{self.options.recordings}/voicemail-{_arg(call.call_id)}.wav"
        self._send(f"uuid_broadcast {call.uuid} {self._prompt(cmd.prompt)} aleg")
        self._send(f"uuid_record {call.uuid} start {path} {max(1, round(cmd.max_s))}")

    def _redirect(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, Redirect)
        call = self._forget(cmd.call_id)
        if call is not None and call.uuid is not None:
            # The customer leaves the bridge first, so the agent's hang-up cannot take them.
            self._send(f"uuid_transfer {call.uuid} {_arg(cmd.destination)} XML "
                       f"{_arg(self.options.context)}")
            self._drop_leg(call)

    def _hang_up(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, HangUp)
        call = self._forget(cmd.call_id)
        if call is not None and call.uuid is not None:
            self._drop_leg(call)
            if cmd.prompt is not None:  # an IVR's goodbye, then the line is cleared
                self.media.goodbye(call.uuid, cmd.prompt, q850_cause(cmd.cause))
            else:
                self._kill(call.uuid, q850_cause(cmd.cause))

    def _ivr_play(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, PlayPrompt)
        if (u := self._channel(cmd.call_id)) is not None:
            self.media.play(u, cmd)

    def _ivr_collect(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, CollectDigits)
        if (u := self._channel(cmd.call_id)) is not None:
            self.media.collect(u, cmd)

    def _announce(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, Announce)
        call = self.calls.get(cmd.call_id)
        if call is not None and call.uuid is not None:
            self.media.announce(call.uuid, cmd, call.music or _arg(self.options.music))

    def _channel(self, call_id: str) -> str | None:
        call = self.calls.get(call_id)
        return call.uuid if call is not None else None

    def _hold(self, cmd: PbxCommand) -> None:
        assert isinstance(cmd, SetHold)
        call = self.calls.get(cmd.call_id)
        if call is not None and call.uuid is not None:
            self._send(f"uuid_hold {'' if cmd.hold else 'off '}{call.uuid}")

    _COMMANDS: ClassVar[dict[type, Callable[[CallControl, PbxCommand], None]]] = {
        ConnectAgent: _connect,
        CancelOffer: _cancel,
        ParkWithMusic: _park,
        Play: _play,
        Record: _record,
        Redirect: _redirect,
        HangUp: _hang_up,
        SetHold: _hold,
        PlayPrompt: _ivr_play,
        CollectDigits: _ivr_collect,
        Announce: _announce,
    }

    # -- plumbing ---------------------------------------------------------------------------

    def _bridge(self, call: _Call, leg_uuid: str) -> None:
        assert call.uuid is not None
        self._send(f"uuid_bridge {call.uuid} {leg_uuid}")
        if self.options.record_calls:
            path = f"{self.options.recordings}/{_arg(call.call_id)}.wav"
            self._send(f"uuid_record {call.uuid} start {path}")
            self._submit(RecordingStarted(call.call_id, path))

    def _unbridge(self, call: _Call) -> None:
        """Take the customer out of a bridge with an agent and back into park."""
        leg = self.legs.get(call.leg) if call.leg is not None else None
        if leg is not None and leg.answered and call.uuid is not None:
            del self.legs[leg.uuid]
            call.leg = None
            self._send(f"uuid_transfer {call.uuid} park inline")
            self._kill(leg.uuid, "NORMAL_CLEARING")

    def _drop_leg(self, call: _Call) -> None:
        if call.leg is not None and self.legs.pop(call.leg, None) is not None:
            self._kill(call.leg, "NORMAL_CLEARING")

    def _send(self, command: str | SendMsg, leg: str | None = None) -> None:
        self._sender(command, leg)

    def _kill(self, u: str, cause: str) -> None:
        self._send(f"uuid_kill {u} {cause}")

    def _prompt(self, name: str) -> str:
        if "/" in name or "://" in name:
            return _arg(name)
        return f"{self.options.prompts}/{_arg(name)}.wav"


CallControl.EVENTS = tuple(e for e in CallControl._HANDLERS if e not in CallControl.MEDIA_EVENTS)
