"""A report as people and programs read it: an aligned table, CSV (one line per interval and
key), or one JSON object."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime

from cti.report.compute import ALL, Report
from cti.report.figures import Row, clean

__all__ = ["DEFINITIONS", "to_csv", "to_json", "to_table"]

DEFINITIONS = {
    "service_level": "answered within the queue's threshold / offered",
    "abandon_rate": "abandoned / offered",
    "asa_s": "mean wait of answered calls, from first entering a queue to the answer",
    "aht_s": "(talk + wrap-up) / answered",
    "occupancy": "busy (reserved, ringing, on call, wrap-up) / (busy + ready)",
    "counted": "a call counts in the interval it arrived in and the queue it was first "
               "offered to",
}


def _iso(report: Report, at: float) -> str:
    return datetime.fromtimestamp(at, report.period.zone).isoformat()


def _doc(row: Row) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in row.figures().items():
        out[key] = value if isinstance(value, int) else clean(value)
    if row.agents is not None:
        out["not_ready_by_reason"] = {k: clean(v) for k, v in
                                      sorted(row.agents.not_ready_s.items())}
    return out


def to_json(report: Report) -> str:
    period = report.period
    doc = {
        "from": _iso(report, period.start), "to": _iso(report, period.end),
        "timezone": str(period.zone), "interval": period.interval, "by": report.by,
        "definitions": DEFINITIONS,
        "intervals": [
            {"start": _iso(report, r[ALL].start), "end": _iso(report, r[ALL].end),
             "rows": {key: _doc(row) for key, row in r.items()}}
            for r in report.intervals
        ],
        "totals": {key: _doc(row) for key, row in report.totals.items()},
    }
    return json.dumps(doc, indent=1)


def _reasons(report: Report) -> list[str]:
    found: set[str] = set()
    for row in report.totals.values():
        if row.agents is not None:
            found.update(row.agents.not_ready_s)
    return sorted(found)


def to_csv(report: Report) -> str:
    reasons = _reasons(report)
    sample = next(iter(report.totals.values())).figures()
    columns = ["interval_start", "interval_end", report.by, *sample,
               *(f"not_ready_s:{r}" for r in reasons)]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(columns)
    rows = [row for interval in report.intervals for row in interval.values()]
    for row in [*rows, *report.totals.values()]:
        figures = [("" if v is None else v if isinstance(v, int) else clean(v))
                   for v in row.figures().values()]
        nr = row.agents.not_ready_s if row.agents is not None else {}
        out.writerow([_iso(report, row.start), _iso(report, row.end), row.key, *figures,
                      *(clean(nr.get(r, 0.0)) if row.agents is not None else ""
                        for r in reasons)])
    return buf.getvalue()


def _pct(v: float | int | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _secs(v: float | int | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def _clock(v: float | int | None) -> str:
    if v is None:
        return "-"
    s = round(v)
    return f"{s // 3600}:{s % 3600 // 60:02}:{s % 60:02}"


def _n(v: float | int | None) -> str:
    return "-" if v is None else f"{v:,}"


_QUEUE_COLUMNS: list[tuple[str, str, Callable[[float | int | None], str]]] = [
    ("offered", "offered", _n), ("answered", "answered", _n), ("abandoned", "abandoned", _n),
    ("blocked", "blocked", _n), ("other", "other", _n), ("SL", "service_level", _pct),
    ("ASA", "asa_s", _secs), ("AHT", "aht_s", _secs), ("abandon", "abandon_rate", _pct),
    ("occupancy", "occupancy", _pct), ("not ready", "not_ready_s", _clock),
]
_AGENT_COLUMNS: list[tuple[str, str, Callable[[float | int | None], str]]] = [
    ("answered", "answered", _n), ("AHT", "aht_s", _secs), ("talk", "talk_s", _clock),
    ("wrap-up", "wrap_up_s", _clock), ("busy", "busy_s", _clock), ("ready", "ready_s", _clock),
    ("occupancy", "occupancy", _pct), ("not ready", "not_ready_s", _clock),
]


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _empty(row: Row) -> bool:
    a = row.agents
    idle = a is None or not (a.busy_s or a.ready_s or a.not_ready_s)
    return row.calls.offered == 0 and idle


def to_table(report: Report) -> str:
    period = report.period
    columns = _QUEUE_COLUMNS if report.by == "queue" else _AGENT_COLUMNS
    header = ["interval", report.by, *(c[0] for c in columns)]
    rows = []
    several = len(report.intervals) > 1
    if several:
        for interval in report.intervals:
            for row in interval.values():
                if not _empty(row):
                    figures = row.figures()
                    rows.append([period.label(row.start), row.key,
                                 *(fmt(figures[key]) for _, key, fmt in columns)])
    for row in report.totals.values():
        figures = row.figures()
        rows.append(["total" if several else period.label(row.start), row.key,
                     *(fmt(figures[key]) for _, key, fmt in columns)])
    start, end = (datetime.fromtimestamp(t, period.zone).strftime("%Y-%m-%d %H:%M")
                  for t in (period.start, period.end))
    out = [
        f"report {start} to {end} ({period.zone}), by {report.by}, per {period.interval}",
        f"service level = {DEFINITIONS['service_level']}; AHT = {DEFINITIONS['aht_s']}; "
        "occupancy = busy / (busy + ready)",
        "",
        *_grid(header, rows),
    ]
    reasons = _reasons(report)
    if reasons:
        nr_rows = [[row.key, "", *(_clock(row.agents.not_ready_s.get(r, 0.0)) for r in reasons)]
                   for row in report.totals.values() if row.agents is not None]
        out += ["", "not ready by reason (h:mm:ss)",
                *_grid([report.by, "", *reasons], nr_rows)]
    return "\n".join(out)
