"""The Kamailio evapi adapter as the runtime's PBX link (``cti.runtime.PbxLink``).

``EvapiRouter`` (sans-IO) on an ``EvapiLink`` (the TCP client of Kamailio's evapi socket).
Events the router means while the switchboard is still handling a command are applied on the
next turn of the loop, in order: the runtime's ``submit`` is not re-entrant. A frame that
makes the router fail unexpectedly is logged and dropped; the link stays up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from adapters.kamailio.link import EvapiLink
from adapters.kamailio.router import EvapiOptions, EvapiRouter
from cti.core import CtiError, PbxCommand
from cti.core import Event as CoreEvent

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["KamailioAdapter"]

log = logging.getLogger("cti.adapters.kamailio")


class KamailioAdapter:
    #: Customer records come from the daemon's store.
    answers_lookups = False

    def __init__(self, options: EvapiOptions | None = None, *, host: str = "127.0.0.1",
                 port: int = 8448, max_frame: int = 1024 * 1024,
                 reconnect_max_s: float = 30.0) -> None:
        self.router = EvapiRouter(options or EvapiOptions(), self._submit, self._send)
        self.link = EvapiLink(host, port, on_frame=self._frame, on_down=self._down,
                              max_frame=max_frame, backoff_max_s=reconnect_max_s)
        self._runtime: Runtime | None = None
        self._executing = False
        self._later: deque[CoreEvent] = deque()
        self._draining = False
        self._step_armed = False
        self.refused_events = 0
        self.internal_errors = 0

    def __repr__(self) -> str:
        return f"<KamailioAdapter {self.link!r}>"

    # -- the runtime's side -----------------------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        self._executing = True
        try:
            self.router.execute(command)
        finally:
            self._executing = False
        self._arm_step()

    def _arm_step(self) -> None:
        # After the rest of this switchboard step (a ConnectAgent may follow the park at once).
        if self.router.step_pending and not self._step_armed:
            self._step_armed = True
            asyncio.get_running_loop().call_soon(self._end_step)

    def _end_step(self) -> None:
        self._step_armed = False
        self.router.end_step()

    async def run(self, runtime: Runtime) -> None:
        self._runtime = runtime
        log.info("Kamailio evapi: connecting to %s:%d", self.link.host, self.link.port)
        await self.link.run()

    # -- the link's side --------------------------------------------------------------------

    def _frame(self, payload: bytes) -> None:
        try:
            self.router.receive(payload)
        except Exception:  # one bad frame must not take the link down with it
            self.internal_errors += 1
            log.exception("evapi: frame dropped: %r", payload[:200])
        self._arm_step()

    def _down(self) -> None:
        self.router.link_lost()

    def _send(self, payload: bytes) -> bool:
        return self.link.send(payload)

    # -- the router's side ------------------------------------------------------------------

    def _submit(self, event: CoreEvent) -> bool:
        if self._executing or self._draining or self._later:
            self._later.append(event)
            if len(self._later) == 1 and not self._draining:
                asyncio.get_running_loop().call_soon(self._drain)
            return True
        return self._apply(event)

    def _apply(self, event: CoreEvent) -> bool:
        runtime = self._runtime
        if runtime is None:
            return False
        try:
            runtime.submit(event)
        except CtiError as exc:
            self.refused_events += 1
            log.debug("%s refused: %s", type(event).__name__, exc)
            return False
        return True

    def _drain(self) -> None:
        self._draining = True
        try:
            while self._later:
                self._apply(self._later.popleft())
        finally:
            self._draining = False
        self._arm_step()
