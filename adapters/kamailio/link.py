"""The TCP link to Kamailio's evapi socket: a thin asyncio shell over the netstring decoder.

Kamailio listens (``modparam("evapi", "bind_addr", ...)``) and the ACD connects as a client.
Frames go to ``on_frame`` as they complete; nothing here waits on the application. A broken
netstring (the stream cannot be re-synchronised past it), end of file or a socket error ends
the connection: ``on_down`` runs, and the link reconnects with jittered exponential backoff
up to ``backoff_max_s``. ``send`` writes at once and never blocks; while the link is down it
returns False and the frame is dropped (counted): Kamailio's own timers end whatever waited
for it. A Kamailio that stops reading (megabytes unsent) gets its link reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from adapters.kamailio.errors import EvapiProtocolError
from adapters.kamailio.netstring import KAMAILIO_READ_LIMIT, NetstringDecoder, encode

__all__ = ["EvapiLink"]

log = logging.getLogger("cti.adapters.kamailio")

_READ_SIZE = 65536
#: Unsent bytes (nothing ever waits for the socket) past which Kamailio counts as stuck.
_WRITE_BACKLOG = 4 * 1024 * 1024


class EvapiLink:
    def __init__(self, host: str, port: int, *, on_frame: Callable[[bytes], None],
                 on_up: Callable[[], None] = lambda: None,
                 on_down: Callable[[], None] = lambda: None,
                 max_frame: int = 1024 * 1024, backoff_initial_s: float = 0.1,
                 backoff_max_s: float = 30.0, connect_timeout_s: float = 5.0) -> None:
        self.host = host
        self.port = port
        self._on_frame = on_frame
        self._on_up = on_up
        self._on_down = on_down
        self.max_frame = max_frame
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self._writer: asyncio.StreamWriter | None = None
        #: Set while a connection is up.
        self.connected = asyncio.Event()
        self.connects = 0
        self.framing_errors = 0
        self.frames_in = 0
        self.frames_out = 0
        self.dropped_out = 0  # frames not sent: no link, or too big for Kamailio's reader

    def __repr__(self) -> str:
        return f"<EvapiLink {self.host}:{self.port} {'up' if self.connected.is_set() else 'down'}>"

    def send(self, payload: bytes) -> bool:
        writer = self._writer
        if writer is None or writer.is_closing():
            self.dropped_out += 1
            return False
        try:
            frame = encode(payload, limit=KAMAILIO_READ_LIMIT)
        except ValueError as exc:
            self.dropped_out += 1
            log.warning("evapi: not sent: %s", exc)
            return False
        if writer.transport.get_write_buffer_size() > _WRITE_BACKLOG:
            # Kamailio has stopped reading: what it has not read is stale by now. Reset.
            log.error("evapi: Kamailio is not reading (%d bytes unsent); resetting the link",
                      writer.transport.get_write_buffer_size())
            self.dropped_out += 1
            writer.transport.abort()
            return False
        writer.write(frame)
        self.frames_out += 1
        return True

    async def run(self) -> None:
        """Connect, read, reconnect, until cancelled."""
        delay = self.backoff_initial_s
        while True:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.connect_timeout_s)
            except (OSError, TimeoutError) as exc:
                log.debug("evapi: cannot connect to %s:%d: %s", self.host, self.port, exc)
            else:
                delay = self.backoff_initial_s
                await self._serve(reader, writer)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(self.backoff_max_s, delay * 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = NetstringDecoder(self.max_frame)
        self._writer = writer
        self.connects += 1
        self.connected.set()
        log.info("evapi: connected to Kamailio at %s:%d", self.host, self.port)
        self._on_up()
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    log.warning("evapi: Kamailio closed the connection")
                    break
                try:
                    frames = decoder.feed(data)
                except EvapiProtocolError as exc:
                    self.framing_errors += 1
                    log.error("evapi: %s; reconnecting", exc.detail)
                    frames = exc.frames
                for frame in frames:
                    self.frames_in += 1
                    self._on_frame(frame)
                if decoder.broken:
                    break
        except (ConnectionError, OSError) as exc:
            log.warning("evapi: link lost: %s", exc)
        finally:
            self._writer = None
            self.connected.clear()
            writer.close()
            self._on_down()  # before any await: this may be the task's cancellation
            with contextlib.suppress(Exception):
                await writer.wait_closed()
