"""The compiled build: which modules mypyc compiles, which of them run compiled, and which
compiled ones are older than their source.

``setup.py`` compiles ``NATIVE`` (it reads this file by path, so keep it standard-library
only). An editable install builds the extensions in place, beside the sources, and Python then
imports the extension, not the ``.py``: after editing one of these files, rebuild
(``pip install -e .``) or remove the stale extension, or the old code runs. The test suite
refuses to start on a stale build (``tests/conftest.py``). ``CTI_COMPILE=0 pip install -e .``
after deleting the ``*.so`` files gives a pure-Python tree for quick edits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["NATIVE", "compiled", "stale"]

#: Source files compiled together, as one group, so calls between them are direct C calls: the
#: switchboard and its machines, the router and its indexes, and the simulator's virtual-time
#: loop, and the events, commands and records they pass (the ones built for every call are
#: value classes, ``cti.core.records``, whose compiled constructors are C).
NATIVE = (
    "cti/core/records.py",
    "cti/core/events.py",
    "cti/core/commands.py",
    "cti/core/notifications.py",
    "cti/core/_fsm.py",
    "cti/core/agent.py",
    "cti/core/call.py",
    "cti/core/queue.py",
    "cti/core/trunk.py",
    "cti/core/switchboard.py",
    "cti/core/ivr_calls.py",
    "acd/entries.py",
    "acd/skills.py",
    "acd/_index.py",
    "acd/_pools.py",
    "acd/strategy.py",
    "acd/strategies.py",
    "acd/router.py",
    "sim/event_queue.py",
    "sim/live_call.py",
    "sim/traffic.py",
    "sim/stats.py",
    "sim/run_statistics.py",
    "sim/runner.py",
)

_ROOT = Path(__file__).resolve().parent.parent


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def compiled() -> list[str]:
    """The modules of ``NATIVE`` that import as compiled extensions."""
    found = []
    for path in NATIVE:
        spec = importlib.util.find_spec(_module(path))
        if spec is not None and spec.origin is not None and not spec.origin.endswith(".py"):
            found.append(_module(path))
    return found


def stale(root: Path = _ROOT) -> list[str]:
    """Compiled extensions under ``root`` older than their source: what import would run is
    not what the ``.py`` says."""
    old = []
    for path in NATIVE:
        source = root / path
        if not source.exists():
            continue
        changed = source.stat().st_mtime
        old += [str(ext.relative_to(root)) for ext in source.parent.glob(f"{source.stem}.*.so")
                if ext.stat().st_mtime < changed]
    return old
