"""How the long-running processes run: a coroutine on uvloop when it is installed (a
dependency on Linux), else on the standard loop; and the garbage collector's settings once
start-up is over. The daemon, the demo and the simulated FreeSWITCH all run this way."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_loop", "settle_heap"]

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop  # noqa: PLC0415 - optional: the standard loop works too
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(main)
    # Imported first, then run: an ImportError raised by ``main`` itself must not start it
    # a second time on the other loop.
    result: T = uvloop.run(main)
    return result


def settle_heap(thresholds: tuple[int, int, int]) -> None:
    """Start-up is over: move everything built so far (modules, configuration, SQLAlchemy's
    metadata, the roster) out of the cyclic collector's reach, and collect with
    ``thresholds`` from now on.

    A full collection walks every tracked object; with the start-up heap in it (about 100,000
    objects) it held the event loop for 60-100 ms several times a minute: it was the whole
    tail of the screen-pop latency. What is built at start-up lives until exit, so nothing is
    lost by never scanning it again. Frozen once per process (a second runtime in the same
    process, in the tests, has nothing new worth freezing); the thresholds are set each time.
    """
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
    gc.set_threshold(*thresholds)
