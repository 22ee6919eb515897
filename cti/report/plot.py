"""``cti report --plot FILE.png``: volume per interval (answered, abandoned, other, stacked) and
service level per interval for each queue (or agent) and overall."""

from __future__ import annotations

from pathlib import Path

from cti.report.compute import ALL, NO_QUEUE, Report

__all__ = ["plot_report"]


def plot_report(report: Report, path: str | Path) -> None:
    # Imported here: matplotlib is an optional extra, and slow to import.
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("--plot needs matplotlib: pip install 'cti-server[plot]'") from exc
    period = report.period
    # The working part of the period: from the first interval with calls to the last.
    busy = [k for k, r in enumerate(report.intervals) if r[ALL].calls.offered]
    intervals = report.intervals[busy[0]:busy[-1] + 1] if busy else report.intervals
    labels = [period.label(r[ALL].start) for r in intervals]
    short = [lab.split(" ")[-1] if period.interval != "1d" else lab for lab in labels]
    xs = list(range(len(labels)))
    overall = [r[ALL].calls for r in intervals]
    answered = [c.answered for c in overall]
    abandoned = [c.abandoned for c in overall]
    other = [c.offered - c.answered - c.abandoned for c in overall]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), sharex=True,
                                      constrained_layout=True)
    top.bar(xs, answered, color="#2e7d32", label="answered")
    top.bar(xs, abandoned, bottom=answered, color="#c62828", label="abandoned")
    top.bar(xs, other, bottom=[a + b for a, b in zip(answered, abandoned, strict=True)],
            color="#9e9e9e", label="blocked, rejected, other")
    top.set_ylabel("calls offered")
    top.legend(loc="upper left", fontsize="small")
    top.grid(axis="y", alpha=0.3)
    keys = [k for k in report.names() if k != NO_QUEUE] if report.by == "queue" else []
    for key in [*keys, ALL]:
        values = []
        for r in intervals:
            row = r.get(key)
            sl = row.figures()["service_level"] if row is not None else None
            values.append(float("nan") if sl is None else 100 * sl)
        bottom.plot(xs, values, marker="o", markersize=3,
                    linewidth=2.5 if key == ALL else 1.2,
                    label="all queues" if key == ALL else key)
    bottom.set_ylabel("service level (%)")
    bottom.set_ylim(0, 105)
    bottom.grid(alpha=0.3)
    bottom.legend(loc="lower left", fontsize="small")
    step = max(1, len(xs) // 16)
    bottom.set_xticks(xs[::step], short[::step], rotation=45 if len(xs) > 8 else 0,
                      ha="right" if len(xs) > 8 else "center")
    end = period.label(period.end)
    fig.suptitle(f"calls and service level per {period.interval}, {labels[0]} to {end} "
                 "(service level = answered within threshold / offered)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
