"""What a session asks its driver to do: frozen slotted dataclasses, one per kind of action.

The switchboard turns them into PBX commands (``Play``, ``CollectDigits``, ``HangUp``, ...), into
requests to the shell (``Lookup``) or into routing (``Enqueue``, ``Callback``, ``Voicemail``).
Each carries the call's id so it can be forwarded as it is. The *terminal* actions (``Enqueue``,
``Voicemail``, ``Callback``, ``Transfer``, ``HangUp``) hand the call out of the flow; a session
emits exactly one of them at the end of each walk through the flow (an ``Enqueue`` with
``max_wait_s`` set can be followed by more, see ``Session.on_max_wait``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "TERMINAL",
    "Action",
    "Announcements",
    "Callback",
    "CollectDigits",
    "Enqueue",
    "HangUp",
    "Lookup",
    "Play",
    "Say",
    "SkillStage",
    "Transfer",
    "Voicemail",
]

_EMPTY: Mapping[str, object] = MappingProxyType({})


class Action:
    """Base of everything a session returns."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Say:
    """A value spoken after a prompt (``kind``: ``number``, ``digits``, ``currency``, ``date``
    or ``text``), as FreeSWITCH's ``say`` does."""

    value: str
    kind: str = "number"


@dataclass(frozen=True, slots=True)
class SkillStage:
    """One stage of a call's skill requirement: from ``after_s`` seconds of waiting, agents need
    at least these levels (1 to 10). The switchboard builds an ``acd.SkillSchedule`` from them."""

    after_s: float
    require: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Announcements:
    """What to tell a caller waiting in a queue, every ``every_s`` seconds (first after
    ``every_s``): their position, the expected wait, and/or a comfort ``prompt``."""

    every_s: float
    position: bool = False
    expected_wait: bool = False
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Play(Action):
    """Play ``prompt`` (then speak ``say``); the driver answers with ``on_playback_done``."""

    call_id: str
    prompt: str
    say: tuple[Say, ...] = ()


@dataclass(frozen=True, slots=True)
class CollectDigits(Action):
    """Play ``prompts`` in order (the caller may type over them) and collect DTMF.

    The driver reports ``on_playback_done`` when the prompts end (the no-input timer starts
    then) and forwards digits with ``on_digits`` as they come, one by one or as a string. The
    session owns every timer (``next_deadline``); ``timeout_s`` and the rest are here for
    drivers that collect on the PBX instead (FreeSWITCH ``play_and_get_digits``) and then report
    the string, or ``""`` for nothing typed. ``attempt`` counts from 1 for each visit of ``node``.
    """

    call_id: str
    node: str
    attempt: int
    prompts: tuple[str, ...]
    min_digits: int
    max_digits: int
    terminator: str
    timeout_s: float
    interdigit_s: float


@dataclass(frozen=True, slots=True)
class Lookup(Action):
    """For the shell: ask data source ``source`` about ``key`` and answer with
    ``on_lookup_result(result, now, request=request)`` (None when nothing matched) or
    ``on_lookup_failed``; without an answer within ``timeout_s`` the session goes on without."""

    call_id: str
    request: int
    source: str
    key: str
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Enqueue(Action):
    """Hand the call to a queue with what the flow collected.

    ``queue`` None: the queue the dialed number routes to; ``priority`` and ``skills`` None: the
    queue's own. ``max_wait_s`` set: after that long in line the driver calls
    ``Session.on_max_wait`` instead of the queue's own ``on_max_wait`` target, and the caller keeps
    their place in line until the flow's next terminal action says otherwise (an ``Enqueue``
    to the queue it is in, or a ``Callback``, keeps the place; anything else takes it out).
    """

    call_id: str
    queue: str | None
    priority: float | None = None
    skills: tuple[SkillStage, ...] | None = None
    data: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    announcements: Announcements | None = None
    max_wait_s: float | None = None
    music: str | None = None


@dataclass(frozen=True, slots=True)
class Voicemail(Action):
    """Record a message (after ``prompt``), then open a voicemail ticket for ``queue`` carrying
    ``data``."""

    call_id: str
    prompt: str
    max_s: float
    queue: str | None
    data: Mapping[str, object] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Callback(Action):
    """Offer accepted: open a callback ticket, keep the call's place in ``queue`` (or give it
    one, from now, if it was not in line), play ``prompt`` and hang up; the call is dialled out
    to ``number`` when it reaches the head of the queue."""

    call_id: str
    queue: str | None
    number: str
    priority: float | None = None
    skills: tuple[SkillStage, ...] | None = None
    data: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer(Action):
    """Send the call out of the ACD to an outside ``number``."""

    call_id: str
    number: str
    data: Mapping[str, object] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class HangUp(Action):
    """End the call (after ``prompt``, if any). ``cause`` ``normal`` is a call finished in
    self-service; the session's own causes start with ``ivr-``."""

    call_id: str
    cause: str = "normal"
    prompt: str | None = None
    data: Mapping[str, object] = field(default_factory=lambda: _EMPTY)


#: The actions that hand the call out of the flow.
TERMINAL: tuple[type[Action], ...] = (Enqueue, Voicemail, Callback, Transfer, HangUp)
