"""What ``cti demo`` shows: a snapshot of the daemon, and the text made of it (plain functions,
no I/O, so they are tested without a terminal).

- ``render``: the live view, one screen redrawn about once a second with plain ANSI escapes:
  agents by state (with their ids), and per queue the callers waiting, the longest wait now,
  offered, answered, abandoned and the service level so far.
- ``status_line``: the same figures on one line, printed periodically when stdout is not a
  terminal (or with ``--no-view``).
- ``summary``: what is printed when the demo stops.

Times shown are the switchboard's (simulated) seconds, which run ``speed`` times faster than
the wall clock: a wait of "1:30" is what the caller would have lived through.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cti.core.statistics import SwitchboardStatistics

__all__ = ["Snapshot", "TicketCounts", "render", "status_line", "summary"]

#: Display order of agent states, with their colour (ANSI SGR).
_STATES = (
    ("ready", "32"), ("reserved", "33"), ("ringing", "33;1"), ("on-call", "36"),
    ("wrap-up", "35"), ("not-ready", "2"), ("logged-out", "2"),
)
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"


@dataclass(frozen=True, slots=True)
class Snapshot:
    stats: SwitchboardStatistics
    #: queue -> seconds the longest-waiting caller has waited so far (queues with callers).
    longest_wait: Mapping[str, float]
    speed: float
    #: Wall-clock seconds since the demo started.
    uptime_s: float
    screen_pops: int
    tickets: int
    tickets_merged: int
    published: int
    dropped: int


@dataclass(frozen=True, slots=True)
class TicketCounts:
    """Read back from the store when the demo stops."""

    by_kind: Mapping[str, int]
    call_records: int


def _clock(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _level(answered_in_sl: int, offered: int) -> str:
    return f"{100 * answered_in_sl / offered:5.1f}%" if offered else "    -"


def _agents_by_state(stats: SwitchboardStatistics) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for agent_id, a in stats.agents.items():
        groups.setdefault(a.state, []).append(agent_id)
    return groups


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


def render(snap: Snapshot, *, hints: Sequence[str], notes: Sequence[str] = (),
           width: int = 100, color: bool = True) -> list[str]:
    """The live view's lines (without the escapes that place them on the screen)."""
    def paint(code: str, text: str) -> str:
        return f"\x1b[{code}m{text}{_RESET}" if color else text

    bold = _BOLD if color else ""
    reset = _RESET if color else ""
    stats = snap.stats
    sim = time.strftime("%H:%M:%S", time.localtime(stats.at))
    lines = [
        f"{bold}cti demo{reset}  up {_clock(snap.uptime_s)}  simulated time {sim} "
        f"(x{snap.speed:g})   Ctrl-C stops it",
        *(paint("2", _fit(h, width)) for h in hints),
        "",
    ]
    groups = _agents_by_state(stats)
    counts = "  ".join(paint(code, f"{state} {len(groups[state])}")
                       for state, code in _STATES if groups.get(state))
    lines.append(f"{bold}agents{reset} ({len(stats.agents)})  {counts}")
    for state, code in _STATES:
        names = groups.get(state)
        if names and state != "logged-out":
            lines.append(paint(code, _fit(f"  {state:10} {' '.join(sorted(names))}", width)))
    lines.append("")
    header = (f"{'queue':14} {'waiting':>7} {'longest':>8} {'offered':>8} {'answered':>9} "
              f"{'abandoned':>10} {'service level':>16}")
    lines.append(bold + _fit(header, width) + reset)
    totals = [0, 0, 0, 0, 0]
    for name, q in stats.queues.items():
        wait = snap.longest_wait.get(name)
        longest = _clock(wait) if wait is not None else "-"
        state = "" if q.state == "open" else f" ({q.state})"
        lines.append(_fit(
            f"{name + state:14} {q.waiting:7} {longest:>8} {q.offered:8} {q.answered:9} "
            f"{q.abandoned:10} {_level(q.answered_in_sl, q.offered):>8} in {q.service_level_s:g} s",
            width))
        for i, v in enumerate((q.waiting, q.offered, q.answered, q.abandoned, q.answered_in_sl)):
            totals[i] += v
    waiting, offered, answered, abandoned, in_sl = totals
    longest_all = max(snap.longest_wait.values(), default=None)
    lines.append(_fit(
        f"{'all':14} {waiting:7} {_clock(longest_all) if longest_all is not None else '-':>8} "
        f"{offered:8} {answered:9} {abandoned:10} {_level(in_sl, offered):>8}", width))
    lines += [
        "",
        _fit(f"calls arrived {stats.arrived}, in progress {stats.calls_active}   "
             f"screen pops {snap.screen_pops}   tickets {snap.tickets} "
             f"(+{snap.tickets_merged} merged)   bus events {snap.published}"
             + (f", {snap.dropped} dropped" if snap.dropped else ""), width),
    ]
    if notes:
        lines += ["", *(paint("33", _fit(n, width)) for n in notes)]
    return lines


def status_line(snap: Snapshot) -> str:
    """The view on one line, for a log or a pipe."""
    stats = snap.stats
    groups = _agents_by_state(stats)
    agents = ", ".join(f"{len(groups[s])} {s}" for s, _ in _STATES if groups.get(s))
    queues = []
    for name, q in stats.queues.items():
        wait = snap.longest_wait.get(name)
        longest = f" (longest {_clock(wait)})" if wait is not None else ""
        queues.append(f"{name}: {q.waiting} waiting{longest}, offered {q.offered}, "
                      f"answered {q.answered}, abandoned {q.abandoned}, "
                      f"SL {_level(q.answered_in_sl, q.offered).strip()}")
    return (f"[{_clock(snap.uptime_s)}] agents: {agents} | " + " | ".join(queues)
            + f" | screen pops {snap.screen_pops}, tickets {snap.tickets}")


def summary(snap: Snapshot, *, tickets: TicketCounts | None, store: str,
            broker: str) -> list[str]:
    """What the demo says when it stops."""
    stats = snap.stats
    qs = stats.queues.values()
    offered = sum(q.offered for q in qs)
    answered = sum(q.answered for q in qs)
    abandoned = sum(q.abandoned for q in qs)
    blocked = sum(q.blocked for q in qs)
    in_sl = sum(q.answered_in_sl for q in qs)
    levels = ", ".join(f"{name} {_level(q.answered_in_sl, q.offered).strip()} within "
                       f"{q.service_level_s:g} s" for name, q in stats.queues.items())
    simulated = snap.uptime_s * snap.speed
    lines = [
        f"cti demo stopped after {_clock(snap.uptime_s)} ({_clock(simulated)} simulated at "
        f"x{snap.speed:g})",
        f"calls: {offered} offered, {answered} answered, {abandoned} abandoned"
        + (f", {blocked} blocked" if blocked else "")
        + f"; {stats.calls_active} still in progress at the stop",
        f"service level: {_level(in_sl, offered).strip()} ({levels})",
        f"screen pops published: {snap.screen_pops}",
    ]
    kinds = ""
    if tickets is not None and tickets.by_kind:
        kinds = " (" + ", ".join(f"{k} {n}" for k, n in sorted(tickets.by_kind.items())) + ")"
    lines.append(f"tickets: {snap.tickets} created{kinds}, {snap.tickets_merged} merged into "
                 "an open one")
    lines.append(f"bus: {snap.published} events published, {snap.dropped} dropped; {broker}")
    records = f" ({tickets.call_records} call records)" if tickets is not None else ""
    lines.append(f"store: {store}{records}")
    return lines
