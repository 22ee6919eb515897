"""Historical reports from the store: ``cti report`` (``cti.report.command``), and today's
figures before a daemon's start for the wallboard. Definitions: ``cti.report.figures``."""

from cti.report.compute import ALL, NO_QUEUE, Report, Site, compute_report
from cti.report.figures import AgentTime, CallTally, Row
from cti.report.period import INTERVALS, Period, PeriodError, day_start, parse_period

__all__ = [
    "ALL", "INTERVALS", "NO_QUEUE", "AgentTime", "CallTally", "Period", "PeriodError", "Report",
    "Row", "Site", "compute_report", "day_start", "parse_period",
]
