"""Submitting an adapter's events to the runtime, never from inside the runtime's own step.

The runtime's ``submit`` is not re-entrant: while the switchboard hands a command to an adapter
(``execute``), an event the adapter means at once (a redirect server's 302 ends the call there
and then) must wait for the step to finish. ``Submitter`` applies events straight away when it
can, and otherwise queues them and applies them in order on the next turn of the loop; events
that arrive while a queue is waiting go behind it, so the order is always the adapter's.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from cti.core import CtiError
from cti.core import Event as CoreEvent

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["Submitter"]


class Submitter:
    def __init__(self, log: logging.Logger, after_drain: Callable[[], None]) -> None:
        self.log = log
        #: Run after queued events were applied (the adapter flushes what they produced).
        self.after_drain = after_drain
        self.runtime: Runtime | None = None
        #: True while the adapter carries out a command of the switchboard.
        self.executing = False
        self.refused = 0
        self._later: deque[CoreEvent] = deque()
        self._draining = False

    def submit(self, event: CoreEvent) -> bool:
        """The adapter's ``submit``: whether the switchboard took the event (True when it is
        queued: the runtime decides later, and a refusal is then logged and counted)."""
        if self.executing or self._draining or self._later:
            self._later.append(event)
            if len(self._later) == 1 and not self._draining:
                asyncio.get_running_loop().call_soon(self._drain)
            return True
        return self._apply(event)

    def _apply(self, event: CoreEvent) -> bool:
        runtime = self.runtime
        if runtime is None:
            return False
        try:
            runtime.submit(event)
        except CtiError as exc:  # a race the PBX's messages lost: nothing changed
            self.refused += 1
            self.log.debug("%s refused: %s", type(event).__name__, exc)
            return False
        return True

    def _drain(self) -> None:
        self._draining = True
        try:
            while self._later:
                self._apply(self._later.popleft())
        finally:
            self._draining = False
        self.after_drain()
