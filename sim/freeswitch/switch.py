"""The simulated switch: channels and what commands do to them, in (scaled) real time.

Every change fires the events real FreeSWITCH fires for it, in its order:

- inbound call: CHANNEL_CREATE, CHANNEL_ANSWER, CHANNEL_EXECUTE_COMPLETE (answer),
  CHANNEL_EXECUTE (park), CHANNEL_PARK;
- originate to an endpoint: CHANNEL_CREATE, CHANNEL_PROGRESS when it rings, then
  CHANNEL_ANSWER, CHANNEL_EXECUTE (park), CHANNEL_PARK (result ``+OK <uuid>``), or the hangup
  events with the cause (result ``-ERR <CAUSE>``); busy phones never ring;
- uuid_bridge: playback and park end (CHANNEL_EXECUTE_COMPLETE, CHANNEL_UNPARK), then one
  CHANNEL_BRIDGE on the A leg (``Bridge-A/B-Unique-ID``, ``Other-Leg-*``);
- hangup: CHANNEL_HANGUP, the end of what it ran, CHANNEL_UNBRIDGE and the other leg's hangup
  (hangup_after_bridge: the cause propagates), RECORD_STOP for each recording,
  CHANNEL_HANGUP_COMPLETE (with the CDR variables), CHANNEL_DESTROY.

Durations (ring delays, prompts, originate timeouts) are simulated seconds, divided by
``speed`` on the asyncio clock.
"""

from __future__ import annotations

import asyncio
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from sim.freeswitch.apps import Messages
from sim.freeswitch.channels import CAUSES, Channel, usec
from sim.freeswitch.events import Core, SimEvent

__all__ = ["Action", "Decide", "Endpoint", "Switch"]

Action = Literal["answer", "busy", "reject", "no-answer"]
#: What a phone does when originated to, and after how many simulated seconds.
Decide = Callable[[], tuple[Action, float]]


@dataclass
class Endpoint:
    """A phone that can be originated to: ``decide()`` says what it does and after how many
    (simulated) seconds."""

    name: str
    decide: Decide

    @classmethod
    def answering(cls, name: str, after_s: float = 1.0) -> Endpoint:
        return cls(name, lambda: ("answer", after_s))

    @classmethod
    def busy(cls, name: str, after_s: float = 0.1) -> Endpoint:
        return cls(name, lambda: ("busy", after_s))

    @classmethod
    def rejecting(cls, name: str, after_s: float = 1.0) -> Endpoint:
        return cls(name, lambda: ("reject", after_s))

    @classmethod
    def not_answering(cls, name: str) -> Endpoint:
        return cls(name, lambda: ("no-answer", 0.0))


class Switch:
    def __init__(self, core: Core, fire: Callable[[SimEvent], None], *, speed: float = 1.0,
                 prompt_s: float = 2.0, transfer_hangup_s: float = 0.5,
                 domain: str | None = None) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.core = core
        self._fire = fire
        self.speed = speed
        self.prompt_s = prompt_s
        self.transfer_hangup_s = transfer_hangup_s
        self.domain = domain or core.ipv4
        self.channels: dict[str, Channel] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.prompts: dict[str, float] = {}
        self.since_startup = 0
        self.peak = 0
        self.hangups: Counter[str] = Counter()
        #: Hooks for a traffic driver: a bridge formed, a channel ended, one left the ACD.
        self.on_bridge: Callable[[Channel, Channel], None] | None = None
        self.on_hangup: Callable[[Channel], None] | None = None
        self.on_transfer: Callable[[Channel], None] | None = None
        self.on_create: Callable[[Channel], None] | None = None
        #: ``sendmsg``: the applications clients run on channels, in turn.
        self.messages = Messages(self)

    def add_endpoint(self, endpoint: Endpoint) -> None:
        self.endpoints[endpoint.name] = endpoint

    def reset(self, core: Core) -> None:
        """FreeSWITCH restarted: every channel is gone, without events."""
        for ch in self.channels.values():
            self._cancel_timers(ch)
            if ch.originate is not None and not ch.originate.done():
                ch.originate.cancel()
        self.channels.clear()
        self.core = core
        self.since_startup = self.peak = 0

    # -- plumbing -----------------------------------------------------------------------------

    def emit(self, ch: Channel, name: str, *, before: Iterable[tuple[str, str]] = (),
             after: Iterable[tuple[str, str]] = ()) -> None:
        self._fire(ch.event(name, before=before, after=after))

    def later(self, ch: Channel, key: str, delay_s: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` after ``delay_s`` simulated seconds unless the channel ends first."""
        old = ch.timers.pop(key, None)
        if old is not None:
            old.cancel()

        def run() -> None:
            ch.timers.pop(key, None)
            if not ch.hungup:
                fn()

        ch.timers[key] = asyncio.get_running_loop().call_later(max(0.0, delay_s) / self.speed,
                                                               run)

    def _cancel_timers(self, ch: Channel) -> None:
        for handle in ch.timers.values():
            handle.cancel()
        ch.timers.clear()

    def _add(self, ch: Channel) -> None:
        self.channels[ch.uuid] = ch
        self.since_startup += 1
        self.peak = max(self.peak, len(self.channels))
        if self.on_create is not None:
            self.on_create(ch)

    def get(self, uuid: str) -> Channel | None:
        ch = self.channels.get(uuid)
        return None if ch is None or ch.hungup else ch

    # -- inbound calls ------------------------------------------------------------------------

    def inbound_call(self, caller: str, destination: str, *, caller_name: str = "",
                     variables: Mapping[str, str] | None = None,
                     context: str = "public") -> Channel:
        """A caller dials ``destination``; the dialplan answers and parks the call."""
        uuid = str(uuidlib.uuid4())
        host = self.core.ipv4
        name = f"sofia/internal/{caller}@{self.domain}"
        call_id = uuidlib.uuid4().hex
        ch = Channel(self.core, uuid, direction="inbound", name=name, caller_number=caller,
                     caller_name=caller_name or caller, destination=destination,
                     context=context, username=caller, variables=[
                         ("direction", "inbound"), ("uuid", uuid),
                         ("session_id", str(self.since_startup + 1)),
                         ("sip_from_user", caller), ("sip_from_uri", f"{caller}@{self.domain}"),
                         ("sip_from_host", self.domain), ("channel_name", name),
                         ("sip_call_id", call_id), ("sip_local_network_addr", host),
                         ("sip_network_ip", host), ("sip_network_port", "5080"),
                         ("sip_received_ip", host), ("sip_received_port", "5080"),
                         ("sip_via_protocol", "udp"), ("sip_req_user", destination),
                         ("sip_req_uri", f"{destination}@{self.domain}"),
                         ("sip_req_host", self.domain), ("sip_to_user", destination),
                         ("sip_to_uri", f"{destination}@{self.domain}"),
                         ("sip_to_host", self.domain), ("sip_contact_user", caller),
                         ("sip_contact_uri", f"{caller}@{host}:5080"),
                         ("sip_user_agent", "cti-sim caller"), ("max_forwards", "70"),
                         ("endpoint_disposition", "RECEIVED"), ("call_uuid", uuid),
                         *(variables or {}).items(),
                     ])
        ch.set_state("CS_INIT", "DOWN", "CS_ROUTING")
        self._add(ch)
        self.emit(ch, "CHANNEL_CREATE")
        ch.set_state("CS_EXECUTE", "RINGING")
        self._answer(ch)
        self._run_app(ch, "answer", "", complete=True)
        self._park(ch)
        return ch

    # -- originate ----------------------------------------------------------------------------

    async def originate(self, endpoint: str, variables: Mapping[str, str],
                        app: str = "park", app_data: str = "") -> str:
        """``originate {vars}endpoint &app(data)``: ``+OK <uuid>\\n`` once answered, or
        ``-ERR <CAUSE>\\n``."""
        uuid = variables.get("origination_uuid") or str(uuidlib.uuid4())
        if uuid in self.channels:
            return "-ERR INVALID_PROFILE\n"
        try:
            timeout = float(variables.get("originate_timeout", "60"))
        except ValueError:
            timeout = 60.0
        user = endpoint.partition("/")[2] if endpoint.startswith("user/") else endpoint
        name = f"sofia/internal/sip:{user}@{self.core.ipv4}:5070"
        cid_num = variables.get("origination_caller_id_number", "0000000000")
        cid_name = variables.get("origination_caller_id_name", "FreeSWITCH")
        ch = Channel(self.core, uuid, direction="outbound", name=name, caller_number=cid_num,
                     caller_name=cid_name, destination=user, context="default",
                     username=user, variables=[
                         ("direction", "outbound"), ("is_outbound", "true"), ("uuid", uuid),
                         ("session_id", str(self.since_startup + 1)),
                         ("sip_local_network_addr", self.core.ipv4),
                         ("sip_profile_name", "internal"), ("channel_name", name),
                         ("sip_destination_url", f"sip:{user}@{self.core.ipv4}:5070"),
                         ("max_forwards", "70"), *variables.items(),
                         ("dialed_user", user), ("dialed_domain", self.domain),
                         ("presence_id", f"{user}@{self.domain}"),
                         ("sip_req_uri", f"{user}@{self.core.ipv4}:5070"),
                         ("sofia_profile_name", "internal"),
                         ("recovery_profile_name", "internal"), ("call_uuid", uuid),
                     ], callee=("Outbound Call", user))
        ch.set_state("CS_INIT", "DOWN", "CS_ROUTING")
        fut: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        ch.originate = fut
        self._add(ch)
        self.emit(ch, "CHANNEL_CREATE")
        phone = self.endpoints.get(endpoint)
        if phone is None:
            self.later(ch, "fail", 0.02, lambda: self.hangup(ch, "UNALLOCATED_NUMBER"))
        else:
            action, after = phone.decide()
            if action == "busy":
                self.later(ch, "fail", after, lambda: self.hangup(ch, "USER_BUSY"))
            else:
                self.later(ch, "ring", 0.0, lambda: self._ring(ch))
                if action == "answer":
                    self.later(ch, "answer", after, lambda: self._answer_leg(ch, app, app_data))
                elif action == "reject":
                    self.later(ch, "fail", after, lambda: self.hangup(ch, "CALL_REJECTED"))
                self.later(ch, "timeout", timeout, lambda: self.hangup(ch, "NO_ANSWER"))
        cause = await fut
        return f"+OK {uuid}\n" if cause is None else f"-ERR {cause}\n"

    def _ring(self, ch: Channel) -> None:
        ch.set_state("CS_CONSUME_MEDIA", "DOWN")
        ch.set_time("Channel-Progress-Time")
        self.emit(ch, "CHANNEL_PROGRESS")
        ch.call_state = "RINGING"

    def _answer_leg(self, ch: Channel, app: str, app_data: str) -> None:
        timeout = ch.timers.pop("timeout", None)
        if timeout is not None:
            timeout.cancel()
        ch.media = True
        self._answer(ch)
        fut = ch.originate
        ch.originate = None
        if fut is not None and not fut.done():
            fut.set_result(None)
        ch.set_state("CS_EXECUTE", "ACTIVE")
        if app == "park":
            asyncio.get_running_loop().call_soon(lambda: None if ch.hungup else self._park(ch))
        else:
            self._run_app(ch, app, app_data, complete=False)

    def _answer(self, ch: Channel) -> None:
        ch.answered = True
        ch.set_time("Channel-Answered-Time")
        now = time.time()
        ch.set_vars([("answer_epoch", str(int(now))), ("answer_uepoch", usec(now))])
        self.emit(ch, "CHANNEL_ANSWER")
        ch.call_state = "ACTIVE"

    def _run_app(self, ch: Channel, app: str, data: str, *, complete: bool) -> None:
        self.run_app(ch, app, data)
        if complete:
            self.app_done(ch, app, data, "_none_")

    def run_app(self, ch: Channel, app: str, data: str, app_uuid: str = "") -> None:
        """CHANNEL_EXECUTE; ``app_uuid`` is a ``sendmsg``'s Event-UUID (a new one if none)."""
        ch.application, ch.application_data = app, data
        ch.set_vars([("current_application", app), ("current_application_data", data)])
        ch.app_uuid = app_uuid or str(uuidlib.uuid4())
        self.emit(ch, "CHANNEL_EXECUTE", after=ch.application_headers(app, data))

    def app_done(self, ch: Channel, app: str, data: str, response: str) -> None:
        ch.set_vars([("last_app", app), ("last_arg", data)])
        self.emit(ch, "CHANNEL_EXECUTE_COMPLETE",
                  after=ch.application_headers(app, data, response))

    def _park(self, ch: Channel) -> None:
        self._run_app(ch, "park", "", complete=False)
        ch.parked = True
        self.emit(ch, "CHANNEL_PARK")

    def _unpark(self, ch: Channel) -> None:
        if ch.parked:
            ch.parked = False
            self.emit(ch, "CHANNEL_UNPARK")
            self.app_done(ch, "park", "", "_none_")

    # -- media --------------------------------------------------------------------------------

    def broadcast(self, uuid: str, path: str, leg: str = "aleg") -> None:
        ch = self.get(uuid)
        if ch is None:
            return  # FreeSWITCH answers +OK Message Sent all the same
        targets: list[Channel | None] = {"bleg": [ch.partner],
                                         "both": [ch, ch.partner]}.get(leg, [ch])
        for target in targets:
            if target is not None:
                self._play(target, path)

    def _play(self, ch: Channel, path: str) -> None:
        self.stop_playback(ch)
        app, sep, data = path.partition("::")
        app, data = (app, data) if sep else ("playback", path)
        self._run_app(ch, app, data, complete=False)
        ch.playback = (app, data)
        length = self.prompts.get(path, self.prompt_s)
        if data.startswith("local_stream://") or length < 0:
            return  # music on hold loops until something stops it
        self.later(ch, "playback", length, lambda: self.played(ch, length))

    def played(self, ch: Channel, length: float) -> None:
        """What plays has ended after ``length`` seconds; the channel's next message runs."""
        if ch.playback is None:
            return
        app, data = ch.playback
        ch.playback = None
        ms = int(length * 1000)
        ch.set_vars([("playback_seconds", str(ms // 1000)), ("playback_ms", str(ms)),
                     ("playback_samples", str(ms * 8))])
        self.app_done(ch, app, data, "FILE PLAYED")
        ch.application, ch.application_data = ("park", "") if ch.parked else ("", "")
        self.messages.pump(ch)

    def stop_playback(self, ch: Channel) -> None:
        """What was playing ends (playback answers FILE PLAYED when interrupted too)."""
        if ch.playback is None:
            return
        app, data = ch.playback
        ch.playback = None
        handle = ch.timers.pop("playback", None)
        if handle is not None:
            handle.cancel()
        self.app_done(ch, app, data, "FILE PLAYED")
        self.messages.pump(ch)

    def send_dtmf(self, uuid: str, digits: str, duration_ms: int = 2000) -> bool:
        ch = self.get(uuid)
        if ch is None:
            return False
        for digit in digits:
            self.emit(ch, "DTMF", after=[("DTMF-Digit", digit),
                                         ("DTMF-Duration", str(duration_ms * 8)),
                                         ("DTMF-Source", "RTP")])
        return True

    def record(self, uuid: str, action: str, path: str, limit_s: float | None = None) -> str:
        """``uuid_record``; a recording started with a limit stops by itself after it."""
        ch = self.get(uuid)
        if ch is None:
            return "-ERR Cannot locate session!\n"
        if action == "start":
            ch.recordings.append(path)
            self.emit(ch, "RECORD_START", after=[("Record-File-Path", path)])
            if limit_s is not None and limit_s > 0:

                def at_limit() -> None:
                    self.record(uuid, "stop", path)

                self.later(ch, f"record {path}", limit_s, at_limit)
            return "+OK Success\n"
        if action == "stop":
            stop = list(ch.recordings) if path == "all" else [p for p in ch.recordings
                                                               if p == path]
            if not stop:
                return "-ERR Cannot stop record session!\n"
            for p in stop:
                ch.recordings.remove(p)
                self.emit(ch, "RECORD_STOP", after=[("Record-File-Path", p)])
            return "+OK Success\n"
        return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"

    def hold(self, uuid: str, on: bool) -> bool:
        ch = self.get(uuid)
        if ch is None or not ch.answered:
            return False
        if ch.held != on:
            ch.held = on
            ch.call_state = "HELD" if on else "ACTIVE"
            if on:
                ch.set_time("Channel-Last-Hold")
            self.emit(ch, "CHANNEL_HOLD" if on else "CHANNEL_UNHOLD")
        return True

    # -- bridges, transfers, hangups ----------------------------------------------------------

    def bridge(self, a_uuid: str, b_uuid: str) -> bool:
        a, b = self.get(a_uuid), self.get(b_uuid)
        if a is None or b is None or a is b or not (a.answered or b.answered):
            return False
        for leg in (a, b):
            if leg.partner is not None:
                self._unbridge(leg)
            self.stop_playback(leg)
            self._unpark(leg)
            leg.set_state("CS_EXECUTE", "ACTIVE")
            leg.set_time("Channel-Bridged-Time")
        now = time.time()
        a.partner, b.partner = b, a
        a.bridge_a, b.bridge_a = True, False
        for leg, other in ((a, b), (b, a)):
            leg.set_vars([("bridge_to", other.uuid), ("signal_bond", other.uuid),
                          ("bridge_uuid", other.uuid), ("bridge_epoch", str(int(now))),
                          ("bridge_uepoch", usec(now)), ("last_bridge_to", other.uuid)])
        self.emit(a, "CHANNEL_BRIDGE", before=[("Bridge-A-Unique-ID", a.uuid),
                                               ("Bridge-B-Unique-ID", b.uuid)])
        if self.on_bridge is not None:
            self.on_bridge(a, b)
        return True

    def _unbridge(self, ch: Channel) -> Channel | None:
        other = ch.partner
        if other is None:
            return None
        a, b = (ch, other) if ch.bridge_a else (other, ch)
        self.emit(a, "CHANNEL_UNBRIDGE", before=[("Bridge-A-Unique-ID", a.uuid),
                                                 ("Bridge-B-Unique-ID", b.uuid)])
        ch.partner = other.partner = None
        return other

    def transfer(self, uuid: str, dest: str, dialplan: str = "XML",
                 context: str = "default") -> bool:
        """The channel leaves the ACD: it ends up elsewhere, so the sim hangs it up shortly,
        as the far end of the transfer would; a bridged partner is hung up."""
        ch = self.get(uuid)
        if ch is None:
            return False
        self.stop_playback(ch)
        self._unpark(ch)
        other = self._unbridge(ch)
        if other is not None:
            self.hangup(other, "NORMAL_CLEARING")
        index = str(int(ch.profile.get("Profile-Index", "1")) + 1)
        ch.set_profile(Destination_Number=dest, Context=context, Dialplan=dialplan,
                       Profile_Index=index)
        ch.set_time("Channel-Transfer-Time")
        ch.set_vars([("transfer_history", f"{int(time.time())}:{ch.uuid}:bl_xfer:"
                                          f"{dest}/{context}/{dialplan}")])
        ch.application, ch.application_data = "", ""
        if self.on_transfer is not None:
            self.on_transfer(ch)
        self.later(ch, "transferred", self.transfer_hangup_s,
                   lambda: self.hangup(ch, "NORMAL_CLEARING"))
        return True

    def kill(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        ch = self.get(uuid)
        if ch is None:
            return False
        self.hangup(ch, cause)
        return True

    def hangup(self, ch: Channel, cause: str = "NORMAL_CLEARING") -> None:
        if ch.hungup:
            return
        self._cancel_timers(ch)
        ch.hangup_cause = cause
        ch.set_state(ch.running_state, "HANGUP", "CS_HANGUP")
        ch.hungup = True
        ch.set_time("Channel-Hangup-Time")
        self.emit(ch, "CHANNEL_HANGUP")
        self.stop_playback(ch)
        self._unpark(ch)
        other = self._unbridge(ch)
        if other is not None:
            self.hangup(other, cause)  # hangup_after_bridge
        for path in ch.recordings:
            self.emit(ch, "RECORD_STOP", after=[("Record-File-Path", path)])
        ch.recordings.clear()
        ch.set_state("CS_REPORTING", None, "CS_REPORTING")
        ch.set_vars(self._cdr(ch, cause))
        self.emit(ch, "CHANNEL_HANGUP_COMPLETE")
        ch.set_state("CS_DESTROY", None, "CS_DESTROY")
        self.emit(ch, "CHANNEL_DESTROY")
        self.channels.pop(ch.uuid, None)
        self.hangups[cause] += 1
        fut, ch.originate = ch.originate, None
        if fut is not None and not fut.done():
            fut.set_result(cause)
        if self.on_hangup is not None:
            self.on_hangup(ch)

    def _cdr(self, ch: Channel, cause: str) -> list[tuple[str, str]]:
        end = time.time()
        answered = int(ch.profile.get("Channel-Answered-Time", "0")) / 1e6
        duration = end - ch.created
        bill = end - answered if answered else 0.0
        wait = (answered or end) - ch.created
        return [
            ("hangup_cause", cause), ("hangup_cause_q850", str(CAUSES.get(cause, 16))),
            ("start_epoch", str(int(ch.created))), ("start_uepoch", usec(ch.created)),
            ("end_epoch", str(int(end))), ("end_uepoch", usec(end)),
            ("duration", str(int(duration))), ("billsec", str(int(bill))),
            ("waitsec", str(int(wait))), ("mduration", str(int(duration * 1000))),
            ("billmsec", str(int(bill * 1000))), ("uduration", str(int(duration * 1e6))),
            ("billusec", str(int(bill * 1e6))),
        ]

    # -- reports ------------------------------------------------------------------------------

    def show_channels(self) -> list[dict[str, str]]:
        live = sorted((c for c in self.channels.values() if not c.hungup),
                      key=lambda c: c.created)
        return [c.row(self.core.hostname) for c in live]

    def status(self) -> str:
        n = len(self.channels)
        return (
            f"UP {self.core.uptime()}\n"
            "FreeSWITCH (Version 1.10.12-release cti-sim 64bit) is ready\n"
            f"{self.since_startup} session(s) since startup\n"
            f"{n} session(s) - peak {self.peak}, last 5min {self.peak}\n"
            "0 session(s) per Sec out of max 30, peak 0, last 5min 0\n"
            "1000 session(s) max\n"
            "min idle cpu 0.00/99.00\n"
            "Current Stack Size/Max 240K/8192K\n"
        )
