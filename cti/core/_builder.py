"""Fast positional constructors for the frozen slotted dataclasses built on the hot path.

A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``, since the
class's own ``__setattr__`` refuses: a call per field. Building a call record took 1.7 µs that
way, each phase of it 0.45 µs, and the events, commands and records of one simulated call
together were the largest cost of the simulator after the switchboard's own logic.

``builder(cls)`` returns a function of the fields, in order, that builds the same instance
without those calls: it fills a *draft*, a plain class with the same bases and the same
``__slots__`` (hence the same memory layout), with ordinary attribute stores, then makes it a
``cls`` by assigning ``__class__``, which Python allows between classes of one layout. The
result is indistinguishable from ``cls(*fields)``: same type, fields, equality, hash, repr and
frozenness. Only classes whose every field is an ``__init__`` argument, with no
``__post_init__``, qualify; anything else is refused when the builder is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["builder"]

T = TypeVar("T")

#: Names the generated function uses for itself, which no field may take.
_LOCALS = frozenset({"_o", "_new", "_draft", "_cls"})


def builder(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for the frozen slotted dataclass ``cls`` (all fields, in order)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen slotted dataclass")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or any(
        not f.init for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    ):
        raise TypeError(f"{cls.__name__} sets fields outside __init__ arguments")
    slots = cls.__dict__["__slots__"]
    if tuple(names) != slots or _LOCALS & set(names):
        raise TypeError(f"{cls.__name__}'s slots are not exactly its fields")
    draft = type(f"_{cls.__name__}Draft", cls.__bases__, {"__slots__": slots})
    fields = ", ".join(names)
    stores = "".join(f"    _o.{name} = {name}\n" for name in names)
    source = (f"def build_{cls.__name__}({fields}):\n    _o = _new(_draft)\n{stores}"
              "    _o.__class__ = _cls\n    return _o\n")
    namespace: dict[str, Any] = {"_new": object.__new__, "_draft": draft, "_cls": cls}
    exec(source, namespace)  # the source is made of the class's field names, checked above
    built: Callable[..., T] = namespace[f"build_{cls.__name__}"]
    built.__doc__ = f"Build a {cls.__name__} from all its fields, positionally."
    return built
