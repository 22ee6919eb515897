"""The SIP redirect-server adapter as the runtime's PBX link (``cti.runtime.PbxLink``).

``RedirectServer`` (sans-IO) on a ``SipTransport`` (UDP, TCP or both). Events the server means
while the switchboard is still handling a command (the answered-then-ended pair after a 302)
are applied on the next turn of the loop, in order: the runtime's ``submit`` is not re-entrant.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Literal

from adapters.sip.redirect_server import RedirectOptions, RedirectServer
from adapters.sip.transport import SipTransport
from adapters.submit import Submitter
from cti.core import Event as CoreEvent
from cti.core import PbxCommand

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["SipRedirectAdapter"]

log = logging.getLogger("cti.adapters.sip")


class SipRedirectAdapter:
    #: Customer records come from the daemon's store.
    answers_lookups = False

    def __init__(self, options: RedirectOptions | None = None, *, host: str = "127.0.0.1",
                 port: int = 5060, transport: Literal["udp", "tcp", "both"] = "udp") -> None:
        self.server = RedirectServer(options or RedirectOptions(), self._submit)
        self.transport = SipTransport(self.server, host, port, transport=transport,
                                      limits=self.server.options.limits)
        self._submitter = Submitter(log, self.transport.flush)
        #: Set once the transport listens (``transport.port`` is then the real port).
        self.started = asyncio.Event()

    def __repr__(self) -> str:
        return f"<SipRedirectAdapter {self.transport.transport}:{self.transport.host}:" \
               f"{self.transport.port}>"

    # -- the runtime's side -----------------------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        self._submitter.executing = True
        loop = asyncio.get_running_loop()
        had_park = self.server.step_pending
        try:
            self.server.execute(command, loop.time())
        finally:
            self._submitter.executing = False
        if self.server.step_pending and not had_park:
            # After the rest of this switchboard step (a ConnectAgent may follow at once).
            loop.call_soon(self._end_step)
        self.transport.flush()

    def _end_step(self) -> None:
        self.server.end_step(asyncio.get_running_loop().time())
        self.transport.flush()

    async def run(self, runtime: Runtime) -> None:
        self._submitter.runtime = runtime
        await self.transport.start()
        log.info("SIP redirect server on %s %s:%d", self.transport.transport,
                 self.transport.host, self.transport.port)
        self.started.set()
        try:
            await asyncio.Event().wait()  # the transport's callbacks do the work
        finally:
            await self.transport.close()

    # -- the server's side ------------------------------------------------------------------

    def _submit(self, event: CoreEvent) -> bool:
        return self._submitter.submit(event)

    @property
    def refused_events(self) -> int:
        """Events the switchboard refused (races the PBX's messages lost)."""
        return self._submitter.refused
