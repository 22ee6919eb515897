"""docs/grafana-dashboard.json only queries metrics the daemon exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from cti.config import parse_settings
from cti.core import AgentLogin, CallArrived
from cti.metrics import metrics_registry
from cti.runtime import Runtime

DOC = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"
NAME = re.compile(r"\b(cti_[a-z_]+)\b")


def test_every_dashboard_metric_is_exported() -> None:
    runtime = Runtime(parse_settings(
        'default_queue = "q"\n[queues.q]\n[agents.a]\nqueues = ["q"]\n', source="t.toml"))
    runtime.switchboard.handle(AgentLogin("a"), 0.0)
    runtime.switchboard.handle(CallArrived("c", "+1", "1"), 0.0)
    exported = set(NAME.findall(generate_latest(metrics_registry(runtime)).decode()))
    dashboard = json.loads(DOC.read_text(encoding="utf-8"))
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in NAME.findall(target["expr"])}
    assert used, "the dashboard queries nothing"
    assert used <= exported, sorted(used - exported)
