"""Exact queueing theory for staffing and for checking the simulator against.

Models (times in seconds, rates per second, traffic in Erlang = rate x mean handling time):

- Erlang B, M/M/n/n: blocking probability.
- Erlang C, M/M/n: probability of waiting, mean wait, service level, occupancy.
- Erlang A, M/M/n+M (exponential patience): also abandonment; stable in overload.
- Staffing: the fewest agents meeting a service-level target, and a table around that answer.
- Cobham's formula: non-preemptive priority classes sharing one M/M/n pool.
- Longest-idle-first routing over heterogeneous exponential servers: per-server utilisation.

Standard library only. Nothing evaluates a factorial or a power of the load: the Erlang B
recurrence runs in log space and the Erlang A tail is summed as logs of products of ratios, so
1,000 agents at 1,000+ Erlang neither overflow nor underflow.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ErlangAResult",
    "ErlangCResult",
    "PriorityClassResult",
    "StaffingRow",
    "StaffingTable",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "longest_idle_utilisations",
    "priority_erlang_c",
    "required_agents",
    "staffing_table",
]

# Relative size below which a term of an infinite sum is dropped (well below double precision).
_EPS = 2.0**-60
# The Erlang A tail must turn downwards within this many queue states; only a patience that is
# absurdly long compared with the handling time in overload gets near it.
_MAX_TAIL = 5_000_000
# Staffing searches stop here rather than loop for ever on an unreachable target.
_MAX_AGENTS = 10_000_000
# Longest-idle state space is sum_k n!/(n-k)!: six servers (1,957 states) solve in about two
# seconds, seven (13,700 states, with heavy fill-in) would take many minutes.
_MAX_LONGEST_IDLE_SERVERS = 6


# --- validation ------------------------------------------------------------------------------

def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _nonnegative(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _positive(name: str, value: float, *, allow_inf: bool = False) -> float:
    value = float(value)
    if math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
        kind = "a number > 0" if allow_inf else "a finite number > 0"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return value


def _fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0 < value < 1:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return value


def _logaddexp(x: float, y: float) -> float:
    if x < y:
        x, y = y, x
    if y == -math.inf:
        return x
    return x + math.log1p(math.exp(y - x))


def _log_sum(logs: Sequence[float]) -> float:
    if not logs:
        return -math.inf
    top = max(logs)
    return top + math.log(math.fsum(math.exp(x - top) for x in logs))


# --- Erlang B -----------------------------------------------------------------------------------

def _log_inv_erlang_b(servers: int, offered: float) -> float:
    """log(1 / B(servers, offered)), i.e. log of sum_{k<=n} p_k / p_n for the M/M/n states.

    Runs x_k = 1 + (k / a) x_{k-1}, x_0 = 1, on logarithms: x_n can exceed the float range (B
    underflows long before 1,000 agents at light load) but its logarithm never does.
    """
    if offered == 0:
        return math.inf
    log_a = math.log(offered)
    lx = 0.0
    for k in range(1, servers + 1):
        lx = _logaddexp(0.0, math.log(k) - log_a + lx)
    return lx


def erlang_b(servers: int, offered_erlang: float) -> float:
    """Blocking probability of an M/M/n/n loss system (Erlang's first formula).

    ``servers`` trunks or agents, ``offered_erlang`` offered traffic in Erlang. Exact for any
    size; the result may underflow to 0.0 when it is below about 1e-308.
    """
    n = _count("servers", servers)
    a = _nonnegative("offered_erlang", offered_erlang)
    return math.exp(-_log_inv_erlang_b(n, a))


# --- Erlang C -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ErlangCResult:
    """M/M/n figures. ``asa_s`` is the mean wait over all callers, zero waits included;
    ``service_level`` is P(wait <= threshold); ``occupancy`` the fraction of agent time busy."""

    p_wait: float
    asa_s: float
    service_level: float
    occupancy: float


def _erlang_c_probability(n: int, a: float) -> float:
    # C = B / (1 - rho (1 - B)): the M/M/n waiting probability from the loss probability.
    b = math.exp(-_log_inv_erlang_b(n, a))
    return b / (1.0 - (a / n) * (1.0 - b))


def erlang_c(agents: int, rate_per_s: float, aht_s: float, threshold_s: float) -> ErlangCResult:
    """Erlang C (M/M/n, FCFS, infinite patience).

    P(wait) = C(n, a), ASA = C / (n mu - lambda), service level
    P(wait <= t) = 1 - C exp(-(n mu - lambda) t), occupancy = a / n, where a = lambda x AHT.
    Raises ValueError when the load a is not below the number of agents (the queue would grow
    without bound); use :func:`erlang_a` with a patience for overload.
    """
    n = _count("agents", agents)
    lam = _nonnegative("rate_per_s", rate_per_s)
    aht = _positive("aht_s", aht_s)
    t = _nonnegative("threshold_s", threshold_s)
    a = lam * aht
    if a >= n:
        raise ValueError(
            f"unstable: offered load {a:g} Erlang needs more than {n} agents "
            f"(Erlang C requires load < agents; give a patience to use Erlang A)"
        )
    if lam == 0:
        return ErlangCResult(0.0, 0.0, 1.0, 0.0)
    c = _erlang_c_probability(n, a)
    drain = (n - a) / aht  # n mu - lambda, written so that it does not cancel for a near n
    return ErlangCResult(
        p_wait=c,
        asa_s=c / drain,
        service_level=1.0 - c * math.exp(-drain * t),
        occupancy=a / n,
    )


# --- Erlang A -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """M/M/n+M figures.

    ``p_wait``: an arrival finds every agent busy. ``p_abandon``: a caller hangs up before being
    answered. ``mean_wait_s``: mean time in queue over all callers, abandoners (up to their
    hang-up) and zero waits included. ``asa_s``: mean wait of answered callers, zero waits
    included. ``service_level``: callers answered within the threshold divided by all offered
    callers (abandoners count against it, however early they hang up). ``occupancy``: fraction
    of agent time busy.
    """

    p_wait: float
    p_abandon: float
    mean_wait_s: float
    asa_s: float
    service_level: float
    occupancy: float


def _queue_log_weights(n_mu: float, lam: float, theta: float) -> list[float]:
    """log(p_{n+j} / p_n) for j = 0..J.

    Birth-death above n: p_{n+j} = p_{n+j-1} lambda / (n mu + j theta). Past the peak (the first
    ratio below 1) the ratios only shrink, so everything after term j is at most
    term_j r / (1 - r) with r the next ratio; the sum stops once that bound is below 2^-60 of
    the sum so far.
    """
    logs = [0.0]
    total = 0.0
    log_lam = math.log(lam)
    for j in range(1, _MAX_TAIL + 1):
        step = log_lam - math.log(n_mu + j * theta)
        term = logs[-1] + step
        logs.append(term)
        total = _logaddexp(total, term)
        if step < 0:
            r = lam / (n_mu + (j + 1) * theta)
            if term + math.log(r / (1.0 - r)) < total + math.log(_EPS):
                return logs
    raise ValueError(
        f"patience is too long for this overload: the queue would exceed {_MAX_TAIL} callers"
    )


def _answered_within(weights: Sequence[float], n_mu: float, theta: float, t: float) -> float:
    """P(queued and answered within t), given weights[j] = P(an arrival finds j callers queued).

    With j ahead, the wait a caller would have with infinite patience is a sum of exponentials
    of rates n mu + i theta, i = 0..j (service, or abandonment ahead). Its Laplace transform
    prod_i (c + i) / (c + i + s / theta), c = n mu / theta, is B(c + s / theta, j + 1) /
    B(c, j + 1), so its density is proportional to exp(-n mu v) (1 - exp(-theta v))^j. Weighting
    by the caller's own survival exp(-theta v) and integrating to t gives

        P(answered by t | j) = c / (c + j + 1) * P(K > j),  K ~ NegBin(c + 1, exp(-theta t))

    (an incomplete beta function with an integer parameter). The negative binomial terms are
    built by their ratio recurrence from log P(K = 0), so nothing overflows, and the whole
    service level costs O(J), however long the queue or the threshold.
    """
    if t == 0 or not weights:
        return 0.0  # a queued caller's wait is positive with probability 1
    c = n_mu / theta
    fail = -math.expm1(-theta * t)  # 1 - exp(-theta t) without cancellation
    if fail == 0:  # t so small that theta t underflows: nobody queued is answered that fast
        return 0.0
    log_fail = math.log(fail)
    log_pmf = -(c + 1.0) * theta * t  # log P(K = 0) = (c + 1) log exp(-theta t)
    below = 0.0  # P(K <= j)
    total = 0.0
    for j, w in enumerate(weights):
        if j:
            log_pmf += math.log((c + j) / j) + log_fail
        below += math.exp(log_pmf)
        total += w * c / (c + j + 1) * max(0.0, 1.0 - below)
    return total


def erlang_a(
    agents: int, rate_per_s: float, aht_s: float, patience_s: float, threshold_s: float
) -> ErlangAResult:
    """Erlang A (M/M/n+M, Palm's model; Garnett, Mandelbaum & Reiman 2002).

    Exact birth-death solution: states k = 0, 1, ... callers present, birth rate lambda, death
    rate k mu up to n, then n mu + (k - n) theta with theta = 1 / patience_s. Below n the
    states are summed through the Erlang B recurrence; above n the series is summed until the
    rest is provably below 2^-60 of it (see ``_queue_log_weights``). By PASTA an arrival sees the
    stationary law, so p_wait = P(K >= n); by Little's law mean_wait = E[queue] / lambda and
    p_abandon = theta E[queue] / lambda. A caller finding j queued ahead is answered with
    probability n mu / (n mu + (j + 1) theta) after a hypoexponential wait; service level and
    ASA average that over j.

    ``service_level`` counts callers answered within ``threshold_s`` (immediate answers
    included) over all offered callers. Works in overload (load >= agents). A ``patience_s`` of
    ``math.inf`` gives the Erlang C figures (and requires load < agents).
    """
    n = _count("agents", agents)
    lam = _nonnegative("rate_per_s", rate_per_s)
    aht = _positive("aht_s", aht_s)
    patience = _positive("patience_s", patience_s, allow_inf=True)
    t = _nonnegative("threshold_s", threshold_s)
    if math.isinf(patience):
        c = erlang_c(n, lam, aht, t)
        return ErlangAResult(c.p_wait, 0.0, c.asa_s, c.asa_s, c.service_level, c.occupancy)
    if lam == 0:
        return ErlangAResult(0.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    mu = 1.0 / aht
    theta = 1.0 / patience
    n_mu = n * mu
    a = lam * aht
    logs = _queue_log_weights(n_mu, lam, theta)
    # Everything relative to p_n: states below n sum to (n / a) / B(n - 1, a), states n, n+1, ...
    # are exp(logs). Shifting by the largest log keeps both in range whatever the load.
    log_below = math.log(n / a) + _log_inv_erlang_b(n - 1, a)
    shift = max(log_below, *logs)
    queued = [math.exp(x - shift) for x in logs]
    below = math.exp(log_below - shift)
    norm = below + math.fsum(queued)
    weights = [q / norm for q in queued]
    p_wait = math.fsum(queued) / norm
    queue = math.fsum(j * w for j, w in enumerate(weights))
    p_abandon = theta * queue / lam
    answered_wait = 0.0
    hypo_mean = 0.0
    for j, w in enumerate(weights):
        rate_j = n_mu + (j + 1) * theta
        hypo_mean += 1.0 / rate_j
        answered_wait += w * (n_mu / rate_j) * hypo_mean
    p_answer = 1.0 - p_abandon
    return ErlangAResult(
        p_wait=p_wait,
        p_abandon=p_abandon,
        mean_wait_s=queue / lam,
        asa_s=answered_wait / p_answer,
        service_level=below / norm + _answered_within(weights, n_mu, theta, t),
        occupancy=min(1.0, a * p_answer / n),  # <= 1 exactly; min() only drops rounding
    )


# --- staffing -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StaffingRow:
    """One agent count. ``asa_s`` is the mean wait of answered callers; ``mean_wait_s`` is over
    all callers (the two agree for Erlang C). ``p_abandon`` is None for Erlang C."""

    agents: int
    occupancy: float
    p_wait: float
    asa_s: float
    mean_wait_s: float
    service_level: float
    p_abandon: float | None
    meets_target: bool


@dataclass(frozen=True, slots=True)
class StaffingTable:
    """Rows for a range of agent counts around ``agents``, the fewest meeting the target."""

    agents: int
    offered_erlang: float
    target: float
    threshold_s: float
    patience_s: float | None
    rows: tuple[StaffingRow, ...]


def _row(
    agents: int,
    rate_per_s: float,
    aht_s: float,
    target: float,
    threshold_s: float,
    patience_s: float | None,
) -> StaffingRow:
    if patience_s is None:
        c = erlang_c(agents, rate_per_s, aht_s, threshold_s)
        return StaffingRow(agents, c.occupancy, c.p_wait, c.asa_s, c.asa_s, c.service_level,
                           None, c.service_level >= target)
    r = erlang_a(agents, rate_per_s, aht_s, patience_s, threshold_s)
    return StaffingRow(agents, r.occupancy, r.p_wait, r.asa_s, r.mean_wait_s, r.service_level,
                       r.p_abandon, r.service_level >= target)


def _fewest_stable(rate_per_s: float, aht_s: float, patience_s: float | None) -> int:
    if patience_s is None or math.isinf(patience_s):
        return math.floor(rate_per_s * aht_s) + 1  # Erlang C needs load < agents
    return 1


def required_agents(
    rate_per_s: float,
    aht_s: float,
    target: float,
    threshold_s: float,
    patience_s: float | None = None,
) -> int:
    """The fewest agents whose service level within ``threshold_s`` is at least ``target``.

    Erlang C without ``patience_s``, Erlang A with it (service level = answered within the
    threshold / offered, so abandonment counts against it). The service level rises with the
    agent count, so the answer is found by doubling then bisection: O(log n) evaluations.
    """
    lam = _positive("rate_per_s", rate_per_s)
    aht = _positive("aht_s", aht_s)
    goal = _fraction("target", target)
    t = _nonnegative("threshold_s", threshold_s)
    patience = None if patience_s is None else _positive("patience_s", patience_s, allow_inf=True)

    def meets(agents: int) -> bool:
        return _row(agents, lam, aht, goal, t, patience).meets_target

    low = _fewest_stable(lam, aht, patience)
    if meets(low):
        return low
    # Invariant: meets(high) and not meets(low).
    step = max(1, math.ceil(math.sqrt(lam * aht)))
    high = low + step
    while not meets(high):
        low, step = high, step * 2
        high = low + step
        if high > _MAX_AGENTS:
            raise ValueError(f"no staffing up to {_MAX_AGENTS} agents meets the target {goal:g}")
    while high - low > 1:
        mid = (low + high) // 2
        if meets(mid):
            high = mid
        else:
            low = mid
    return high


def staffing_table(
    rate_per_s: float,
    aht_s: float,
    target: float,
    threshold_s: float,
    patience_s: float | None = None,
    *,
    below: int = 3,
    above: int = 3,
) -> StaffingTable:
    """The answer of :func:`required_agents` with up to ``below`` smaller and ``above`` larger
    agent counts (counts where Erlang C is unstable are left out)."""
    if isinstance(below, bool) or not isinstance(below, int) or below < 0:
        raise ValueError(f"below must be an integer >= 0, got {below!r}")
    if isinstance(above, bool) or not isinstance(above, int) or above < 0:
        raise ValueError(f"above must be an integer >= 0, got {above!r}")
    answer = required_agents(rate_per_s, aht_s, target, threshold_s, patience_s)
    first = max(answer - below, _fewest_stable(rate_per_s, aht_s, patience_s))
    rows = tuple(
        _row(k, rate_per_s, aht_s, target, threshold_s, patience_s)
        for k in range(first, answer + above + 1)
    )
    return StaffingTable(answer, rate_per_s * aht_s, float(target), float(threshold_s),
                         None if patience_s is None else float(patience_s), rows)


# --- priority classes (Cobham) ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PriorityClassResult:
    """One priority class: P(wait) and mean wait over all its callers (zero waits included)."""

    p_wait: float
    mean_wait_s: float


def priority_erlang_c(
    agents: int, aht_s: float, rates_per_s: Sequence[float]
) -> tuple[PriorityClassResult, ...]:
    """Non-preemptive priority classes on one M/M/n pool, highest priority first (Cobham 1954).

    Every class shares the handling time, so the number of busy agents evolves as in the FCFS
    M/M/n queue and every class waits with the same probability C(n, a) (PASTA). The mean wait
    of class k is W_k = C / (n mu (1 - s_{k-1}) (1 - s_k)) with s_k the utilisation of classes
    1..k. Raises ValueError unless the total load is below the number of agents.
    """
    n = _count("agents", agents)
    aht = _positive("aht_s", aht_s)
    if not rates_per_s:
        raise ValueError("rates_per_s must name at least one class")
    rates = [_nonnegative(f"rates_per_s[{i}]", r) for i, r in enumerate(rates_per_s)]
    a = math.fsum(rates) * aht
    if a >= n:
        raise ValueError(
            f"unstable: offered load {a:g} Erlang needs more than {n} agents "
            f"(load must be below the agent count)"
        )
    c = _erlang_c_probability(n, a) if a > 0 else 0.0
    n_mu = n / aht
    results = []
    done = 0.0
    for rate in rates:
        before = done
        done += rate * aht / n
        results.append(PriorityClassResult(c, c / (n_mu * (1.0 - before) * (1.0 - done))))
    return tuple(results)


# --- longest idle first -------------------------------------------------------------------------

def longest_idle_utilisations(
    service_means_s: Sequence[float], rate_per_s: float
) -> tuple[float, ...]:
    """Per-server utilisation of an M/M/n queue with heterogeneous exponential servers, a call
    arriving to idle servers going to the one idle longest, and a freed server taking the head
    of the queue (no queue-jumping).

    Solved exactly as a continuous-time Markov chain on (idle servers in order of idle-since,
    callers waiting). Callers wait only when every server is busy, and there the total service
    rate is the constant M = sum mu_i, so the queue-length law is geometric with ratio
    lambda / M: the whole all-busy tail is one state leaving to "server i idle" at rate
    mu_i (1 - lambda / M), summed in closed form instead of truncated. The linear system is
    solved by Gaussian elimination in its Grassmann-Taksar-Heyman form (pivots are sums of
    rates, so nothing is subtracted), eliminating the most-idle states first to keep fill-in
    low. Supports up to 6 servers (the state space grows as n!).
    """
    if not service_means_s:
        raise ValueError("service_means_s must name at least one server")
    if len(service_means_s) > _MAX_LONGEST_IDLE_SERVERS:
        raise ValueError(
            f"at most {_MAX_LONGEST_IDLE_SERVERS} servers are supported "
            f"(got {len(service_means_s)}; the state space grows as n!)"
        )
    means = [_positive(f"service_means_s[{i}]", m) for i, m in enumerate(service_means_s)]
    lam = _nonnegative("rate_per_s", rate_per_s)
    mus = [1.0 / m for m in means]
    capacity = math.fsum(mus)
    if lam >= capacity:
        raise ValueError(
            f"unstable: arrival rate {lam:g}/s is not below the total service rate "
            f"{capacity:g}/s"
        )
    if lam == 0:
        return tuple(0.0 for _ in means)
    pi = _longest_idle_distribution(mus, lam, capacity)
    n = len(mus)
    busy = [0.0] * n
    for idle, p in pi.items():
        for i in set(range(n)).difference(idle):
            busy[i] += p
    return tuple(busy)


def _longest_idle_distribution(
    mus: Sequence[float], lam: float, capacity: float
) -> dict[tuple[int, ...], float]:
    n = len(mus)
    # Ordered by number idle, so eliminating from the end removes the most-idle states first.
    states = [s for k in range(n + 1) for s in itertools.permutations(range(n), k)]
    index = {s: i for i, s in enumerate(states)}
    out: list[dict[int, float]] = [{} for _ in states]
    for i, idle in enumerate(states):
        if not idle:
            spare = 1.0 - lam / capacity  # P(nobody waiting | all busy)
            for server, mu in enumerate(mus):
                out[i][index[(server,)]] = mu * spare
            continue
        out[i][index[idle[1:]]] = lam  # the longest-idle server takes the call
        for server in set(range(n)).difference(idle):
            out[i][index[(*idle, server)]] = mus[server]
    into: list[set[int]] = [set() for _ in states]
    for i, edges in enumerate(out):
        for j in edges:
            into[j].add(i)
    # GTH state reduction: censor state k out of the chain, rerouting i -> k -> j to i -> j.
    pivots = [0.0] * len(states)
    inflow: list[list[tuple[int, float]]] = [[] for _ in states]
    for k in range(len(states) - 1, 0, -1):
        leave = out[k]
        total = math.fsum(leave.values())
        pivots[k] = total
        inflow[k] = [(i, out[i][k]) for i in into[k]]
        for i, rate_ik in inflow[k]:
            edges = out[i]
            del edges[k]
            share = rate_ik / total
            for j, rate_kj in leave.items():
                if j != i:
                    if j not in edges:
                        into[j].add(i)
                    edges[j] = edges.get(j, 0.0) + share * rate_kj
        for j in leave:
            into[j].discard(k)
    weights = [0.0] * len(states)
    weights[0] = 1.0
    for k in range(1, len(states)):
        weights[k] = math.fsum(weights[i] * r for i, r in inflow[k]) / pivots[k]
    norm = math.fsum(weights)
    return {s: w / norm for s, w in zip(states, weights, strict=True)}
