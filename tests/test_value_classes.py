"""The value classes built for every call (``cti.core.records``): their written-out
constructors take every field in order, and they behave as the dataclasses they are."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from cti import native
from cti.core import (
    AgentLegAnswered,
    CallArrived,
    CallEnded,
    CallHungUp,
    CallRecord,
    ConnectAgent,
    ParkWithMusic,
    Phase,
    WrapUpDone,
)

PHASES = (Phase("arrived", 1.0, ""), Phase("queued", 1.0, "sales"))
# Every field of a sample has a value of its own, so a constructor that put two fields'
# arguments in each other's place would be caught.
RECORD = CallRecord(
    "c1", "+15550100", "100", "default", "answered", 1.0, 9.0, "sales", "ann", 1.5, 2.0, 0.5,
    7.0, 0.25, 3, None, PHASES, {"k": "v"},
)
SAMPLES = [
    Phase("offered", 2.0, "ann"),
    RECORD,
    CallEnded(RECORD),
    CallArrived("c1", "+15550100", "100", "default", "sales", 2.0, {"digits": "1"}, None),
    AgentLegAnswered("c1", "ann"),
    CallHungUp("c1", "normal"),
    WrapUpDone("ann", "sale"),
    ParkWithMusic("c1", "default"),
    ConnectAgent("c1", "ann", "user/ann", 20.0, {"cti_call_id": "c1"}, "+15550199"),
]
ids = [type(v).__name__ for v in SAMPLES]


@pytest.mark.parametrize("value", SAMPLES, ids=ids)
def test_the_constructor_takes_every_field_in_order(value: object) -> None:
    cls = type(value)
    values = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}  # type: ignore[arg-type]
    assert all(a != b for a, b in itertools.combinations(values.values(), 2))
    by_position = cls(*values.values())
    by_name = cls(**values)
    assert by_position == by_name == value
    assert {name: getattr(by_position, name) for name in values} == values
    assert repr(by_position) == repr(value)
    assert dataclasses.replace(value) == value  # type: ignore[type-var]
    assert cls.__match_args__ == tuple(values)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", SAMPLES, ids=ids)
def test_equal_values_hash_alike_or_neither_hashes(value: object) -> None:
    names = [f.name for f in dataclasses.fields(value)]  # type: ignore[arg-type]
    again = type(value)(*[getattr(value, name) for name in names])
    try:
        expected = hash(value)
    except TypeError:  # a field holds a dict, as in a frozen dataclass
        with pytest.raises(TypeError):
            hash(again)
    else:
        assert hash(again) == expected


def test_keywords_and_defaults_are_those_of_the_dataclasses_they_replace() -> None:
    ev = CallArrived(call_id="c1", caller="+1", dialed="100")
    assert (ev.trunk, ev.queue, ev.priority, dict(ev.data), ev.skills) == (
        "default", None, None, {}, None)
    assert CallHungUp("c1").cause == "normal"
    assert WrapUpDone("ann").disposition is None
    assert ParkWithMusic("c1").music == "default"
    assert Phase("queued", 1.0).where == ""
    connect = ConnectAgent("c1", "ann", "user/ann", 20.0)
    assert (dict(connect.variables), connect.callback_number) == ({}, None)


@pytest.mark.parametrize("value", SAMPLES, ids=ids)
def test_compiled_values_are_read_only(value: object) -> None:
    if "cti.core.records" not in native.compiled():
        pytest.skip("pure Python: the Final fields are read-only to the type checker only")
    name = dataclasses.fields(value)[0].name  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        setattr(value, name, None)
