"""Subscriptions by topic filter, as a tree of levels, for the built-in broker.

A publish walks down the tree along its topic's levels, following at each level the exact name,
``+`` (any one level) and ``#`` (everything below, the parent level included), so its cost grows
with the depth of the topic and the filters that match, not with the number of subscriptions.
Topics that start with ``$`` are not matched by a filter whose first level is a wildcard
[MQTT-4.7.2-1], so ``#`` does not see ``$SYS/...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["TopicTree", "filter_matches", "filter_problem", "is_shared"]

V = TypeVar("V")


def filter_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid topic filter, or None when it is."""
    if not pattern:
        return "an empty topic filter"
    levels = pattern.split("/")
    for i, part in enumerate(levels):
        if "#" in part and (part != "#" or i != len(levels) - 1):
            return f"'#' must be a whole level and the last: {pattern[:80]!r}"
        if "+" in part and part != "+":
            return f"'+' must be a whole level: {pattern[:80]!r}"
    return None


def is_shared(pattern: str) -> bool:
    """A shared subscription (``$share/group/filter``), which this broker does not offer."""
    return pattern.startswith("$share/")


class _Node(Generic[V]):
    __slots__ = ("children", "values")

    def __init__(self) -> None:
        self.children: dict[str, _Node[V]] = {}
        #: subscriber -> what it asked for, for the filter ending at this node.
        self.values: dict[str, V] = {}


class TopicTree(Generic[V]):
    def __init__(self) -> None:
        self._root: _Node[V] = _Node()
        self.count = 0

    def add(self, pattern: str, key: str, value: V) -> bool:
        """Subscribe ``key`` to ``pattern``; True if it is new (not a replacement)."""
        node = self._root
        for part in pattern.split("/"):
            node = node.children.setdefault(part, _Node())
        new = key not in node.values
        node.values[key] = value
        self.count += new
        return new

    def remove(self, pattern: str, key: str) -> bool:
        """Unsubscribe; False if ``key`` had no such subscription. Empty branches are pruned."""
        path = [self._root]
        for part in pattern.split("/"):
            child = path[-1].children.get(part)
            if child is None:
                return False
            path.append(child)
        if path[-1].values.pop(key, None) is None:
            return False
        self.count -= 1
        parts = pattern.split("/")
        for depth in range(len(parts), 0, -1):
            node = path[depth]
            if node.values or node.children:
                break
            del path[depth - 1].children[parts[depth - 1]]
        return True

    def match(self, topic: str) -> Iterator[tuple[str, V]]:
        """Every (subscriber, value) whose filter matches ``topic``; a subscriber appears once
        per matching filter."""
        levels = topic.split("/")
        last = len(levels)
        dollar = topic.startswith("$")
        stack: list[tuple[_Node[V], int]] = [(self._root, 0)]
        while stack:
            node, depth = stack.pop()
            children = node.children
            wild = not (dollar and depth == 0)
            if wild and "#" in children:
                yield from children["#"].values.items()
            if depth == last:
                yield from node.values.items()
                continue
            exact = children.get(levels[depth])
            if exact is not None:
                stack.append((exact, depth + 1))
            if wild and "+" in children:
                stack.append((children["+"], depth + 1))


def filter_matches(pattern: str, topic: str) -> bool:
    """Whether a valid filter matches a topic name, ``$`` topics included (see the module)."""
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False
    pat, top = pattern.split("/"), topic.split("/")
    for i, part in enumerate(pat):
        if part == "#":
            return True
        if i >= len(top) or (part != "+" and part != top[i]):
            return False
    return len(pat) == len(top)
