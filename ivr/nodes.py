"""The flow file's schema: one pydantic model per node type, the ``[flow]`` table, the prompt
catalogue and the map of dialed numbers to flows (``docs/ivr.md`` documents every key).

The models are frozen and are the compiled nodes too: a session reads them as they are. Each
node says where it can go (``edges``), which prompts it plays (``prompts``) and which queues it
names (``queues``), which is all the graph checks in ``ivr.checks`` need.

An edge either waits for the caller (a menu choice, digits that were accepted, a time in line)
or is taken on its own (after a prompt, a lookup, a branch, or when the caller typed nothing
until the retries ran out): a cycle made only of the latter is a loop with no caller input.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

__all__ = [
    "NODE_TYPES",
    "BranchNode",
    "CallbackNode",
    "CaseModel",
    "CatalogueModel",
    "CollectNode",
    "Edge",
    "FlowHeader",
    "HangupNode",
    "HoursNode",
    "LookupNode",
    "MapModel",
    "MenuNode",
    "Node",
    "PlayNode",
    "PromptModel",
    "QueueNode",
    "SayModel",
    "SetNode",
    "StageModel",
    "TransferNode",
    "VoicemailNode",
]

#: (key, target node, whether the edge waits for the caller).
Edge = tuple[str, str, bool]
Scalar = StrictStr | StrictBool | StrictInt | StrictFloat
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Level = Annotated[int, Field(ge=1, le=10)]

_DTMF = re.compile(r"[0-9*#]{1,8}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_variable(name: str) -> str:
    if not _VARIABLE.fullmatch(name):
        raise ValueError(f"{name!r} is not a variable name (letters, digits, _ and -, "
                         "dots between parts)")
    return name


def _check_pattern(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return pattern


Variable = Annotated[str, AfterValidator(_check_variable)]
Pattern = Annotated[str, AfterValidator(_check_pattern)]


class StageModel(_Model):
    after: float = Field(0.0, ge=0, allow_inf_nan=False)
    require: dict[str, Level] = Field(default_factory=dict)


Skills = dict[str, Level] | list[StageModel]


class _Base(_Model):
    def edges(self) -> list[Edge]:
        return []

    def prompts(self) -> list[tuple[str, str]]:
        """(key, prompt name) for every prompt the node plays."""
        return [(key, value) for key in _PROMPT_KEYS
                if isinstance(value := getattr(self, key, None), str)]

    def queues(self) -> list[tuple[str, str]]:
        value = getattr(self, "queue", None)
        return [("queue", value)] if isinstance(value, str) else []


_PROMPT_KEYS = ("prompt", "invalid_prompt", "timeout_prompt", "announce_prompt")


class SayModel(_Model):
    value: str
    kind: Literal["number", "digits", "currency", "date", "text"] = Field("number", alias="as")


class PlayNode(_Base):
    type: Literal["play"]
    prompt: str
    say: list[SayModel] = Field(default_factory=list)
    next: str

    def edges(self) -> list[Edge]:
        return [("next", self.next, False)]


class _Input(_Base):
    """What menus and digit collection share: the prompt, timers, retries and their prompts."""

    prompt: str
    timeout_s: Seconds = 5.0
    interdigit_s: Seconds = 3.0
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: str | None = None
    timeout_prompt: str | None = None


class MenuNode(_Input):
    type: Literal["menu"]
    choices: dict[str, str] = Field(min_length=1)
    default: str | None = None
    variable: Variable | None = None

    @field_validator("choices")
    @classmethod
    def _keys(cls, choices: dict[str, str]) -> dict[str, str]:
        for key in choices:
            if not _DTMF.fullmatch(key):
                raise ValueError(f"choice {key!r} is not keypad digits (0-9, * and #)")
        return choices

    @property
    def max_digits(self) -> int:
        return max(len(key) for key in self.choices)

    def edges(self) -> list[Edge]:
        out = [(f"choices.{key}", target, True) for key, target in self.choices.items()]
        if self.default is not None:
            out.append(("default", self.default, False))
        return out


class CollectNode(_Input):
    type: Literal["collect"]
    variable: Variable
    min_digits: int = Field(1, ge=1, le=64)
    max_digits: int = Field(16, ge=1, le=64)
    terminator: Literal["#", "*", ""] = "#"
    pattern: Pattern | None = None
    next: str
    on_failure: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError(f"min_digits ({self.min_digits}) is more than max_digits "
                             f"({self.max_digits})")
        return self

    def edges(self) -> list[Edge]:
        out = [("next", self.next, True)]
        if self.on_failure is not None:
            out.append(("on_failure", self.on_failure, False))
        return out


class LookupNode(_Base):
    type: Literal["lookup"]
    source: str = Field(min_length=1)
    key: Variable
    variable: Variable | None = None
    timeout_s: Seconds = 3.0
    next: str
    not_found: str | None = None
    fallback: str

    @property
    def store(self) -> str:
        """The variable the result is kept in."""
        return self.variable or self.source

    def edges(self) -> list[Edge]:
        out = [("next", self.next, False), ("fallback", self.fallback, False)]
        if self.not_found is not None:
            out.append(("not_found", self.not_found, False))
        return out


_OPS = ("equals", "not_equals", "in_", "gt", "ge", "lt", "le", "matches", "exists")


class CaseModel(_Model):
    var: Variable
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in")
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    matches: Pattern | None = None
    exists: bool | None = None
    next: str

    @model_validator(mode="after")
    def _one_test(self) -> CaseModel:
        if all(getattr(self, op) is None for op in _OPS):
            raise ValueError("a case needs a test: equals, not_equals, in, gt, ge, lt, le, "
                             "matches or exists")
        return self


class BranchNode(_Base):
    type: Literal["branch"]
    cases: list[CaseModel] = Field(min_length=1)
    default: str

    def edges(self) -> list[Edge]:
        out = [(f"cases[{i}].next", case.next, False) for i, case in enumerate(self.cases)]
        return [*out, ("default", self.default, False)]


class SetNode(_Base):
    type: Literal["set"]
    queue: str | None = None
    priority: float | None = Field(None, allow_inf_nan=False)
    skills: Skills | None = None
    data: dict[str, Scalar] = Field(default_factory=dict)
    next: str

    @field_validator("data")
    @classmethod
    def _names(cls, data: dict[str, Scalar]) -> dict[str, Scalar]:
        for name in data:
            _check_variable(name)
        return data

    def edges(self) -> list[Edge]:
        return [("next", self.next, False)]


class HoursNode(_Base):
    type: Literal["hours"]
    queue: str = Field(min_length=1)
    open: str
    closed: str
    holiday: str | None = None

    def edges(self) -> list[Edge]:
        out = [("open", self.open, False), ("closed", self.closed, False)]
        if self.holiday is not None:
            out.append(("holiday", self.holiday, False))
        return out


class QueueNode(_Base):
    type: Literal["queue"]
    queue: str | None = None
    priority: float | None = Field(None, allow_inf_nan=False)
    skills: Skills | None = None
    announce: list[Literal["position", "expected-wait"]] = Field(default_factory=list)
    announce_prompt: str | None = None
    announce_every_s: Seconds = 60.0
    max_wait_s: Seconds | None = None
    on_max_wait: str | None = None
    music: str | None = None

    @model_validator(mode="after")
    def _max_wait(self) -> QueueNode:
        if (self.max_wait_s is None) != (self.on_max_wait is None):
            raise ValueError("max_wait_s and on_max_wait go together: give both or neither")
        return self

    def edges(self) -> list[Edge]:
        # Time in line is not caller input, but an agent can take the call at any moment of
        # it, so a flow that goes round through a queue is waiting, not spinning.
        return [] if self.on_max_wait is None else [("on_max_wait", self.on_max_wait, True)]


class VoicemailNode(_Base):
    type: Literal["voicemail"]
    prompt: str
    max_s: Seconds = 120.0
    queue: str | None = None


class CallbackNode(_Base):
    type: Literal["callback"]
    queue: str | None = None
    number: str = "${caller}"
    prompt: str | None = None


class TransferNode(_Base):
    type: Literal["transfer"]
    number: str = Field(min_length=1)


class HangupNode(_Base):
    type: Literal["hangup"]
    prompt: str | None = None
    cause: str = "normal"


Node = (PlayNode | MenuNode | CollectNode | LookupNode | BranchNode | SetNode | HoursNode
        | QueueNode | VoicemailNode | CallbackNode | TransferNode | HangupNode)

#: Node type name -> its model.
NODE_TYPES: dict[str, type[_Base]] = {
    "play": PlayNode, "menu": MenuNode, "collect": CollectNode, "lookup": LookupNode,
    "branch": BranchNode, "set": SetNode, "hours": HoursNode, "queue": QueueNode,
    "voicemail": VoicemailNode, "callback": CallbackNode, "transfer": TransferNode,
    "hangup": HangupNode,
}


class FlowHeader(_Model):
    """The ``[flow]`` table."""

    name: str = ""
    start: str
    numbers: list[str] = Field(default_factory=list)
    prompts: str | None = None
    max_steps: int = Field(100, ge=1, le=10_000)
    on_step_limit: str | None = None
    prompt_timeout_s: Seconds = 120.0


class PromptModel(_Model):
    text: str = ""
    file: str | None = None


class CatalogueModel(_Model):
    """A prompt catalogue file: ``[prompts]`` names each prompt, as a text or a table."""

    prompts: dict[str, PromptModel | str]


class MapModel(_Model):
    """A map file: ``[numbers]`` names the flow file of each dialed number."""

    numbers: dict[str, str] = Field(min_length=1)
