"""The simulator's report as people read it: a table per queue and overall, strategies side by
side, each figure with its 95% half-width; and as a chart comparing strategies (``--plot``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from sim.stats import QueueReport, Report

__all__ = ["format_reports", "plot_reports"]

#: (label, key, how to show it): ``%`` for shares, ``s`` for seconds.
_ROWS = (
    ("offered", "offered", "n"),
    ("answered", "answered", "n"),
    ("abandoned", "abandoned", "n"),
    ("blocked", "blocked", "n"),
    ("rejected / diverted", "rejected_diverted", "n"),
    ("in progress at end", "in_progress", "n"),
    ("P(wait > 0)", "p_wait", "%"),
    ("ASA", "asa_s", "s"),
    ("mean wait (all)", "mean_wait_s", "s"),
    ("service level", "service_level", "%"),
    ("abandon rate", "p_abandon", "%"),
    ("AHT", "aht_s", "s"),
    ("occupancy", "occupancy", "%"),
)
#: Rows of a scenario with an IVR flow.
_IVR_ROWS = (
    ("IVR entered", "ivr_entered", "n"),
    ("IVR containment", "ivr_containment", "%"),
    ("time in IVR (mean)", "ivr_mean_time_s", "s"),
    ("IVR abandon rate", "ivr_abandon_rate", "%"),
)


def _cell(q: QueueReport, key: str, how: str) -> str:
    if how == "n":
        if key == "rejected_diverted":
            return f"{q.rejected} / {q.diverted}"
        if key.startswith("ivr_"):
            return f"{(q.ivr or {}).get(key[4:], 0):,}"
        return f"{getattr(q, key):,}"
    value = q.figures.get(key, math.nan)
    half = q.ci95.get(key, math.nan)
    if math.isnan(value):
        return "-"
    if how == "%":
        text = f"{100 * value:.2f}%"
        return text + (f" ± {100 * half:.2f}" if not math.isnan(half) else "")
    text = f"{value:.2f} s"
    return text + (f" ± {half:.2f}" if not math.isnan(half) else "")


def _block(title: str, columns: Sequence[tuple[str, QueueReport]]) -> list[str]:
    header = [title, *(name for name, _ in columns)]
    table = _ROWS + (_IVR_ROWS if any(q.ivr is not None for _, q in columns) else ())
    rows = [[label, *(_cell(q, key, how) for _, q in columns)] for label, key, how in table]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    return lines


def format_reports(reports: Sequence[Report]) -> str:
    """Overall, then each queue; one column per report (strategy)."""
    first = reports[0]
    out = [
        f"scenario {first.scenario}: seed {first.seed}, {first.calls:,} calls measured, "
        f"{first.simulated_s / 3600:.1f} h simulated, {first.batches} batches "
        "(± is the 95% half-width by batch means)",
        "service level = answered within the queue's threshold / offered",
        "",
    ]
    if first.overall.ivr is not None:
        out[-1:-1] = [
            "IVR containment = finished by the flow in self-service / entered it; a call that "
            "ended in the flow counts only in the IVR rows",
        ]
    names = [r.strategy for r in reports]
    out += _block("all queues", list(zip(names, (r.overall for r in reports), strict=True)))
    if len(first.queues) > 1:
        for queue in first.queues:
            out.append("")
            cols = [(r.queues[queue].strategy, r.queues[queue]) for r in reports]
            out += _block(f"queue {queue}", cols)
    out.append("")
    out.append("  ".join(
        f"{r.strategy}: {r.wall_s:.1f} s wall, {r.calls / r.wall_s:,.0f} calls/s"
        for r in reports if r.wall_s > 0
    ))
    return "\n".join(line.rstrip() for line in out)


def plot_reports(reports: Sequence[Report], path: str | Path) -> None:
    """A PNG comparing strategies: service level, ASA, abandon rate and occupancy, with 95%
    error bars, overall and per queue."""
    # Imported here: matplotlib is an optional extra, and slow to import.
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "--plot needs matplotlib: pip install 'cti-server[plot]'"
        ) from exc
    panels = (("service level", "service_level", 100.0, "%"), ("ASA", "asa_s", 1.0, "s"),
              ("abandon rate", "p_abandon", 100.0, "%"), ("occupancy", "occupancy", 100.0, "%"))
    groups = ["all", *reports[0].queues] if len(reports[0].queues) > 1 else ["all"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
    width = 0.8 / len(reports)
    for ax, (title, key, scale, unit) in zip(axes.flat, panels, strict=True):
        for i, rep in enumerate(reports):
            qs = [rep.overall if g == "all" else rep.queues[g] for g in groups]
            values = [_nan0(q.figures[key]) * scale for q in qs]
            errs = [_nan0(q.ci95.get(key, math.nan)) * scale for q in qs]
            xs = [j + (i - (len(reports) - 1) / 2) * width for j in range(len(groups))]
            ax.bar(xs, values, width, yerr=errs, capsize=3, label=rep.strategy)
        ax.set_xticks(range(len(groups)), groups)
        ax.set_title(f"{title} ({unit})")
        ax.grid(axis="y", alpha=0.3)
    axes.flat[0].legend(loc="lower right", fontsize="small")
    fig.suptitle(f"{reports[0].scenario}: strategies on the same traffic (seed "
                 f"{reports[0].seed}), 95% intervals by batch means")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _nan0(x: float) -> float:
    return 0.0 if math.isnan(x) else x
