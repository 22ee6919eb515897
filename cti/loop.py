"""How the long-running processes run: a coroutine on uvloop when it is installed (a
dependency on Linux), else on the standard loop; and the garbage collector's settings once
start-up is over. The daemon, the demo and the simulated FreeSWITCH all run this way. A bounded
piece of work in a process that goes on (a simulation run) sets the collector for its length
only (``heap_set_aside``)."""

from __future__ import annotations

import gc
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["heap_set_aside", "run_loop", "settle_heap"]

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    import asyncio  # noqa: PLC0415 - here, so that the simulator's import of this module is cheap

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


@contextmanager
def heap_set_aside(thresholds: tuple[int, int, int]) -> Iterator[None]:
    """For the length of the block: what the process holds is out of the collector's scans
    (``gc.freeze``), and it collects with ``thresholds``; afterwards both are as they were.

    A caller that froze its heap itself (``settle_heap``) keeps its freeze: only a freeze made
    here is undone, so whatever the block built stays scannable afterwards.
    """
    freeze = not gc.get_freeze_count()
    before = gc.get_threshold()
    if freeze:
        gc.freeze()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()
