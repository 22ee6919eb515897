"""A session's variables: dotted names, ``${name}`` templates and the tests of ``branch`` cases.

A name is looked up first in what the flow produced (digits collected, lookup results, ``set``
data), then in what the driver passed at the start (``caller``, ``dialed``, ...). ``bill.amount``
is the key ``amount`` of the mapping ``bill`` (a lookup result), unless a variable is literally
called ``bill.amount``. A missing name is ``None``; in a template it is the empty string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from ivr.nodes import CaseModel

__all__ = ["lookup", "passes", "render"]

_TEMPLATE = re.compile(r"\$\{([^}]*)\}")


def lookup(name: str, *scopes: Mapping[str, object]) -> object | None:
    for scope in scopes:
        if name in scope:
            return scope[name]
        head, _, rest = name.partition(".")
        value: object | None = scope.get(head)
        if value is None or not rest:
            continue
        for part in rest.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
            if value is None:
                break
        if value is not None:
            return value
    return None


def _text(value: object | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template: str, *scopes: Mapping[str, object]) -> str:
    """``template`` with each ``${name}`` replaced by the variable's value as text."""
    if "${" not in template:
        return template
    return _TEMPLATE.sub(lambda m: _text(lookup(m.group(1).strip(), *scopes)), template)


def _number(value: object | None) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def _same(value: object | None, expected: object) -> bool:
    """Digits arrive as text and TOML values are typed, so ``"1"`` equals ``1`` and ``"true"``
    equals ``true``; numbers compare as numbers (``"42.0"`` equals ``42``)."""
    if value is None:
        return False
    if value == expected:
        return True
    if isinstance(expected, bool) or isinstance(value, bool):
        return _text(value) == _text(expected)
    a, b = _number(value), _number(expected)
    if a is not None and b is not None:
        return a == b
    return _text(value) == _text(expected)


def passes(case: CaseModel, value: object | None) -> bool:
    """Whether ``value`` passes every test the case names."""
    if case.exists is not None and (value is not None) != case.exists:
        return False
    if case.equals is not None and not _same(value, case.equals):
        return False
    if case.not_equals is not None and (value is None or _same(value, case.not_equals)):
        return False
    if case.in_ is not None and not any(_same(value, item) for item in case.in_):
        return False
    bounds = ((case.gt, float.__gt__), (case.ge, float.__ge__),
              (case.lt, float.__lt__), (case.le, float.__le__))
    if any(bound is not None for bound, _ in bounds):
        number = _number(value)
        if number is None:
            return False
        if not all(bound is None or compare(number, float(bound)) for bound, compare in bounds):
            return False
    return case.matches is None or (
        value is not None and re.fullmatch(case.matches, _text(value)) is not None
    )
