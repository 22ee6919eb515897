"""``cti.core.builder``: the hot path's constructors build exactly what the classes would."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

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
    builder,
)

PHASES = (Phase("arrived", 1.0, ""), Phase("queued", 1.0, "sales"))
RECORD = CallRecord(
    "c1", "+15550100", "100", "default", "answered", 1.0, 9.0, "sales", "ann", 1.0, 2.0, 1.0,
    7.0, 0.0, 1, None, PHASES, {"k": "v"},
)
SAMPLES = [
    Phase("offered", 2.0, "ann"),
    RECORD,
    CallEnded(RECORD),
    CallArrived("c1", "+15550100", "100", "default", "sales", None, {"digits": "1"}, None),
    AgentLegAnswered("c1", "ann"),
    CallHungUp("c1", "normal"),
    WrapUpDone("ann", None),
    ParkWithMusic("c1", "default"),
    ConnectAgent("c1", "ann", "user/ann", 20.0, {"cti_call_id": "c1"}, None),
]


@pytest.mark.parametrize("made", SAMPLES, ids=lambda v: type(v).__name__)
def test_built_instance_is_the_same_as_constructed(made: object) -> None:
    cls = type(made)
    values = [getattr(made, f.name) for f in dataclasses.fields(made)]  # type: ignore[arg-type]
    built = builder(cls)(*values)
    assert type(built) is cls
    assert built == made
    try:
        expected = hash(made)
    except TypeError:  # a field holds a dict: neither is hashable
        with pytest.raises(TypeError):
            hash(built)
    else:
        assert hash(built) == expected
    assert repr(built) == repr(made)
    assert dataclasses.asdict(built) == dataclasses.asdict(made)  # type: ignore[call-overload]
    assert pickle.loads(pickle.dumps(built)) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.__setattr__(dataclasses.fields(made)[0].name, None)  # type: ignore[arg-type]


def test_only_frozen_slotted_dataclasses_with_plain_fields_qualify() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    for cls in (Mutable, NoSlots, Derived, int):
        with pytest.raises(TypeError):
            builder(cls)
