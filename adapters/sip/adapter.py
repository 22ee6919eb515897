"""The SIP redirect-server adapter as the runtime's PBX link (``cti.runtime.PbxLink``).

``RedirectServer`` (sans-IO) on a ``SipTransport`` (UDP, TCP or both). Events the server means
while the switchboard is still handling a command (the answered-then-ended pair after a 302)
are applied on the next turn of the loop, in order: the runtime's ``submit`` is not re-entrant.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Literal

from adapters.sip.redirect_server import RedirectOptions, RedirectServer
from adapters.sip.transport import SipTransport
from cti.core import CtiError, PbxCommand
from cti.core import Event as CoreEvent

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
        self._runtime: Runtime | None = None
        self._executing = False
        self._later: deque[CoreEvent] = deque()
        self._draining = False
        #: Set once the transport listens (``transport.port`` is then the real port).
        self.started = asyncio.Event()
        self.refused_events = 0

    def __repr__(self) -> str:
        return f"<SipRedirectAdapter {self.transport.transport}:{self.transport.host}:" \
               f"{self.transport.port}>"

    # -- the runtime's side -----------------------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        self._executing = True
        loop = asyncio.get_running_loop()
        had_park = self.server.step_pending
        try:
            self.server.execute(command, loop.time())
        finally:
            self._executing = False
        if self.server.step_pending and not had_park:
            # After the rest of this switchboard step (a ConnectAgent may follow at once).
            loop.call_soon(self._end_step)
        self.transport.flush()

    def _end_step(self) -> None:
        self.server.end_step(asyncio.get_running_loop().time())
        self.transport.flush()

    async def run(self, runtime: Runtime) -> None:
        self._runtime = runtime
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
        self.transport.flush()
