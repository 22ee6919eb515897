"""The Kamailio evapi adapter as the runtime's PBX link (``cti.runtime.PbxLink``).

``EvapiRouter`` (sans-IO) on an ``EvapiLink`` (the TCP client of Kamailio's evapi socket).
Events the router means while the switchboard is still handling a command are applied on the
next turn of the loop, in order: the runtime's ``submit`` is not re-entrant. A frame that
makes the router fail unexpectedly is logged and dropped; the link stays up.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from adapters.kamailio.link import EvapiLink
from adapters.kamailio.router import EvapiOptions, EvapiRouter
from adapters.submit import Submitter
from cti.core import Event as CoreEvent
from cti.core import PbxCommand

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
        self._submitter = Submitter(log, self._arm_step)
        self._step_armed = False
        self.internal_errors = 0

    def __repr__(self) -> str:
        return f"<KamailioAdapter {self.link!r}>"

    # -- the runtime's side -----------------------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        self._submitter.executing = True
        try:
            self.router.execute(command)
        finally:
            self._submitter.executing = False
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
        self._submitter.runtime = runtime
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
        return self._submitter.submit(event)

    @property
    def refused_events(self) -> int:
        """Events the switchboard refused (races the PBX's messages lost)."""
        return self._submitter.refused
