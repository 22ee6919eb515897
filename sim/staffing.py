"""The ``cti staff`` subcommand: how many agents a queue needs, from Erlang C or Erlang A.

    cti staff --rate-per-hour 200 --aht 180 --target 0.8 --within 20 [--patience 300] [--json]

Prints a table of agent counts around the answer (the fewest agents meeting the service level)
and marks the answer; ``--json`` prints one JSON object instead. Without ``--patience`` callers
wait for ever (Erlang C); with it they abandon after an exponential patience of that mean
(Erlang A), and the service level counts calls answered within the threshold over all offered.

Numbers are taken as strings and checked here rather than by argparse, so that every bad value
gives one ``error: ...`` line and exit code 2 instead of a usage dump.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Any

from sim.erlang import StaffingRow, StaffingTable, staffing_table

__all__ = ["add_parser", "run"]

_USAGE_ERROR = 2


class _InputError(ValueError):
    """A command-line value that cannot be used; the message names the option."""


@dataclass(frozen=True, slots=True)
class _Request:
    rate_per_s: float
    aht_s: float
    target: float
    within_s: float
    patience_s: float | None
    span: int


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``staff`` on ``subparsers``; the handler is set as ``run`` in its defaults."""
    p = subparsers.add_parser(
        "staff",
        help="Erlang C / Erlang A staffing table",
        description="Fewest agents meeting a service-level target (Erlang C, or Erlang A "
        "when a mean patience is given), with a table of neighbouring agent counts.",
    )
    p.add_argument("--rate", metavar="R", help="arrival rate in calls per second")
    p.add_argument("--rate-per-hour", metavar="R", help="arrival rate in calls per hour")
    p.add_argument("--aht", metavar="S", help="average handling time in seconds")
    p.add_argument("--target", metavar="SL", default="0.8",
                   help="service-level target as a fraction or a percentage (default 0.8)")
    p.add_argument("--within", metavar="S", default="20",
                   help="service-level threshold in seconds (default 20)")
    p.add_argument("--patience", metavar="P",
                   help="mean patience in seconds: callers abandon (Erlang A)")
    p.add_argument("--span", metavar="N", default="3",
                   help="agent counts to show either side of the answer (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Handle ``cti staff``: print the table (or JSON); 2 on bad input."""
    try:
        request = _request(args)
        table = staffing_table(
            request.rate_per_s, request.aht_s, request.target, request.within_s,
            request.patience_s, below=request.span, above=request.span,
        )
    except ValueError as exc:  # _InputError, or a model limit such as an unreachable target
        print(f"error: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    if args.json:
        print(json.dumps(_as_json(request, table)))
    else:
        print(_as_text(request, table))
    return 0


# --- input ------------------------------------------------------------------------------------

def _number(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _InputError(f"{option} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise _InputError(f"{option} must be a finite number, got {text!r}")
    return value


def _positive(option: str, text: str) -> float:
    value = _number(option, text)
    if value <= 0:
        raise _InputError(f"{option} must be greater than 0, got {text}")
    return value


def _request(args: argparse.Namespace) -> _Request:
    if args.rate is not None and args.rate_per_hour is not None:
        raise _InputError("give --rate or --rate-per-hour, not both")
    if args.rate is not None:
        rate = _positive("--rate", args.rate)
    elif args.rate_per_hour is not None:
        rate = _positive("--rate-per-hour", args.rate_per_hour) / 3600.0
    else:
        raise _InputError("the arrival rate is required: --rate (per second) or --rate-per-hour")
    if args.aht is None:
        raise _InputError("the average handling time is required: --aht SECONDS")
    aht = _positive("--aht", args.aht)
    target_text = str(args.target).strip()
    if target_text.endswith("%"):
        target = _number("--target", target_text[:-1]) / 100.0
    else:
        target = _number("--target", target_text)
    if not 0 < target < 1:
        raise _InputError(f"--target must be between 0 and 1 (or 0% and 100%), got {args.target}")
    within = _number("--within", args.within)
    if within < 0:
        raise _InputError(f"--within must be 0 or more seconds, got {args.within}")
    patience = None if args.patience is None else _positive("--patience", args.patience)
    try:
        span = int(args.span)
    except ValueError:
        raise _InputError(f"--span must be a whole number, got {args.span!r}") from None
    if span < 0:
        raise _InputError(f"--span must be 0 or more, got {args.span}")
    return _Request(rate, aht, target, within, patience, span)


# --- output -----------------------------------------------------------------------------------

def _model(request: _Request) -> str:
    return "erlang_c" if request.patience_s is None else "erlang_a"


def _as_json(request: _Request, table: StaffingTable) -> dict[str, Any]:
    return {
        "model": _model(request),
        "rate_per_s": request.rate_per_s,
        "rate_per_hour": request.rate_per_s * 3600.0,
        "aht_s": request.aht_s,
        "offered_erlang": table.offered_erlang,
        "target": request.target,
        "within_s": request.within_s,
        "patience_s": request.patience_s,
        "agents": table.agents,
        "rows": [_row_json(row, row.agents == table.agents) for row in table.rows],
    }


def _row_json(row: StaffingRow, answer: bool) -> dict[str, Any]:
    return {
        "agents": row.agents,
        "occupancy": row.occupancy,
        "p_wait": row.p_wait,
        "asa_s": row.asa_s,
        "mean_wait_s": row.mean_wait_s,
        "service_level": row.service_level,
        "p_abandon": row.p_abandon,
        "meets_target": row.meets_target,
        "answer": answer,
    }


def _as_text(request: _Request, table: StaffingTable) -> str:
    erlang_a = request.patience_s is not None
    model = (f"Erlang A (mean patience {request.patience_s:g} s)" if erlang_a
             else "Erlang C (no abandonment)")
    lines = [
        f"{model}: {request.rate_per_s * 3600:g} calls/h ({request.rate_per_s:.4g}/s), "
        f"AHT {request.aht_s:g} s, {table.offered_erlang:.4g} Erlang offered",
        f"target: {request.target:.4g} of calls answered within {request.within_s:g} s",
        "",
    ]
    headers = ["agents", "occupancy", "P(wait)", "ASA s", f"SL {request.within_s:g}s"]
    if erlang_a:
        headers += ["P(abandon)", "mean wait s"]
    headers.append("")
    rows = []
    for row in table.rows:
        cells = [str(row.agents), f"{row.occupancy:.1%}", f"{row.p_wait:.1%}",
                 f"{row.asa_s:.1f}", f"{row.service_level:.1%}"]
        if row.p_abandon is not None:
            cells += [f"{row.p_abandon:.1%}", f"{row.mean_wait_s:.1f}"]
        cells.append("<- answer" if row.agents == table.agents else "")
        rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    # Numbers right-aligned so that digits line up; the marker column is left-aligned.
    def line(cells: list[str]) -> str:
        body = [c.rjust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
        return "  ".join([*body, cells[-1]]).rstrip()

    lines.append(line(headers))
    lines.append(line(["-" * w for w in widths[:-1]] + [""]))
    lines += [line(r) for r in rows]
    answer = next(r for r in table.rows if r.agents == table.agents)
    lines += ["", f"answer: {table.agents} agents "
              f"(service level {answer.service_level:.1%} within {request.within_s:g} s)"]
    return "\n".join(lines)
