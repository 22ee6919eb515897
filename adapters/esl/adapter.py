"""The FreeSWITCH adapter: the Event Socket client and the call-control mapping, as the
runtime's PBX link (``cti.runtime.PbxLink``).

One task reads the client's stream and hands each event to ``CallControl``, which submits the
switchboard events it means; every command the switchboard gives back becomes one ``bgapi``
whose result comes back by callback, so a slow job never holds up the next command or the
reader. Each command is written as it is given, so FreeSWITCH receives them in that order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from adapters.esl.client import EslClient, Resync
from adapters.esl.control import CallControl, ControlOptions
from adapters.esl.media import SendMsg
from cti.core import CollectDigits, CtiError, PbxCommand, PlayPrompt
from cti.core import Event as CoreEvent

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["FreeswitchAdapter"]

log = logging.getLogger("cti.adapters.esl")


class FreeswitchAdapter:
    #: Customer records come from the daemon's store, not from FreeSWITCH.
    answers_lookups = False

    def __init__(self, client: EslClient, options: ControlOptions) -> None:
        self.client = client
        self.control = CallControl(options, self._submit, self._send)
        self._runtime: Runtime | None = None
        self._running = False
        self._media = False  # subscribed to the IVR's media events
        #: Commands (and the leg each originate creates) given before the link first came up.
        self._waiting: list[tuple[str | SendMsg, str | None]] = []
        self.commands_sent = 0
        self.commands_failed = 0  # lost with the link
        self.commands_refused = 0  # answered -ERR

    def __repr__(self) -> str:
        return f"<FreeswitchAdapter {self.client!r}>"

    # -- the runtime's side -------------------------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        if not self._media and isinstance(command, PlayPrompt | CollectDigits):
            self._media = True  # the first prompt: its completion must reach us
            self.client.subscribe(CallControl.MEDIA_EVENTS)
        self.control.execute(command)

    async def run(self, runtime: Runtime) -> None:
        self._runtime = runtime
        await self.client.start()
        log.info("connected to FreeSWITCH at %s:%d (Core-UUID %s)", self.client.host,
                 self.client.port, self.client.core_uuid)
        self._running = True
        try:
            for command, leg in self._waiting:
                self._command(command, leg)
            self._waiting.clear()
            await self._read()
        finally:
            self._running = False
            await self.client.close()

    # -- FreeSWITCH's side ----------------------------------------------------------------------

    async def _read(self) -> None:
        async for item in self.client.stream():
            if isinstance(item, Resync):
                log.info("resync (%s): %d channels%s", item.reason, len(item.channels),
                         ", FreeSWITCH restarted" if item.restarted else "")
                self.control.on_resync(item.channels, item.restarted)
            else:
                self.control.on_event(item.name, item.headers)

    def _submit(self, event: CoreEvent) -> bool:
        runtime = self._runtime
        if runtime is None:
            return False
        try:
            runtime.submit(event)
        except CtiError as exc:  # a race FreeSWITCH's events lost: nothing changed
            log.debug("%s refused: %s", type(event).__name__, exc)
            return False
        return True

    def _send(self, command: str | SendMsg, leg: str | None) -> None:
        if self._running:
            self._command(command, leg)
        else:
            self._waiting.append((command, leg))

    def _command(self, command: str | SendMsg, leg: str | None) -> None:
        self.commands_sent += 1
        if isinstance(command, SendMsg):
            self._sendmsg(command)
            return

        def settled(result: str | None, error: Exception | None) -> None:
            if error is not None or result is None:
                self.commands_failed += 1
                log.warning("%s: %s", command.split(" ", 1)[0], error)
                result = "-ERR LINK_LOST"  # the resync after the reconnect settles the rest
            self._settled(command, leg, result)

        self.client.bgapi_then(command, settled)

    def _sendmsg(self, msg: SendMsg) -> None:
        headers = msg.headers
        what = (f"sendmsg {msg.uuid} "
                f"{headers.get('execute-app-name') or headers.get('call-command')}")

        def settled(result: str | None, error: Exception | None) -> None:
            if error is not None or result is None:
                self.commands_failed += 1
                log.warning("%s: %s", what, error)
            elif result.startswith("-ERR"):
                self.commands_refused += 1  # the channel is gone: its hang-up says the rest
                log.debug("%s: %s", what, result.strip())

        self.client.sendmsg_then(msg.uuid, dict(msg.headers), settled)

    def _settled(self, command: str, leg: str | None, result: str) -> None:
        if leg is not None:
            self.control.on_job_result(leg, result)
        elif result.startswith("-ERR"):
            # Mostly a race FreeSWITCH settled first (a kill of a channel already gone).
            self.commands_refused += 1
            log.debug("%s: %s", " ".join(command.split(" ", 2)[:2]), result.strip())
