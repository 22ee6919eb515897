"""A thin asyncio transport for a sans-IO SIP endpoint: a UDP socket and a TCP server.

Each datagram goes to ``endpoint.receive_datagram``; each TCP connection has its own
``StreamParser`` (Content-Length framing) whose messages go to ``endpoint.receive``. After
every input the transport drains ``datagrams_to_send()`` (a reliable one to the TCP connection
of its address, the others to the UDP socket) and re-arms one ``loop.call_at`` for
``next_deadline()``. The endpoint's clock is the loop's (monotonic). A connection whose framing
is lost is closed after its 400 (if one could be given); bytes are never read ahead of a
parser that is broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Literal, Protocol

from adapters.sip.errors import SipProtocolError
from adapters.sip.message import Request, Response
from adapters.sip.parser import DEFAULT_LIMITS, Limits, StreamParser
from adapters.sip.transaction import Address, Transmit

__all__ = ["SipEndpoint", "SipTransport"]

log = logging.getLogger("cti.adapters.sip")

#: The UDP socket's receive buffer. Linux's default (208 KiB) holds about 90 datagrams on
#: loopback, counting the kernel's overhead per packet: a pause of the event loop of a few
#: tens of milliseconds at 1,000 calls/s overflowed it, the kernel dropped INVITEs, and each
#: lost one cost its caller SIPp's 500 ms retransmission (the p99 of INVITE -> 302 was
#: 500-600 ms, with "receive buffer errors" counted in /proc/net/snmp). The kernel caps the
#: request at net.core.rmem_max; what it granted is logged when that is less.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


class SipEndpoint(Protocol):
    def receive_datagram(self, data: bytes, source: Address, now: float) -> None: ...
    def receive(self, item: Request | Response | SipProtocolError, source: Address,
                now: float, *, reliable: bool) -> None: ...
    def handle_timer(self, now: float) -> None: ...
    def next_deadline(self) -> float | None: ...
    def datagrams_to_send(self) -> list[Transmit]: ...


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        host, port = str(addr[0]), int(str(addr[1]))
        self.owner.datagram(data, (host, port))

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable and the like
        log.debug("udp: %s", exc)


class SipTransport:
    """Serve ``endpoint`` on ``host``:``port`` over UDP, TCP or both (port 0: a free one,
    the same for both when possible; ``port`` tells which)."""

    def __init__(self, endpoint: SipEndpoint, host: str = "127.0.0.1", port: int = 5060, *,
                 transport: Literal["udp", "tcp", "both"] = "udp",
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.endpoint = endpoint
        self.host = host
        self.port = port
        self.transport = transport
        self.limits = limits
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._writers: dict[Address, asyncio.StreamWriter] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.datagrams_in = 0
        self.unroutable = 0  # reliable responses whose connection had closed

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        port = self.port
        if self.transport in ("udp", "both"):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, port))
            self._udp = udp
            port = int(udp.get_extra_info("sockname")[1])
            _enlarge_receive_buffer(udp.get_extra_info("socket"))
        if self.transport in ("tcp", "both"):
            self._tcp = await asyncio.start_server(self._connection, self.host, port)
            port = int(self._tcp.sockets[0].getsockname()[1])
        self.port = port

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._writers.values()):
                writer.close()
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()

    # -- input ------------------------------------------------------------------------------

    def datagram(self, data: bytes, source: Address) -> None:
        assert self._loop is not None
        self.datagrams_in += 1
        self.endpoint.receive_datagram(data, source, self._loop.time())
        self._flush()

    def _stream_item(self, item: Request | Response | SipProtocolError,
                     source: Address) -> None:
        assert self._loop is not None
        self.endpoint.receive(item, source, self._loop.time(), reliable=True)
        self._flush()

    def flush(self) -> None:
        """Send what the endpoint queued outside an input (after a switchboard command)."""
        self._flush()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address: Address = (str(peer[0]), int(peer[1]))
        self._writers[address] = writer
        parser = StreamParser(self.limits)
        try:
            while not parser.broken:
                data = await reader.read(65536)
                if not data:
                    break
                items = parser.feed(data)
                for item in items:
                    self._stream_item(item, address)
                await writer.drain()
        except (ConnectionError, OSError) as exc:
            log.debug("tcp %s: %s", address, exc)
        finally:
            if self._writers.get(address) is writer:
                del self._writers[address]
            writer.close()

    # -- output and timers ------------------------------------------------------------------

    def _flush(self) -> None:
        for out in self.endpoint.datagrams_to_send():
            if out.reliable:
                writer = self._writers.get(out.address)
                if writer is None or writer.is_closing():
                    self.unroutable += 1
                    continue
                writer.write(out.data)
            elif self._udp is not None:
                self._udp.sendto(out.data, out.address)
        self._arm()

    def _arm(self) -> None:
        due = self.endpoint.next_deadline()
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = None
        if due is not None and self._loop is not None:
            self._timer = self._loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        assert self._loop is not None
        self.endpoint.handle_timer(self._loop.time())
        self._flush()


def _enlarge_receive_buffer(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except OSError as exc:
        log.warning("could not enlarge the SIP UDP receive buffer: %s", exc)
        return
    # Linux reports double what it was asked for (the doubling is its bookkeeping).
    if granted < UDP_RECEIVE_BUFFER:
        log.warning("SIP UDP receive buffer is %d bytes, not %d: raise net.core.rmem_max so "
                    "bursts are not dropped", granted, UDP_RECEIVE_BUFFER)
