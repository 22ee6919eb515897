"""A bare Event Socket client for tests: the codec over a socket, one frame at a time, so a
test sees exactly what the simulated FreeSWITCH writes."""

from __future__ import annotations

import asyncio
from collections import deque

from adapters.esl import Connection, Event, Frame, Reply


class RawEsl:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = Connection()
        self.items: deque[Reply | Event | Frame] = deque()
        self.events: list[Event] = []
        self.raw = bytearray()

    @classmethod
    async def open(cls, port: int, password: str | None = "ClueCon") -> RawEsl:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        first = await raw.next()
        assert isinstance(first, Frame)
        assert first.content_type == "auth/request"
        if password is not None:
            reply = await raw.command(f"auth {password}")
            assert reply.text == "+OK accepted", reply
        return raw

    async def next(self, timeout: float = 3.0) -> Reply | Event | Frame:
        async with asyncio.timeout(timeout):
            while not self.items:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("the simulated FreeSWITCH closed the connection")
                self.raw += data
                self.items.extend(self.conn.receive(data))
        return self.items.popleft()

    def send(self, line: str, headers: dict[str, str] | None = None) -> None:
        self.writer.write(self.conn.send(line, headers))

    async def command(self, line: str, headers: dict[str, str] | None = None,
                      timeout: float = 3.0) -> Reply:
        """Send ``line``; its reply (events read meanwhile go to ``events``)."""
        self.send(line, headers)
        while True:
            item = await self.next(timeout)
            if isinstance(item, Reply):
                return item
            if isinstance(item, Event):
                self.events.append(item)

    async def event(self, name: str, where: dict[str, str] | None = None,
                    timeout: float = 3.0) -> Event:
        """The next event called ``name`` (whose headers match ``where``), from what was read
        already or what comes."""
        def ok(e: Event) -> bool:
            return e.name == name and all(e.get(k) == v for k, v in (where or {}).items())
        for i, e in enumerate(self.events):
            if ok(e):
                del self.events[i]
                return e
        while True:
            item = await self.next(timeout)
            if isinstance(item, Event):
                if ok(item):
                    return item
                self.events.append(item)

    async def collect(self, seconds: float) -> list[Event]:
        """Every event that arrives within ``seconds``."""
        out = list(self.events)
        self.events.clear()
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                item = await self.next(left)
            except TimeoutError:
                break
            if isinstance(item, Event):
                out.append(item)
        return out

    def close(self) -> None:
        self.writer.transport.abort()
