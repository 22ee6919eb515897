"""``sim.stats.half_width``: the batch-means half-width in floats agrees with the exact one."""

from __future__ import annotations

import math
import statistics

from hypothesis import given
from hypothesis import strategies as st

from sim.stats import half_width, student_t975

VALUES = st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=2, max_size=40)


@given(VALUES)
def test_agrees_with_the_exact_standard_deviation(values: list[float]) -> None:
    n = len(values)
    exact = student_t975(n - 1) * statistics.stdev(values) / math.sqrt(n)
    assert math.isclose(half_width(values), exact, rel_tol=1e-9, abs_tol=1e-9)


def test_fewer_than_two_values_have_no_half_width() -> None:
    assert math.isnan(half_width([]))
    assert math.isnan(half_width([3.0]))
    assert half_width([2.0, 2.0]) == 0.0
