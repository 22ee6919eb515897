"""Flow files from disk: a flow with its prompt catalogue, or a map of dialed numbers to flows.

The only module of ``ivr`` that touches files, and only at load time (the daemon's start or
reload, ``cti ivr lint``); sessions never do. Paths inside a file (the catalogue, the flows of a
map) are relative to that file's directory.

A *flow file* has ``[flow]`` and ``[nodes.ID]`` tables and may list its entry numbers in
``flow.numbers``. A *map file* has one ``[numbers]`` table naming the flow file of each dialed
number. ``load_flows`` takes any mix of both and refuses a number claimed by two flows.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ivr.errors import FLOW, FlowError, Problem
from ivr.flow import Flow, compile_flow, parse_catalogue, pydantic_problems
from ivr.nodes import MapModel, PromptModel

__all__ = ["FlowMap", "check_files", "load_flow", "load_flows"]


@dataclass(frozen=True, slots=True)
class FlowMap:
    """The flows of a site by dialed number."""

    flows: Mapping[str, Flow]

    def for_number(self, dialed: str) -> Flow | None:
        return self.flows.get(dialed)


def _read(path: Path, node: str = FLOW) -> tuple[str | None, list[Problem]]:
    try:
        return path.read_text(encoding="utf-8"), []
    except OSError as exc:
        return None, [Problem(str(path), node, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), node, f"not UTF-8 text: {exc.reason}")]


def _catalogue_name(text: str) -> object:
    try:
        flow = tomllib.loads(text).get("flow")
    except tomllib.TOMLDecodeError:
        return None  # compile_flow reports the syntax error
    return flow.get("prompts") if isinstance(flow, dict) else None


def _flow(path: Path, catalogue: Path | None) -> tuple[Flow | None, list[Problem]]:
    text, problems = _read(path)
    if text is None:
        return None, problems
    prompts: Mapping[str, PromptModel] | None = None
    where = "--prompts" if catalogue is not None else "flow.prompts"
    if catalogue is None and isinstance(name := _catalogue_name(text), str):
        catalogue = path.parent / name
    if catalogue is not None:
        cat_text, problems = _read(catalogue)
        if cat_text is not None:
            entries, problems = parse_catalogue(cat_text, source=str(catalogue))
            prompts = None if problems else entries
        if problems:
            problems.insert(0, Problem(str(path), FLOW, f"{where}: the catalogue "
                                       f"{catalogue} has problems, prompts not checked"))
    flow, found = compile_flow(text, source=str(path), name=path.stem, catalogue=prompts,
                               catalogue_name=str(catalogue) if catalogue else "")
    return flow, problems + found


def load_flow(path: str | Path, *, catalogue: str | Path | None = None) -> Flow:
    """A valid flow from its file (and its catalogue: ``flow.prompts``, or ``catalogue``), or
    ``FlowError`` listing every problem."""
    flow, problems = _flow(Path(path), None if catalogue is None else Path(catalogue))
    if flow is None or problems:
        raise FlowError(problems)
    return flow


def _is_map(text: str) -> bool:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return "numbers" in raw and "nodes" not in raw and "flow" not in raw


class _Cache:
    """Each flow file is loaded (and its problems reported) once, however many numbers or
    arguments name it."""

    def __init__(self, catalogue: Path | None) -> None:
        self.catalogue = catalogue
        self.flows: dict[Path, Flow | None] = {}

    def flow(self, path: Path) -> tuple[Flow | None, list[Problem]]:
        key = path.resolve()
        if key in self.flows:
            return self.flows[key], []
        flow, problems = _flow(path, self.catalogue)
        self.flows[key] = flow
        return flow, problems


def _map(path: Path, text: str, cache: _Cache) -> tuple[dict[str, Flow], list[Problem]]:
    try:
        model = MapModel.model_validate(tomllib.loads(text))
    except ValidationError as exc:
        return {}, pydantic_problems(exc, str(path), "(map)")
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    for number, name in model.numbers.items():
        target = path.parent / name
        if not target.is_file():
            problems.append(Problem(str(path), "(map)", f"numbers.{number}: no flow file "
                                    f"{target}"))
            continue
        flow, found = cache.flow(target)
        problems += found
        if flow is not None:
            flows[number] = flow
    return flows, problems


def _collect(
    paths: tuple[str | Path, ...], catalogue: str | Path | None
) -> tuple[dict[str, Flow], list[Problem]]:
    cache = _Cache(None if catalogue is None else Path(catalogue))
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    for each in paths:
        path = Path(each)
        text, found = _read(path)
        problems += found
        if text is None:
            continue
        if _is_map(text):
            numbers, found = _map(path, text, cache)
            entries = list(numbers.items())
            where, prefix = str(path), "(map)"
        else:
            flow, found = cache.flow(path)
            entries = [] if flow is None else [(n, flow) for n in flow.numbers]
            where, prefix = str(path), FLOW
        problems += found
        for number, flow in entries:
            other = flows.get(number)
            if other is not None and other is not flow:
                problems.append(Problem(where, prefix, f"number {number!r} is already the entry "
                                        f"of {other.source}"))
            else:
                flows[number] = flow
    return flows, problems


def load_flows(*paths: str | Path, catalogue: str | Path | None = None) -> FlowMap:
    """The flows of flow files and map files by dialed number, or ``FlowError``."""
    flows, problems = _collect(paths, catalogue)
    if problems:
        raise FlowError(problems)
    return FlowMap(flows)


def check_files(*paths: str | Path, catalogue: str | Path | None = None) -> list[Problem]:
    """Every problem of the given flow and map files (what ``cti ivr lint`` prints)."""
    return _collect(paths, catalogue)[1]
