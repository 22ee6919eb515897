"""``sendmsg`` in the simulated FreeSWITCH: the applications an ESL client runs on a channel.

FreeSWITCH queues a channel's messages and runs them one after another, each after the
application the channel is running ends (music on hold runs until ``uuid_break``; a parked
channel takes them at once). Each execute gets CHANNEL_EXECUTE and, when it ends,
CHANNEL_EXECUTE_COMPLETE whose ``Application-UUID`` is the message's ``Event-UUID``.

Applications: ``playback`` (a file, or ``file_string://a!b``; each file plays for the
switch's prompt length, or its own from ``Switch.prompts``), ``say`` (``say_s``), ``set`` and
``unset``, and ``play_and_get_digits``, whose caller is the traffic driver's ``keys`` hook:
given the channel and the application's arguments it says how long after the prompts the
caller takes, what they type (``""``: nothing) and whether they hang up instead. The keys
arrive as DTMF events, then the digits (without the terminator) are stored in the named
variable and the terminator in ``read_terminator_used``, as FreeSWITCH's ``switch_ivr_read``
does. ``call-command: hangup`` hangs the channel up in its turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.freeswitch.channels import Channel
    from sim.freeswitch.switch import Switch

__all__ = ["Collect", "KeysHook", "Message", "Messages"]


@dataclass(frozen=True, slots=True)
class Collect:
    """``play_and_get_digits``'s arguments, as the caller model sees them."""

    min_digits: int
    max_digits: int
    timeout_ms: int
    terminators: str
    files: str
    variable: str


#: (channel, what is asked) -> (seconds after the prompts, keys typed, hangs up instead).
KeysHook = Callable[["Channel", Collect], tuple[float, str, bool]]


@dataclass(frozen=True, slots=True)
class Message:
    command: str  # "execute" or "hangup"
    app: str = ""
    arg: str = ""
    event_uuid: str = ""


APPS = frozenset({"playback", "say", "set", "unset", "play_and_get_digits"})


class Messages:
    """Every channel's queue of messages, run in turn."""

    def __init__(self, switch: Switch, *, say_s: float = 1.0) -> None:
        self.switch = switch
        self.say_s = say_s
        self.keys: KeysHook = lambda ch, ask: (ask.timeout_ms / 1000, "", False)
        self._queues: dict[str, deque[Message]] = {}

    def sendmsg(self, uuid: str, headers: Mapping[str, str]) -> str:
        """The command/reply text FreeSWITCH gives a ``sendmsg``; ``headers`` with their
        names in lower case (FreeSWITCH reads them regardless of case)."""
        ch = self.switch.get(uuid)
        if ch is None:
            return f"-ERR invalid session id [{uuid}]"
        command = (headers.get("call-command") or "").lower()
        if command == "hangup":
            message = Message("hangup", arg=headers.get("hangup-cause") or "NORMAL_CLEARING")
        elif command == "execute":
            app = headers.get("execute-app-name") or ""
            if app not in APPS:
                return f"-ERR the simulated FreeSWITCH cannot execute {app!r}"
            message = Message("execute", app, headers.get("execute-app-arg") or "",
                              headers.get("event-uuid") or "")
        else:
            return f"-ERR unsupported call-command {command!r}"
        self._queues.setdefault(uuid, deque()).append(message)
        self.pump(ch)
        return "+OK"

    def pump(self, ch: Channel) -> None:
        """Run the channel's next messages while nothing else plays on it."""
        queue = self._queues.get(ch.uuid)
        while queue and not ch.hungup and ch.playback is None:
            message = queue.popleft()
            if message.command == "hangup":
                queue.clear()
                self.switch.hangup(ch, message.arg)
                break
            self._execute(ch, message)
        if ch.hungup or not queue:
            self._queues.pop(ch.uuid, None)

    def _execute(self, ch: Channel, m: Message) -> None:
        sw = self.switch
        if m.app in ("set", "unset"):
            name, _, value = m.arg.partition("=")
            sw.run_app(ch, m.app, m.arg, m.event_uuid)
            ch.set_var(name.strip(), value if m.app == "set" else None)
            sw.app_done(ch, m.app, m.arg, "_none_")
            return
        if m.app == "say":
            sw.run_app(ch, m.app, m.arg, m.event_uuid)
            ch.playback = (m.app, m.arg)
            sw.later(ch, "playback", self.say_s, lambda: sw.played(ch, self.say_s))
            return
        if m.app == "playback":
            length = self._length(m.arg)
            sw.run_app(ch, m.app, m.arg, m.event_uuid)
            ch.playback = (m.app, m.arg)
            sw.later(ch, "playback", length, lambda: sw.played(ch, length))
            return
        self._collect(ch, m)

    def _collect(self, ch: Channel, m: Message) -> None:
        sw = self.switch
        words = m.arg.split()
        try:
            ask = Collect(int(words[0]), int(words[1]), int(words[3]), words[4], words[5],
                          words[7])
        except (IndexError, ValueError):
            sw.run_app(ch, m.app, m.arg, m.event_uuid)
            sw.app_done(ch, m.app, m.arg, "_none_")  # FreeSWITCH logs the usage and goes on
            return
        after_s, keys, hangs_up = self.keys(ch, ask)
        sw.run_app(ch, m.app, m.arg, m.event_uuid)
        ch.playback = (m.app, m.arg)
        total = self._length(ask.files) + max(0.0, after_s)
        if hangs_up:
            sw.later(ch, "playback", total, lambda: sw.hangup(ch, "NORMAL_CLEARING"))
            return

        def typed() -> None:
            if keys:
                sw.send_dtmf(ch.uuid, keys)
            digits, terminator = keys, ""
            if digits and digits[-1] in ask.terminators:
                digits, terminator = digits[:-1], digits[-1]
            ch.set_var(ask.variable, digits or None)
            ch.set_var("read_terminator_used", terminator or None)
            sw.played(ch, total)

        sw.later(ch, "playback", total, typed)

    def _length(self, files: str) -> float:
        paths = files.removeprefix("file_string://").split("!")
        prompts, default = self.switch.prompts, self.switch.prompt_s
        return sum(0.0 if p.startswith("silence_stream://") else prompts.get(p, default)
                   for p in paths)
