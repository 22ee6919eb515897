"""The checks that need the whole flow: targets, reachability, loops without caller input, and
prompts missing from the catalogue. Each returns every problem it finds, in file order.

Loops. An edge either waits for the caller or is taken on its own (``ivr.nodes``). The strongly
connected components of the graph of edges taken on their own (Tarjan's algorithm, iterative)
are exactly its cycles: any component of more than one node, or a node with an edge to itself,
is a loop a caller who does nothing goes round forever.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ivr.errors import FLOW, Problem
from ivr.nodes import FlowHeader, Node, PromptModel

__all__ = ["check_graph", "check_prompts", "silent_cycles"]


def check_graph(
    source: str, header: FlowHeader, nodes: Mapping[str, Node], every: Sequence[str],
    guessed: Mapping[str, list[str]],
) -> list[Problem]:
    """``nodes`` are the valid nodes; ``every`` every node id of the file in order, valid or
    not, so a target naming a node that has problems of its own is not reported twice;
    ``guessed`` the nodes each invalid node may lead to."""
    known = frozenset(every)
    problems: list[Problem] = []
    for key, target in (("start", header.start), ("on_step_limit", header.on_step_limit)):
        if target is not None and target not in known:
            problems.append(Problem(source, FLOW, f"{key}: no node {target!r}{_hint(known)}"))
    for ident, node in nodes.items():
        for key, target, _ in node.edges():
            if target not in known:
                problems.append(Problem(source, ident, f"{key}: no node {target!r}{_hint(known)}"))
    roots = [t for t in (header.start, header.on_step_limit) if t is not None and t in known]
    reached = _reachable(roots, nodes, guessed)
    problems += [Problem(source, ident, f"unreachable: no path from the start "
                         f"{header.start!r} leads here") for ident in every if ident not in reached]
    problems += [Problem(
        source, cycle[0], "loop with no caller input: " + " -> ".join([*cycle, cycle[0]])
        + " (a caller who presses nothing goes round forever)",
    ) for cycle in silent_cycles(nodes)]
    return problems


def _hint(known: frozenset[str]) -> str:
    return f"; the nodes are {', '.join(sorted(known))}" if 0 < len(known) <= 12 else ""


def _reachable(
    roots: list[str], nodes: Mapping[str, Node], guessed: Mapping[str, list[str]]
) -> set[str]:
    seen = set(roots)
    stack = list(roots)
    while stack:
        ident = stack.pop()
        node = nodes.get(ident)
        targets = guessed.get(ident, []) if node is None else [t for _, t, _ in node.edges()]
        for target in targets:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def silent_cycles(nodes: Mapping[str, Node]) -> list[list[str]]:
    """The cycles made only of edges taken without caller input, each as its nodes in file
    order (one list per strongly connected component)."""
    graph = {
        ident: [t for _, t, waits in node.edges() if not waits and t in nodes]
        for ident, node in nodes.items()
    }
    order = {ident: i for i, ident in enumerate(nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            ident, i = work.pop()
            if i == 0:
                index[ident] = low[ident] = len(index)
                stack.append(ident)
                on_stack.add(ident)
            targets = graph[ident]
            if i < len(targets):
                work.append((ident, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[ident] = min(low[ident], index[target])
                continue
            if work:  # returning to the caller: propagate low
                parent = work[-1][0]
                low[parent] = min(low[parent], low[ident])
            if low[ident] == index[ident]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == ident:
                        break
                if len(component) > 1 or ident in graph[ident]:
                    cycles.append(_ordered(component, graph, order))
    cycles.sort(key=lambda c: order[c[0]])
    return cycles


def _ordered(component: list[str], graph: Mapping[str, list[str]],
             order: Mapping[str, int]) -> list[str]:
    """The component as a walk from its first node in file order, following edges where it can,
    so the message reads as the path a caller takes."""
    members = set(component)
    start = min(component, key=order.__getitem__)
    path = [start]
    seen = {start}
    while True:
        nxt = next((t for t in graph[path[-1]] if t in members and t not in seen), None)
        if nxt is None:
            break
        path.append(nxt)
        seen.add(nxt)
    path += sorted(members - seen, key=order.__getitem__)
    return path


def check_prompts(
    source: str, nodes: Mapping[str, Node], catalogue: Mapping[str, PromptModel],
    catalogue_name: str,
) -> list[Problem]:
    problems = []
    for ident, node in nodes.items():
        for key, prompt in node.prompts():
            if prompt not in catalogue:
                problems.append(Problem(source, ident, f"{key}: prompt {prompt!r} is not in "
                                        f"the catalogue {catalogue_name}"))
    return problems
