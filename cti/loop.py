"""Running a coroutine on uvloop when it is installed (a dependency on Linux), else on the
standard loop: the daemon, the demo and the simulated FreeSWITCH all run this way."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_loop"]

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
