"""Peer models for the simulator speed benchmark: the same Erlang C queue in SimPy and in Ciw.

Both functions simulate the M/M/c model that Erlang C describes, which is the model the cti
simulator is checked against: one queue, callers arriving as a Poisson process of rate
``rate_per_s``, ``agents`` identical agents, each call's handling time exponential with mean
``aht_s``, callers served first come first served from an unbounded queue, nobody abandons, and
no wrap-up, breaks or skills. Time is virtual and starts with every agent free and no caller
waiting (no warm-up is discarded; over 10**5 calls the start-up transient is negligible).

Stopping rule, the same for both peers: the run ends at the moment the ``calls``-th caller
*finishes* service (Ciw's ``method="Finish"``); arrivals keep coming until then. The figures
cover the callers served by then:

* ``calls``: callers served (equal to the ``calls`` argument);
* ``p_wait``: fraction of them whose wait was > 0 (Erlang C's P(wait));
* ``asa_s``: their mean wait, callers who did not wait counted as 0 s (Erlang C's ASA);
* ``occupancy``: busy agent time / (agents x simulated time), the simulated time being the
  moment of the last completion and busy time including the elapsed part of calls still in
  service then (Erlang C's occupancy, offered load / agents);
* ``wall_s``: ``time.perf_counter`` seconds to build the model and run it; importing the library
  and reducing the results afterwards are not counted.

Each model is written as a user of that library would write it: SimPy with a ``Resource`` of
``capacity=agents``, a source process and one process per caller, drawing from a
``random.Random(seed)``; Ciw with ``ciw.create_network`` of ``Exponential`` distributions,
``ciw.seed(seed)`` (which reseeds the global ``random`` module, as Ciw requires), then
``Simulation.simulate_until_max_customers`` and ``get_all_records``. Neither traces events.

The libraries are imported inside the functions, so this module imports without them:
``pip install simpy ciw``. ``python benchmarks/peers.py [CALLS]`` runs both peers (200,000 calls
by default, about 20 s) and prints them under the Erlang C figures for 14 agents / 10 Erlang and
100 agents / 95 Erlang. Single runs scatter around Erlang C: at 100 agents / 95 Erlang, over ten
200,000-call runs per peer, one run's standard deviation was about 0.03 in P(wait), 12 % in ASA
and 0.004 in occupancy, and the ten-run means agreed with Erlang C for both peers.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Generator
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy


def _check_args(agents: int, rate_per_s: float, aht_s: float, calls: int) -> None:
    if agents < 1:
        raise ValueError(f"agents must be >= 1, got {agents}")
    if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
        raise ValueError(f"rate_per_s must be a positive finite number, got {rate_per_s}")
    if not (aht_s > 0 and math.isfinite(aht_s)):
        raise ValueError(f"aht_s must be a positive finite number, got {aht_s}")
    if calls < 1:
        raise ValueError(f"calls must be >= 1, got {calls}")


def run_simpy(
    agents: int, rate_per_s: float, aht_s: float, calls: int, seed: int
) -> dict[str, float]:
    """Run the Erlang C model in SimPy until ``calls`` callers have finished service."""
    try:
        import simpy
    except ImportError as exc:
        raise RuntimeError("run_simpy needs the 'simpy' package (pip install simpy)") from exc
    _check_args(agents, rate_per_s, aht_s, calls)

    started = time.perf_counter()
    rng = random.Random(seed)
    next_gap = partial(rng.expovariate, rate_per_s)
    next_service = partial(rng.expovariate, 1.0 / aht_s)
    env = simpy.Environment()
    staff = simpy.Resource(env, capacity=agents)
    all_served = env.event()
    in_service: dict[simpy.Event, float] = {}  # request -> service start, for occupancy at stop
    served = 0
    waited = 0
    wait_total = 0.0
    busy_total = 0.0

    def caller() -> Generator[simpy.Event, Any, None]:
        nonlocal served, waited, wait_total, busy_total
        arrived = env.now
        with staff.request() as request:
            yield request
            start = env.now
            in_service[request] = start
            service = next_service()
            yield env.timeout(service)
            del in_service[request]
        wait = start - arrived
        if wait > 0:
            waited += 1
            wait_total += wait
        busy_total += service
        served += 1
        if served == calls:
            all_served.succeed()

    def source() -> Generator[simpy.Event, Any, None]:
        while True:
            yield env.timeout(next_gap())
            env.process(caller())

    env.process(source())
    env.run(until=all_served)
    wall_s = time.perf_counter() - started

    now = env.now
    busy = busy_total + sum(now - start for start in in_service.values())
    return {
        "calls": float(served),
        "wall_s": wall_s,
        "p_wait": waited / served,
        "asa_s": wait_total / served,
        "occupancy": busy / (agents * now),
    }


def run_ciw(
    agents: int, rate_per_s: float, aht_s: float, calls: int, seed: int
) -> dict[str, float]:
    """Run the Erlang C model in Ciw until ``calls`` callers have finished service."""
    try:
        import ciw  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError("run_ciw needs the 'ciw' package (pip install ciw)") from exc
    _check_args(agents, rate_per_s, aht_s, calls)

    started = time.perf_counter()
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=rate_per_s)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / aht_s)],
        number_of_servers=[agents],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(calls, method="Finish")
    wall_s = time.perf_counter() - started

    waits = [record.waiting_time for record in sim.get_all_records()]
    served = len(waits)
    return {
        "calls": float(served),
        "wall_s": wall_s,
        "p_wait": sum(1 for wait in waits if wait > 0) / served,
        "asa_s": math.fsum(waits) / served,
        # Busy time / (servers x simulated time), in-progress services included: Ciw's own.
        "occupancy": float(sim.transitive_nodes[0].server_utilisation),
    }


def erlang_c(agents: int, rate_per_s: float, aht_s: float) -> tuple[float, float]:
    """P(wait) and ASA (s) of the M/M/c queue, by the Erlang B recursion."""
    load = rate_per_s * aht_s
    if load >= agents:
        return 1.0, math.inf
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    p_wait = agents * blocking / (agents - load * (1.0 - blocking))
    return p_wait, p_wait * aht_s / (agents - load)


def _self_check(calls: int) -> None:
    cases = [(14, 100 / 1800, 180.0), (100, 95 / 180, 180.0)]
    for agents, rate, aht in cases:
        p_wait, asa = erlang_c(agents, rate, aht)
        print(
            f"erlang-c agents={agents:<4} load={rate * aht:6.2f}"
            f"{'':29}p_wait={p_wait:.4f} asa={asa:7.3f}s occupancy={rate * aht / agents:.4f}"
        )
        for name, run in (("simpy", run_simpy), ("ciw", run_ciw)):
            got = run(agents, rate, aht, calls, 1)
            print(
                f"{name:<8} agents={agents:<4} calls={got['calls']:<7.0f} "
                f"wall={got['wall_s']:6.2f}s {got['calls'] / got['wall_s']:8.0f}/s "
                f"p_wait={got['p_wait']:.4f} asa={got['asa_s']:7.3f}s "
                f"occupancy={got['occupancy']:.4f}"
            )


if __name__ == "__main__":
    _self_check(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
