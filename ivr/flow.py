"""A compiled flow, and how TOML text becomes one: every node checked on its own (so one bad node
does not hide the others' mistakes), then the whole graph (``ivr.checks``).

Pure: texts in, a ``Flow`` or the list of problems out. ``ivr.loading`` reads the files (the flow,
its prompt catalogue, a map of numbers) and hands their texts here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ivr.checks import check_graph, check_prompts
from ivr.errors import FLOW, FlowError, Problem
from ivr.nodes import NODE_TYPES, CatalogueModel, FlowHeader, Node, PromptModel

if TYPE_CHECKING:
    from ivr.actions import Action
    from ivr.session import HoursFn, Session

__all__ = ["Flow", "compile_flow", "parse_catalogue", "parse_flow", "pydantic_problems"]

_NODE_ID = re.compile(r"[A-Za-z0-9_-]+")
_TYPES_HELP = ", ".join(NODE_TYPES)


@dataclass(frozen=True, slots=True, eq=False)
class Flow:
    """A valid flow: its nodes by id, the entry numbers it declares, its prompts' texts."""

    name: str
    source: str
    header: FlowHeader
    nodes: Mapping[str, Node]
    #: Prompt name -> its catalogue entry; None when the flow names no catalogue.
    catalogue: Mapping[str, PromptModel] | None = None

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(self.header.numbers)

    def start(
        self, call_id: str, variables: Mapping[str, object], now: float, *,
        hours: HoursFn | None = None, trace: bool = False,
    ) -> tuple[Session, list[Action]]:
        """A new session for a call at the start node, and its first actions.

        ``variables`` are what the driver knows of the call (``caller``, ``dialed``, ...); the
        flow reads them but does not attach them. ``hours(queue, now)`` answers ``"open"``,
        ``"closed"`` or ``"holiday"`` for the ``hours`` nodes (None: every queue is open).
        ``trace``: keep notes of each decision in ``session.trace`` (``cti ivr try`` shows them).
        """
        from ivr.session import Session  # noqa: PLC0415 - session.py needs Flow's type

        session = Session(self, call_id, variables, hours=hours, trace=trace)
        return session, session.begin(now)

    def queues(self) -> set[str]:
        """The queues the flow names (for checking against a site's configuration)."""
        return {name for node in self.nodes.values() for _, name in node.queues()}

    def prompt_text(self, prompt: str) -> str:
        entry = None if self.catalogue is None else self.catalogue.get(prompt)
        return entry.text if entry is not None else ""


def pydantic_problems(
    exc: ValidationError, source: str, node: str, prefix: str = "",
    keys: Callable[[], str] | None = None,
) -> list[Problem]:
    """One problem per pydantic error, with the key as a dotted path and our own wording for
    unknown and missing keys."""
    problems = []
    for err in exc.errors():
        path = prefix
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
        if err["type"] == "extra_forbidden":
            text = f"unknown key {str(err['loc'][-1])!r}" + (f"; {keys()}" if keys else "")
        elif err["type"] == "missing":
            text = "missing key"
        else:
            text = err["msg"].removeprefix("Value error, ")
        problems.append(Problem(source, node, f"{path}: {text}" if path else text))
    return problems


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _keys_of(model: type[BaseModel]) -> Callable[[], str]:
    def keys() -> str:
        names = [f.alias or name for name, f in model.model_fields.items() if name != "type"]
        return "its keys are " + ", ".join(names)
    return keys


def _node(source: str, ident: str, raw: object) -> tuple[Node | None, list[Problem]]:
    if not _NODE_ID.fullmatch(ident):
        return None, [Problem(source, ident, "node id: use letters, digits, _ and -")]
    if not isinstance(raw, dict):
        return None, [Problem(source, ident, "expected a table [nodes.ID] with a type")]
    kind = raw.get("type")
    if kind is None:
        return None, [Problem(source, ident, f"type: missing key; use one of {_TYPES_HELP}")]
    model = NODE_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None, [Problem(source, ident, f"type: unknown node type {kind!r}; use one of "
                              f"{_TYPES_HELP}")]
    try:
        node: Node = model.model_validate(raw)  # type: ignore[assignment]
    except ValidationError as exc:
        return None, pydantic_problems(exc, source, ident, keys=_keys_of(model))
    return node, []


def parse_catalogue(text: str, *, source: str) -> tuple[dict[str, PromptModel], list[Problem]]:
    """A prompt catalogue's entries (a bare string is the prompt's text), and its problems."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return {}, [Problem(source, "(syntax)", str(exc))]
    try:
        model = CatalogueModel.model_validate(raw)
    except ValidationError as exc:
        return {}, pydantic_problems(exc, source, "(catalogue)")
    return {name: PromptModel(text=entry) if isinstance(entry, str) else entry
            for name, entry in model.prompts.items()}, []


def compile_flow(
    text: str, *, source: str, name: str = "",
    catalogue: Mapping[str, PromptModel] | None = None, catalogue_name: str = "",
) -> tuple[Flow | None, list[Problem]]:
    """Check a flow's text; the flow (None if anything is wrong) and every problem found.
    ``catalogue``: the prompts to check against (None: prompt names are not checked)."""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem(source, FLOW, f"syntax: {exc}")]
    problems = [Problem(source, FLOW, f"unknown top-level key {key!r}; a flow file has [flow] "
                        "and [nodes.ID] tables") for key in raw if key not in ("flow", "nodes")]
    header: FlowHeader | None = None
    if "flow" not in raw:
        problems.append(Problem(source, FLOW, "missing the [flow] table (start = \"NODE\")"))
    else:
        try:
            header = FlowHeader.model_validate(raw["flow"])
        except ValidationError as exc:
            problems += pydantic_problems(exc, source, FLOW, "flow", _keys_of(FlowHeader))
    raw_nodes = raw.get("nodes", {})
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        problems.append(Problem(source, FLOW, "no nodes: add [nodes.ID] tables"))
        raw_nodes = {}
    nodes: dict[str, Node] = {}
    # An invalid node's edges are unknown: any node its table names may be one, so no node
    # is called unreachable because of another node's mistake.
    guessed: dict[str, list[str]] = {}
    for ident, table in raw_nodes.items():
        node, found = _node(source, ident, table)
        problems += found
        if node is not None:
            nodes[ident] = node
        else:
            guessed[ident] = [s for s in _strings(table) if s in raw_nodes]
    if header is not None:
        problems += check_graph(source, header, nodes, list(raw_nodes), guessed)
    if catalogue is not None:
        problems += check_prompts(source, nodes, catalogue, catalogue_name or "(catalogue)")
    if problems or header is None:
        return None, problems
    flow_name = header.name or name or source
    return Flow(flow_name, source, header, nodes, catalogue), []


def parse_flow(
    text: str, *, source: str = "<flow>", catalogue: Mapping[str, PromptModel] | None = None,
) -> Flow:
    """A valid flow from its text, or ``FlowError`` listing every problem."""
    flow, problems = compile_flow(text, source=source, catalogue=catalogue)
    if flow is None:
        raise FlowError(problems)
    return flow
