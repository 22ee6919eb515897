"""Outputs to the PBX (and one to the shell): what the switchboard wants done.

Adapters turn these into wire commands; the simulator turns them into scheduled events. All
are frozen slotted dataclasses, except the two of every call (``ParkWithMusic``,
``ConnectAgent``), which are value classes for speed (``cti.core.records`` says what that means).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cti.core.records import EMPTY

__all__ = [
    "Announce",
    "CancelOffer",
    "CollectDigits",
    "Command",
    "ConnectAgent",
    "HangUp",
    "LookupCustomer",
    "LookupData",
    "ParkWithMusic",
    "PbxCommand",
    "Play",
    "PlayPrompt",
    "PromptFile",
    "Record",
    "Redirect",
    "SayValue",
    "SetHold",
]


class Command:
    __slots__ = ()


class PbxCommand(Command):
    __slots__ = ()


@dataclass(slots=True, init=False, unsafe_hash=True)
class ParkWithMusic(PbxCommand):
    """Hold the caller in queue with music on hold."""

    call_id: Final[str]
    music: Final[str]

    def __init__(self, call_id: str, music: str = "default") -> None:
        self.call_id = call_id
        self.music = music


@dataclass(slots=True, init=False, unsafe_hash=True)
class ConnectAgent(PbxCommand):
    """Ring the agent's endpoint and bridge the call when they answer.

    For a callback (``callback_number`` set) the caller has hung up: ring the agent first, then
    dial the customer on that number.
    """

    call_id: Final[str]
    agent_id: Final[str]
    endpoint: Final[str]
    timeout_s: Final[float]
    #: Channel variables to set on the agent leg (call id, queue, attached data).
    variables: Final[Mapping[str, object]]
    callback_number: Final[str | None]

    def __init__(
        self, call_id: str, agent_id: str, endpoint: str, timeout_s: float,
        variables: Mapping[str, object] = EMPTY, callback_number: str | None = None,
    ) -> None:
        self.call_id = call_id
        self.agent_id = agent_id
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.variables = variables
        self.callback_number = callback_number


@dataclass(frozen=True, slots=True)
class CancelOffer(PbxCommand):
    """Stop ringing the agent (the caller hung up, or the offer was withdrawn)."""

    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Play(PbxCommand):
    call_id: str
    prompt: str


@dataclass(frozen=True, slots=True)
class Record(PbxCommand):
    """Record a voicemail; the PBX answers with ``RecordingDone``."""

    call_id: str
    prompt: str = "leave-message"
    max_s: float = 120.0
    #: The prompt's recording from an IVR flow's catalogue; None: the adapter's own naming.
    prompt_file: str | None = None


@dataclass(frozen=True, slots=True)
class Redirect(PbxCommand):
    """Send the call out of the ACD to ``destination`` (an outside number)."""

    call_id: str
    destination: str


@dataclass(frozen=True, slots=True)
class PromptFile:
    """A prompt of an IVR flow: its name in the flow's catalogue and the recording (``None``
    when the catalogue gives no file: the adapter's own naming, e.g. ``{prompts}/{name}.wav``),
    with its text for adapters that can speak it instead."""

    name: str
    file: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class SayValue:
    """A value spoken after a prompt; ``kind`` is ``number``, ``digits``, ``currency``, ``date``
    or ``text`` (FreeSWITCH ``say``)."""

    value: str
    kind: str = "number"


@dataclass(frozen=True, slots=True)
class PlayPrompt(PbxCommand):
    """IVR: play ``prompts`` in order, then speak ``say``; keys typed meanwhile are not wanted.
    The PBX answers ``PromptDone(call_id, step)`` when it has finished."""

    call_id: str
    #: Counts the media commands of the call's IVR session; events carry it back, so a late
    #: report about an earlier prompt is told apart from one about this one.
    step: int
    prompts: tuple[PromptFile, ...]
    say: tuple[SayValue, ...] = ()


@dataclass(frozen=True, slots=True)
class CollectDigits(PbxCommand):
    """IVR: play ``prompts`` (the caller may type over them: stop at the first key) and collect
    DTMF for menu or collect node ``node`` (``attempt`` counts from 1 per visit).

    The PBX reports ``PromptDone(call_id, step)`` when the prompts end and forwards keys with
    ``DigitsEntered`` as they come (one by one or as a string). The switchboard's session owns
    the timers; ``min_digits``, ``max_digits``, ``terminator`` (``""``: none), ``timeout_s``
    (no key after the prompts) and ``interdigit_s`` are for PBXs that collect on their own
    (FreeSWITCH ``play_and_get_digits``) and then report the string, or ``DigitsTimedOut``
    when nothing was typed.
    """

    call_id: str
    step: int
    node: str
    attempt: int
    prompts: tuple[PromptFile, ...]
    min_digits: int
    max_digits: int
    terminator: str
    timeout_s: float
    interdigit_s: float


@dataclass(frozen=True, slots=True)
class Announce(PbxCommand):
    """IVR: tell a caller waiting in line their place and expected wait (either may be None:
    not announced), with a comfort ``prompt``; then back to the queue's music."""

    call_id: str
    position: int | None
    expected_wait_s: float | None
    prompt: PromptFile | None = None


@dataclass(frozen=True, slots=True)
class HangUp(PbxCommand):
    call_id: str
    cause: str = "normal"
    #: Played before the line is cleared (an IVR's goodbye, a callback's confirmation): the PBX
    #: hangs up when it ends. The call has ended for the switchboard already.
    prompt: PromptFile | None = None


@dataclass(frozen=True, slots=True)
class SetHold(PbxCommand):
    call_id: str
    hold: bool


@dataclass(frozen=True, slots=True)
class LookupCustomer(Command):
    """For the shell: find the customer for ``caller`` and answer with ``CustomerLookupDone``.

    The switchboard does not wait: the call is routed without a record if the answer comes later
    than the configured lookup timeout.
    """

    call_id: str
    caller: str


@dataclass(frozen=True, slots=True)
class LookupData(Command):
    """For the shell: an IVR flow asks data source ``source`` (``customer``: the store's customer
    table; others: the site's sources) about ``key``. Answer with ``DataLookupDone`` (``record``
    None when nothing matched) or ``DataLookupFailed``, naming ``request``; the flow goes on
    without an answer after ``timeout_s``."""

    call_id: str
    request: int
    source: str
    key: str
    timeout_s: float
