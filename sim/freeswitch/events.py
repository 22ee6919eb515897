"""Events as the simulated FreeSWITCH fires them: the header blocks real FreeSWITCH writes, in
its order, serialized once per format and shared by every listener.

An event is a list of ``Block``s: the core headers every event opens with (Event-Name,
Core-UUID, hostname, addresses, dates, where it was fired, Event-Sequence), then for channel
events the channel's state, its caller profile (``Caller-*``), the other leg's (``Other-Leg-*``)
and its variables (``variable_*``), with the event's own headers before or after them as the
real one places them (``Bridge-A-Unique-ID`` before the channel, ``Application`` after it). A
channel keeps its profile and variable blocks between events, so their URL-encoding, most of
an event's bytes, is done once per change rather than once per event.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import starmap

from adapters.esl.server import event_frame, serialize_json, serialize_plain, url_encode

__all__ = ["CALLED_FROM", "EVENT_NAMES", "Block", "Core", "SimEvent"]

#: Where real FreeSWITCH fires each event (file, function, line), as in the captures.
CALLED_FROM: dict[str, tuple[str, str, str]] = {
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "459"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value",
                         "3172"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered",
                               "3291"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3539"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1335"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1520"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3130"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c",
                                "switch_core_session_reporting_state", "696"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1298"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2718"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2749"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "898"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1101"),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", "1630"),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", "1672"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "513"),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", "1141"),
    "RECORD_STOP": ("switch_ivr_async.c", "record_callback", "1283"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "68"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1525"),
    "API": ("switch_loadable_module.c", "switch_api_execute", "2248"),
}

#: switch_event.c's EVENT_NAMES: what ``event``/``nixevent`` accept (ALL included).
EVENT_NAMES = frozenset((
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
    "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH",
    "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE",
    "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING",
    "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE",
    "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
    "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND",
    "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO",
    "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START", "RECORD_STOP",
    "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START",
    "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL",
))


@lru_cache(maxsize=65536)
def _header_line(name: str, value: str) -> str:
    # Cached: most lines repeat from event to event (names, states, the host, a channel's uuid
    # and variables in each of its events); building them was most of the simulated
    # FreeSWITCH's time at 500 calls/s.
    return f"{name}: {url_encode(value)}\n"


class Block:
    """Headers in order, URL-encoded for plain events on first use."""

    __slots__ = ("_plain", "pairs")

    def __init__(self, pairs: list[tuple[str, str]], plain: str | None = None) -> None:
        self.pairs = pairs
        self._plain = plain

    @property
    def plain(self) -> str:
        if self._plain is None:
            self._plain = "".join(starmap(_header_line, self.pairs))
        return self._plain


class SimEvent:
    """One fired event; its frames are built once per format and shared by the listeners."""

    __slots__ = ("_frames", "_lookup", "blocks", "body", "name")

    def __init__(self, name: str, blocks: list[Block], body: str | None = None) -> None:
        self.name = name
        self.blocks = blocks
        self.body = body
        self._frames: dict[str, bytes] = {}
        self._lookup: dict[str, str] | None = None

    def headers(self) -> Iterator[tuple[str, str]]:
        for block in self.blocks:
            yield from block.pairs

    def get(self, name: str) -> str | None:
        """A header, case-insensitively (``filter`` compares with switch_event_get_header)."""
        if self._lookup is None:
            lookup: dict[str, str] = {}
            for k, v in self.headers():
                lookup.setdefault(k.lower(), v)
            self._lookup = lookup
        return self._lookup.get(name.lower())

    def frame(self, fmt: str) -> bytes:
        frame = self._frames.get(fmt)
        if frame is None:
            if fmt == "json":
                payload = serialize_json(self.headers(), self.body)
            else:
                payload = serialize_plain("".join(b.plain for b in self.blocks), self.body)
            frame = self._frames[fmt] = event_frame(payload, fmt)
        return frame


class Core:
    """One FreeSWITCH instance's identity: Core-UUID, names, addresses, the event sequence."""

    def __init__(self, *, hostname: str | None = None, ipv4: str = "127.0.0.1",
                 ipv6: str = "::1") -> None:
        self.hostname = hostname or socket.gethostname()
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.core_uuid = str(uuid.uuid4())
        self.started = time.time()
        self.sequence = 0
        self._fixed = "".join(
            f"{k}: {url_encode(v)}\n" for k, v in (
                ("Core-UUID", self.core_uuid), ("FreeSWITCH-Hostname", self.hostname),
                ("FreeSWITCH-Switchname", self.hostname), ("FreeSWITCH-IPv4", ipv4),
                ("FreeSWITCH-IPv6", ipv6)))
        self._second = -1
        self._dates: tuple[str, str, str] = ("", "", "")

    def _date(self, now: float) -> tuple[str, str, str]:
        # The two date headers change once a second: encode them once a second.
        second = int(now)
        if second != self._second:
            local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            gmt = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(second))
            self._second = second
            self._dates = (local, gmt, f"Event-Date-Local: {url_encode(local)}\n"
                                       f"Event-Date-GMT: {url_encode(gmt)}\n")
        return self._dates

    def head(self, name: str, called_from: tuple[str, str, str] | None = None,
             now: float | None = None) -> Block:
        """The 13 headers every event opens with."""
        now = time.time() if now is None else now
        self.sequence += 1
        local, gmt, dates = self._date(now)
        file, func, line = called_from or CALLED_FROM.get(name, ("switch_event.c",
                                                                 "switch_event_fire", "1"))
        stamp = str(int(now * 1_000_000))
        seq = str(self.sequence)
        pairs = [
            ("Event-Name", name), ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname), ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4), ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", local), ("Event-Date-GMT", gmt),
            ("Event-Date-Timestamp", stamp), ("Event-Calling-File", file),
            ("Event-Calling-Function", func), ("Event-Calling-Line-Number", line),
            ("Event-Sequence", seq),
        ]
        plain = (f"Event-Name: {url_encode(name)}\n{self._fixed}{dates}"
                 f"Event-Date-Timestamp: {stamp}\nEvent-Calling-File: {file}\n"
                 f"Event-Calling-Function: {func}\nEvent-Calling-Line-Number: {line}\n"
                 f"Event-Sequence: {seq}\n")
        return Block(pairs, plain)

    def event(self, name: str, extra: Iterable[tuple[str, str]] = (), body: str | None = None,
              called_from: tuple[str, str, str] | None = None) -> SimEvent:
        """A core (not channel) event: the opening headers, then ``extra``."""
        return SimEvent(name, [self.head(name, called_from), Block(list(extra))], body)

    def uptime(self, now: float | None = None) -> str:
        """``0 years, 3 days, 4 hours, ...`` as status and HEARTBEAT write it."""
        us = int(((time.time() if now is None else now) - self.started) * 1_000_000)
        parts = []
        for unit, size in (("year", 365 * 86_400_000_000), ("day", 86_400_000_000),
                           ("hour", 3_600_000_000), ("minute", 60_000_000),
                           ("second", 1_000_000), ("millisecond", 1000), ("microsecond", 1)):
            n, us = divmod(us, size)
            parts.append(f"{n} {unit}{'' if n == 1 else 's'}")
        return ", ".join(parts)
