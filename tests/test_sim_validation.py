"""The simulator against exact queueing theory, short runs (benchmarks/validate.py runs them
at full length). Each check passes when the exact value lies within 1.5 batch-means 95%
half-widths of the simulated one; seeds are fixed, so a pass or a failure is repeatable."""

from __future__ import annotations

import pytest

from sim.validation import CASES, TOLERANCE, Check, run_case


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulator_agrees_with_theory(name: str) -> None:
    checks = run_case(name, scale=0.04)
    assert checks, "a case with no checks proves nothing"
    failed = [str(c) for c in checks if not c.ok]
    assert failed == [], "\n".join(failed)


def test_a_biased_estimate_fails_the_check() -> None:
    # The check itself must be able to fail: three half-widths off is outside the tolerance.
    assert not Check("t", "x", 1.0 + 3 * 0.01, 1.0, 0.01).ok
    assert Check("t", "x", 1.0 + TOLERANCE * 0.01 * 0.9, 1.0, 0.01).ok
    assert not Check("t", "x", float("nan"), 1.0, 0.01).ok
    assert not Check("t", "x", 2.0, 1.0, 0.0, "<").ok
