"""sim.erlang against exact reference values, independent brute-force solutions and limits.

Reference values are written with the digits they are known to; a result agrees when it rounds
to the reference at that precision (within half a unit of the last digit written). The
brute-force solutions below are deliberately naive (plain sums, fixed truncation, dense
elimination, Runge-Kutta) so that they share no numerics with the module under test.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.erlang import (
    erlang_a,
    erlang_b,
    erlang_c,
    longest_idle_utilisations,
    priority_erlang_c,
    required_agents,
    staffing_table,
)


def agrees(value: float, reference: str) -> bool:
    exponent = Decimal(reference).as_tuple().exponent
    assert isinstance(exponent, int)
    half_unit = 0.5 * 10.0**exponent
    return abs(value - float(reference)) <= half_unit * (1 + 1e-9)


def check(value: float, reference: str) -> None:
    assert agrees(value, reference), f"{value!r} does not round to {reference}"


# --- reference values -------------------------------------------------------------------------

def test_erlang_b_reference() -> None:
    check(erlang_b(15, 8.108), "0.0099996")


def test_erlang_c_reference() -> None:
    r = erlang_c(14, 100 / 1800, 180, 20)
    check(r.p_wait, "0.174132")
    check(r.asa_s, "7.8359")
    check(r.service_level, "0.888350")
    assert r.occupancy == pytest.approx(10 / 14)


def test_erlang_a_reference() -> None:
    r = erlang_a(14, 100 / 1800, 180, 300, 20)
    check(r.p_wait, "0.145260")
    check(r.p_abandon, "0.0139837")
    check(r.mean_wait_s, "4.19512")


def test_erlang_a_overload_reference() -> None:
    r = erlang_a(100, 110 / 180, 180, 120, 20)
    check(r.p_wait, "0.778676")
    check(r.p_abandon, "0.102491")
    check(r.mean_wait_s, "12.2989")
    # Answered traffic cannot exceed the agents: 110 (1 - P(ab)) <= 100.
    assert r.occupancy <= 1.0


def test_cobham_reference() -> None:
    high, low = priority_erlang_c(20, 180, [6 / 180, 10 / 180])
    check(high.p_wait, "0.256078")
    check(low.p_wait, "0.256078")
    check(high.mean_wait_s, "3.29243")
    check(low.mean_wait_s, "16.4621")


def test_pooled_erlang_c_reference() -> None:
    r = erlang_c(90, 6 * 14 / 180, 180, 20)
    check(r.p_wait, "0.41196")
    check(r.asa_s, "12.359")


def test_longest_idle_reference() -> None:
    u = longest_idle_utilisations([240, 240, 120, 120], 1.2 / 60)
    for value, reference in zip(u, ["0.846872", "0.846872", "0.776564", "0.776564"], strict=True):
        check(value, reference)


def test_staffing_reference() -> None:
    assert required_agents(100 / 1800, 180, 0.8, 20) == 14
    assert erlang_c(13, 100 / 1800, 180, 20).service_level < 0.8


# --- brute force ------------------------------------------------------------------------------

def brute_erlang_b(n: int, a: float) -> float:
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / math.fsum(terms)


def log_erlang_b(n: int, a: float) -> float:
    """Erlang B straight from its definition, in logs through lgamma."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n + 1)]
    top = max(logs)
    return logs[-1] - top - math.log(math.fsum(math.exp(x - top) for x in logs))


def brute_birth_death(n: int, lam: float, mu: float, theta: float, size: int) -> list[float]:
    p = [1.0]
    for k in range(1, size):
        p.append(p[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
    total = math.fsum(p)
    return [x / total for x in p]


def tagged_caller(n_mu: float, theta: float, weights: list[float], horizon: float,
                  dt: float, threshold: float) -> tuple[float, float]:
    """RK4 on the queued caller's position: (P(answered by threshold), E[wait; answered])."""
    depth = len(weights)

    def derivative(y: list[float], t: float) -> list[float]:
        v = y[:depth]
        dv = [-(n_mu + (i + 1) * theta) * v[i]
              + (n_mu + (i + 1) * theta) * (v[i + 1] if i + 1 < depth else 0.0)
              for i in range(depth)]
        return [*dv, n_mu * v[0], t * n_mu * v[0]]

    y = [*weights, 0.0, 0.0]
    t = 0.0
    within = None
    while t < horizon - dt / 2:
        if within is None and t >= threshold - dt / 2:
            within = y[depth]
        k1 = derivative(y, t)
        k2 = derivative([a + dt / 2 * b for a, b in zip(y, k1, strict=True)], t + dt / 2)
        k3 = derivative([a + dt / 2 * b for a, b in zip(y, k2, strict=True)], t + dt / 2)
        k4 = derivative([a + dt * b for a, b in zip(y, k3, strict=True)], t + dt)
        y = [a + dt / 6 * (b + 2 * c + 2 * d + e)
             for a, b, c, d, e in zip(y, k1, k2, k3, k4, strict=True)]
        t += dt
    assert within is not None
    return within, y[depth + 1]


def dense_solve(q: list[list[float]]) -> list[float]:
    """Stationary law of generator q by textbook Gaussian elimination on pi Q = 0, sum = 1."""
    size = len(q)
    rows = [[q[j][i] for j in range(size)] + [0.0] for i in range(size)]
    rows[-1] = [1.0] * size + [1.0]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(size):
            if r != col and rows[r][col] != 0.0:
                f = rows[r][col] / rows[col][col]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][-1] / rows[i][i] for i in range(size)]


def brute_longest_idle(means: list[float], lam: float, queue_cap: int) -> list[float]:
    """Longest idle first with an explicitly truncated queue."""
    import itertools

    n = len(means)
    idle_states: list[tuple[int, ...]] = [
        s for k in range(1, n + 1) for s in itertools.permutations(range(n), k)]
    states: list[tuple[tuple[int, ...], int]] = [((), q) for q in range(queue_cap + 1)]
    states += [(s, 0) for s in idle_states]
    index = {s: i for i, s in enumerate(states)}
    q = [[0.0] * len(states) for _ in states]
    for i, (idle, waiting) in enumerate(states):
        if idle:
            q[i][index[(idle[1:], 0)]] += lam
        elif waiting < queue_cap:
            q[i][index[((), waiting + 1)]] += lam
        for server in set(range(n)) - set(idle):
            target = ((), waiting - 1) if waiting else ((*idle, server), 0)
            q[i][index[target]] += 1 / means[server]
    for i, row in enumerate(q):
        row[i] = -math.fsum(row)
    pi = dense_solve(q)
    return [math.fsum(p for (idle, _), p in zip(states, pi, strict=True) if s not in idle)
            for s in range(n)]


# --- Erlang B ---------------------------------------------------------------------------------

@given(st.integers(1, 40), st.floats(0.01, 60))
def test_erlang_b_matches_definition(n: int, a: float) -> None:
    assert erlang_b(n, a) == pytest.approx(brute_erlang_b(n, a), rel=1e-10)


@given(st.integers(1, 300), st.floats(0.01, 400))
def test_erlang_b_decreases_with_servers(n: int, a: float) -> None:
    fewer, more = erlang_b(n, a), erlang_b(n + 1, a)
    assert more < fewer or more == fewer == 0.0  # both below the float range


@given(st.integers(1, 300), st.floats(0.01, 400), st.floats(1.01, 2))
def test_erlang_b_increases_with_load(n: int, a: float, factor: float) -> None:
    light, heavy = erlang_b(n, a), erlang_b(n, a * factor)
    assert heavy > light or heavy == light == 0.0


@pytest.mark.parametrize(("n", "a"), [(1000, 1000.0), (1000, 1200.0), (1000, 900.0),
                                      (1500, 1400.0)])
def test_erlang_b_large(n: int, a: float) -> None:
    assert math.log(erlang_b(n, a)) == pytest.approx(log_erlang_b(n, a), rel=1e-9)


def test_erlang_b_light_load_underflows_quietly() -> None:
    assert erlang_b(1000, 1e-3) == 0.0
    assert erlang_b(5, 0) == 0.0


# --- Erlang C ---------------------------------------------------------------------------------

@given(st.integers(1, 60), st.floats(0.01, 0.99), st.floats(1, 600), st.floats(0, 120))
def test_erlang_c_matches_definition(n: int, load: float, aht: float, t: float) -> None:
    a = load * n
    top = a**n / math.factorial(n) * n / (n - a)
    c = top / (math.fsum(a**k / math.factorial(k) for k in range(n)) + top)
    r = erlang_c(n, a / aht, aht, t)
    assert r.p_wait == pytest.approx(c, rel=1e-9)
    assert r.asa_s == pytest.approx(c * aht / (n - a), rel=1e-9)
    assert r.service_level == pytest.approx(1 - c * math.exp(-(n - a) / aht * t), rel=1e-9)


def test_erlang_c_large() -> None:
    r = erlang_c(1000, 980 / 180, 180, 20)
    assert 0 < r.p_wait < 1
    assert 0 < r.service_level < 1
    assert r.occupancy == pytest.approx(0.98)


def test_erlang_c_no_traffic() -> None:
    r = erlang_c(3, 0, 180, 20)
    assert (r.p_wait, r.asa_s, r.service_level, r.occupancy) == (0, 0, 1, 0)


# --- Erlang A ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "offered", "aht", "patience"),
                         [(3, 2.5, 60, 30), (5, 7, 120, 200), (2, 1, 100, 1000), (1, 4, 10, 5)])
def test_erlang_a_matches_truncated_chain(n: int, offered: float, aht: float,
                                          patience: float) -> None:
    lam, mu, theta = offered / aht, 1 / aht, 1 / patience
    p = brute_birth_death(n, lam, mu, theta, 3000)
    queue = math.fsum((k - n) * x for k, x in enumerate(p) if k > n)
    r = erlang_a(n, lam, aht, patience, 20)
    assert r.p_wait == pytest.approx(math.fsum(p[n:]), rel=1e-9)
    assert r.p_abandon == pytest.approx(theta * queue / lam, rel=1e-9)
    assert r.mean_wait_s == pytest.approx(queue / lam, rel=1e-9)
    busy = math.fsum(min(k, n) * x for k, x in enumerate(p))
    assert r.occupancy == pytest.approx(busy / n, rel=1e-9)


@pytest.mark.parametrize(("n", "offered", "aht", "patience", "t"),
                         [(3, 2.5, 60, 30, 10), (4, 6, 120, 200, 30), (2, 1.5, 100, 50, 5)])
def test_erlang_a_service_level_and_asa_match_integration(
        n: int, offered: float, aht: float, patience: float, t: float) -> None:
    lam, mu, theta = offered / aht, 1 / aht, 1 / patience
    p = brute_birth_death(n, lam, mu, theta, 400)
    queued = [x for k, x in enumerate(p) if k >= n and x > 1e-18]
    dt = t / math.ceil(t / (patience / 200))  # the threshold falls on a step
    within, wait_answered = tagged_caller(n * mu, theta, queued, horizon=40 * patience,
                                          dt=dt, threshold=t)
    r = erlang_a(n, lam, aht, patience, t)
    assert r.service_level == pytest.approx(1 - math.fsum(queued) + within, rel=1e-6)
    assert r.asa_s == pytest.approx(wait_answered / (1 - r.p_abandon), rel=1e-6)


@given(st.integers(1, 80), st.floats(0.05, 0.95), st.floats(10, 600), st.floats(0, 60))
@settings(deadline=None)
def test_erlang_a_tends_to_erlang_c(n: int, load: float, aht: float, t: float) -> None:
    lam = load * n / aht
    c = erlang_c(n, lam, aht, t)
    a = erlang_a(n, lam, aht, aht * 1e9, t)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-5, abs=1e-12)
    assert a.mean_wait_s == pytest.approx(c.asa_s, rel=1e-5, abs=1e-12)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-5, abs=1e-12)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-6)
    assert a.p_abandon < 1e-6
    exact = erlang_a(n, lam, aht, math.inf, t)
    assert (exact.p_wait, exact.asa_s, exact.p_abandon) == (c.p_wait, c.asa_s, 0.0)


@given(st.integers(1, 60), st.floats(0.1, 3), st.floats(10, 600), st.floats(5, 600))
@settings(deadline=None)
def test_erlang_a_consistency(n: int, load: float, aht: float, patience: float) -> None:
    r = erlang_a(n, load * n / aht, aht, patience, 20)
    assert 0 <= r.p_abandon <= r.p_wait * (1 + 1e-12)
    assert r.p_wait <= 1
    assert 1 - r.p_wait <= r.service_level <= 1 - r.p_abandon + 1e-12
    assert r.occupancy <= 1 + 1e-12
    # With an unbounded threshold everyone who does not abandon counts.
    forever = erlang_a(n, load * n / aht, aht, patience, 1e4 * (aht + patience))
    assert forever.service_level == pytest.approx(1 - r.p_abandon, rel=1e-9)


def test_erlang_a_large_overload() -> None:
    r = erlang_a(1000, 1100 / 180, 180, 300, 20)
    # At most 1000 of 1100 Erlang can be answered.
    assert r.p_abandon >= 1 - 1000 / 1100
    assert r.p_abandon == pytest.approx(1 - 1000 / 1100, rel=1e-4)
    assert 0 < r.service_level < 1
    assert r.mean_wait_s == pytest.approx(300 * r.p_abandon, rel=1e-12)


# --- staffing ---------------------------------------------------------------------------------

@given(st.floats(0.001, 2), st.floats(30, 600), st.floats(0.5, 0.95), st.floats(0, 60),
       st.one_of(st.none(), st.floats(10, 900)))
@settings(deadline=None, max_examples=60)
def test_staffing_is_minimal(rate: float, aht: float, target: float, within: float,
                             patience: float | None) -> None:
    n = required_agents(rate, aht, target, within, patience)

    def level(agents: int) -> float:
        if patience is None:
            return erlang_c(agents, rate, aht, within).service_level
        return erlang_a(agents, rate, aht, patience, within).service_level

    assert level(n) >= target
    if n > 1 and (patience is not None or n - 1 > rate * aht):
        assert level(n - 1) < target


def test_staffing_table_rows() -> None:
    table = staffing_table(100 / 1800, 180, 0.8, 20, below=2, above=1)
    assert table.agents == 14
    assert [r.agents for r in table.rows] == [12, 13, 14, 15]
    assert [r.meets_target for r in table.rows] == [False, False, True, True]
    assert all(r.p_abandon is None for r in table.rows)
    row = table.rows[2]
    check(row.p_wait, "0.174132")
    check(row.asa_s, "7.8359")


def test_staffing_table_skips_unstable_erlang_c_rows() -> None:
    table = staffing_table(10 / 180, 180, 0.2, 20, below=5)
    assert table.rows[0].agents == 11  # 10 Erlang: fewer than 11 agents never drain the queue


def test_staffing_table_erlang_a() -> None:
    table = staffing_table(100 / 1800, 180, 0.8, 20, 300)
    row = next(r for r in table.rows if r.agents == 14)
    assert row.p_abandon is not None
    check(row.p_abandon, "0.0139837")
    check(row.mean_wait_s, "4.19512")
    # Abandonment lets the queue run below the offered load in overload.
    assert required_agents(110 / 180, 180, 0.5, 20, 120) < 110


# --- priority classes -------------------------------------------------------------------------

@given(st.integers(1, 50), st.floats(0.05, 0.95), st.floats(0.01, 0.99), st.floats(10, 600))
def test_cobham_conserves_work(n: int, load: float, split: float, aht: float) -> None:
    lam = load * n / aht
    classes = priority_erlang_c(n, aht, [split * lam, (1 - split) * lam])
    fcfs = erlang_c(n, lam, aht, 0)
    mean = split * classes[0].mean_wait_s + (1 - split) * classes[1].mean_wait_s
    assert mean == pytest.approx(fcfs.asa_s, rel=1e-9)
    assert classes[0].mean_wait_s <= classes[1].mean_wait_s
    (single,) = priority_erlang_c(n, aht, [lam])
    assert single.mean_wait_s == pytest.approx(fcfs.asa_s, rel=1e-12)


# --- longest idle -----------------------------------------------------------------------------

def test_longest_idle_matches_truncated_queue() -> None:
    means = [50.0, 80.0, 130.0]
    lam = 0.5 * sum(1 / m for m in means)
    expected = brute_longest_idle(means, lam, queue_cap=80)
    assert longest_idle_utilisations(means, lam) == pytest.approx(expected, rel=1e-9)


@given(st.integers(1, 5), st.floats(0.05, 0.95), st.floats(10, 600))
@settings(deadline=None, max_examples=25)
def test_longest_idle_identical_servers(n: int, load: float, mean: float) -> None:
    u = longest_idle_utilisations([mean] * n, load * n / mean)
    assert u == pytest.approx([load] * n, rel=1e-9)


@given(st.lists(st.floats(10, 600), min_size=1, max_size=4), st.floats(0.05, 0.95))
@settings(deadline=None, max_examples=25)
def test_longest_idle_throughput(means: list[float], load: float) -> None:
    lam = load * sum(1 / m for m in means)
    u = longest_idle_utilisations(means, lam)
    assert math.fsum(x / m for x, m in zip(u, means, strict=True)) == pytest.approx(lam)
    assert all(0 < x < 1 for x in u)


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "message"), [
    (lambda: erlang_b(0, 1), "servers must be at least 1, got 0"),
    (lambda: erlang_b(True, 1), "servers must be an integer"),
    (lambda: erlang_b(2.5, 1), "servers must be an integer"),
    (lambda: erlang_b(3, -1), "offered_erlang must be a finite number >= 0"),
    (lambda: erlang_b(3, math.nan), "offered_erlang must be a finite number >= 0"),
    (lambda: erlang_c(0, 0.1, 180, 20), "agents must be at least 1"),
    (lambda: erlang_c(5, -0.1, 180, 20), "rate_per_s must be a finite number >= 0"),
    (lambda: erlang_c(5, 0.01, 0, 20), "aht_s must be a finite number > 0"),
    (lambda: erlang_c(5, 0.01, 180, -1), "threshold_s must be a finite number >= 0"),
    (lambda: erlang_c(10, 10 / 180, 180, 20), "unstable: offered load 10 Erlang"),
    (lambda: erlang_a(5, 0.1, 180, 0, 20), "patience_s must be a number > 0"),
    (lambda: erlang_a(5, 0.1, 180, math.inf, 20), "unstable"),
    (lambda: required_agents(0, 180, 0.8, 20), "rate_per_s must be a finite number > 0"),
    (lambda: required_agents(0.1, 180, 1.0, 20), "target must be strictly between 0 and 1"),
    (lambda: staffing_table(0.1, 180, 0.8, 20, below=-1), "below must be an integer >= 0"),
    (lambda: priority_erlang_c(5, 180, []), "at least one class"),
    (lambda: priority_erlang_c(5, 180, [0.01, -1]), r"rates_per_s\[1\] must be"),
    (lambda: priority_erlang_c(2, 180, [1 / 180, 1 / 180]), "unstable"),
    (lambda: longest_idle_utilisations([], 0.1), "at least one server"),
    (lambda: longest_idle_utilisations([1.0] * 7, 0.1), "at most 6 servers"),
    (lambda: longest_idle_utilisations([100, -1], 0.001), r"service_means_s\[1\] must be"),
    (lambda: longest_idle_utilisations([100, 100], 0.02), "unstable"),
])
def test_bad_input(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call()
