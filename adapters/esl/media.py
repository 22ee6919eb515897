"""IVR media over the Event Socket: prompts, digit collection and announcements as FreeSWITCH
applications run on the caller's channel with ``sendmsg``.

Why ``sendmsg`` and not ``uuid_broadcast``: an application's arguments travel in a header of
their own (``play_and_get_digits`` takes ten, separated by spaces, which ``uuid_broadcast``'s
command line cannot carry), and the ``Event-UUID`` given with the message comes back as the
``Application-UUID`` of the CHANNEL_EXECUTE_COMPLETE that ends it, so each completion is
matched to the very command that started it (DESIGN.md's "events carry the step back").
FreeSWITCH runs a channel's messages one after another, after the application it is running
(a parked channel takes them at once), so a prompt, the digits after it and a hang-up after a
goodbye happen in the order given.

- ``PlayPrompt``: ``playback`` of the prompts (one ``file_string://`` for several), then one
  ``say`` per value; ``PromptDone`` when the last of them completes.
- ``CollectDigits``: ``play_and_get_digits`` with one try (the flow's session counts retries
  and owns the timeouts), into a channel variable of its own per step, so a value left from an
  earlier collection can never be read as this one's; the terminator FreeSWITCH strips is put
  back from ``read_terminator_used``, so the session sees what the caller typed. Its
  completion gives ``PromptDone`` and then ``DigitsEntered`` (or ``DigitsTimedOut`` when
  nothing was typed).
- ``Announce`` (a caller waiting in line): ``uuid_break`` ends the music, the announcement
  plays, and the queue's music starts again behind it.
- ``HangUp`` with a prompt: the prompt, then ``call-command: hangup`` behind it.

Sans-IO like ``CallControl``: what goes to FreeSWITCH is handed to ``send`` (a ``str`` is a
``bgapi`` command, a ``SendMsg`` a ``sendmsg``); what comes back is ``on_complete``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cti.core import (
    Announce,
    CollectDigits,
    DigitsEntered,
    DigitsTimedOut,
    PlayPrompt,
    PromptDone,
    PromptFile,
    SayValue,
)
from cti.core import Event as CoreEvent

__all__ = ["IvrMedia", "SendMsg"]

#: ``say`` application arguments by the kind of value (mod_say's type and method).
_SAY: dict[str, str] = {
    "number": "number pronounced",
    "digits": "number iterated",
    "currency": "currency pronounced",
    "date": "current_date pronounced",
    "text": "name_spelled iterated",
}

#: The channel variable ``play_and_get_digits`` stores the keys in, one per step.
DIGITS_VAR = "cti_ivr_digits_{step}"

_UNSAFE = re.compile(r"[\s'\"\\{},]")


@dataclass(frozen=True, slots=True)
class SendMsg:
    """One ``sendmsg <uuid>`` with its headers (for ``EslClient.sendmsg_then``)."""

    uuid: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Pending:
    call_id: str
    step: int
    #: ``True``: the completion of a ``play_and_get_digits``; False: of the last prompt.
    collect: bool


def _clean(value: object) -> str:
    """One argument: no spaces or quotes that would split it, no newline (a second header)."""
    return _UNSAFE.sub("_", str(value))


class IvrMedia:
    def __init__(
        self,
        send: Callable[[str | SendMsg], None],
        submit: Callable[[CoreEvent], bool],
        new_uuid: Callable[[], str],
        *,
        prompts: str,
        language: str = "en",
    ) -> None:
        self._send = send
        self._submit = submit
        self._new_uuid = new_uuid
        self.prompts = prompts
        self.language = language
        #: Application-UUID -> what its completion means.
        self._pending: dict[str, _Pending] = {}

    # -- commands -----------------------------------------------------------------------------

    def play(self, uuid: str, cmd: PlayPrompt) -> None:
        apps: list[tuple[str, str]] = []
        if cmd.prompts:
            apps.append(("playback", self.files(cmd.prompts)))
        apps += [self._say(value) for value in cmd.say]
        if not apps:  # nothing to play: done at once
            self._submit(PromptDone(cmd.call_id, cmd.step))
            return
        for n, (app, arg) in enumerate(apps):
            last = n == len(apps) - 1
            self._execute(uuid, app, arg,
                          _Pending(cmd.call_id, cmd.step, collect=False) if last else None)

    def collect(self, uuid: str, cmd: CollectDigits) -> None:
        var = DIGITS_VAR.format(step=cmd.step)
        self._execute(uuid, "set", f"cti_ivr_node={_clean(cmd.node)}")
        self._execute(uuid, "unset", "read_terminator_used")
        terminators = _clean(cmd.terminator) or "none"
        files = self.files(cmd.prompts) if cmd.prompts else "silence_stream://1"
        arg = (f"{cmd.min_digits} {cmd.max_digits} 1 {max(1, round(cmd.timeout_s * 1000))} "
               f"{terminators} {files} silence_stream://1 {var} [0-9*#]+ "
               f"{max(1, round(cmd.interdigit_s * 1000))}")
        self._execute(uuid, "play_and_get_digits", arg,
                      _Pending(cmd.call_id, cmd.step, collect=True))

    def announce(self, uuid: str, cmd: Announce, music: str) -> None:
        parts: list[tuple[str, str]] = []
        if cmd.prompt is not None:
            parts.append(("playback", self.files((cmd.prompt,))))
        if cmd.position is not None:
            parts.append(self._say(SayValue(str(cmd.position), "number")))
        if cmd.expected_wait_s is not None:
            minutes = max(1, round(cmd.expected_wait_s / 60))
            parts.append(self._say(SayValue(str(minutes), "number")))
        if not parts:
            return
        self._send(f"uuid_break {uuid} all")  # the music, so what follows plays now
        for app, arg in parts:
            self._execute(uuid, app, arg)
        self._execute(uuid, "playback", music)

    def goodbye(self, uuid: str, prompt: PromptFile, cause: str) -> None:
        self._execute(uuid, "playback", self.files((prompt,)))
        self._send(SendMsg(uuid, {"call-command": "hangup", "hangup-cause": cause}))

    # -- FreeSWITCH's answers -------------------------------------------------------------------

    def on_complete(self, h: Mapping[str, str]) -> None:
        """A CHANNEL_EXECUTE_COMPLETE: if it ends one of ours, tell the switchboard."""
        pending = self._pending.pop(h.get("Application-UUID", ""), None)
        if pending is None:
            return
        if h.get("Channel-Call-State") == "HANGUP":
            # The caller hung up mid-prompt: FreeSWITCH ends the application before it
            # reports the hang-up, which is all the switchboard needs to hear.
            return
        self._submit(PromptDone(pending.call_id, pending.step))
        if not pending.collect:
            return
        digits = h.get(f"variable_{DIGITS_VAR.format(step=pending.step)}", "") or ""
        digits += h.get("variable_read_terminator_used", "") or ""
        if digits:
            self._submit(DigitsEntered(pending.call_id, digits, pending.step))
        else:
            self._submit(DigitsTimedOut(pending.call_id, pending.step))

    def forget(self, call_id: str) -> None:
        """The call is gone: completions of its applications mean nothing now."""
        for app_uuid in [u for u, p in self._pending.items() if p.call_id == call_id]:
            del self._pending[app_uuid]

    # -- plumbing -----------------------------------------------------------------------------

    def files(self, prompts: Sequence[PromptFile]) -> str:
        paths = [self._path(p) for p in prompts]
        return paths[0] if len(paths) == 1 else "file_string://" + "!".join(paths)

    def _path(self, prompt: PromptFile) -> str:
        name = prompt.file or f"{prompt.name}.wav"
        if name.startswith("/") or "://" in name:
            return _clean(name)
        return f"{self.prompts}/{_clean(name)}"

    def _say(self, value: SayValue) -> tuple[str, str]:
        how = _SAY.get(value.kind, _SAY["number"])
        return "say", f"{_clean(self.language)} {how} {_clean(value.value)}"

    def _execute(self, uuid: str, app: str, arg: str, pending: _Pending | None = None) -> None:
        headers = {"call-command": "execute", "execute-app-name": app,
                   "execute-app-arg": arg, "event-lock": "true"}
        if pending is not None:
            app_uuid = self._new_uuid()
            headers["Event-UUID"] = app_uuid
            self._pending[app_uuid] = pending
        self._send(SendMsg(uuid, headers))
