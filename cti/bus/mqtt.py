"""The MQTT publisher: drains the outbox to a broker with aiomqtt, QoS 1, reconnecting with
jittered exponential backoff.

Up to ``max_in_flight`` publishes wait for their acknowledgement (PUBACK) at once, so the rate is
not bound by one round trip per event; events not acknowledged when the connection breaks go
back to the front of the outbox and are sent again, so a lost connection costs duplicates, never
a loss, and the envelope's id lets subscribers drop them. The password is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cti.bus.envelope import Format, encode
from cti.bus.outbox import Outbox, Pending

__all__ = ["BrokerConfig", "MqttPublisher"]

log = logging.getLogger("cti.bus")


class _NoInFlightChatter(logging.Filter):
    """aiomqtt warns whenever more than 10 publishes await their acknowledgement; with a window
    of ``max_in_flight`` that is the normal state, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pending publish calls" not in record.getMessage()


_client_log = logging.getLogger("cti.bus.client")
_client_log.addFilter(_NoInFlightChatter())


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "cti-server"
    format: Format = "msgpack"
    keepalive_s: int = 30
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    #: Longest wait for one acknowledgement before the connection is taken as broken.
    publish_timeout_s: float = 10.0
    #: Publishes awaiting their acknowledgement at once.
    max_in_flight: int = 64

    def __repr__(self) -> str:  # the password must never reach a log line
        return (f"BrokerConfig(host={self.host!r}, port={self.port}, "
                f"username={self.username!r}, client_id={self.client_id!r})")


class MqttPublisher:
    def __init__(
        self,
        config: BrokerConfig,
        outbox: Outbox,
        *,
        seed: int | None = None,
        on_message: Callable[[aiomqtt.Message], bytes | None] | None = None,
        subscriptions: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.outbox = outbox
        #: Called for each message on ``subscriptions`` (agent commands); what it returns is
        #: sent to the message's MQTT 5 response topic, with its correlation data.
        self.on_message = on_message
        self.subscriptions = subscriptions
        self._wake = asyncio.Event()
        self._rng = random.Random(seed)
        self.connected = False
        #: Set once connected and subscribed (cleared when the connection is lost).
        self.ready = asyncio.Event()
        self.connects = 0
        self.failures = 0
        self._in_flight: dict[asyncio.Future[None], Pending] = {}
        self._failed: list[Pending] = []
        self._error: BaseException | None = None

    def wake(self) -> None:
        """Tell the publisher the outbox has something (the outbox's ``on_put``)."""
        self._wake.set()

    async def run(self) -> None:
        """Publish for ever (until cancelled), reconnecting whenever the broker goes away."""
        backoff = self.config.backoff_min_s
        while True:
            cfg = self.config  # read each time: a reload may point it elsewhere
            try:
                async with aiomqtt.Client(
                    cfg.host, cfg.port, username=cfg.username, password=cfg.password,
                    identifier=cfg.client_id, protocol=aiomqtt.ProtocolVersion.V5,
                    keepalive=cfg.keepalive_s, timeout=cfg.publish_timeout_s,
                    logger=_client_log,
                ) as client:
                    self.connected = True
                    self.connects += 1
                    backoff = cfg.backoff_min_s
                    for pattern in self.subscriptions:
                        await client.subscribe(pattern, qos=1)
                    log.info("connected to broker %s:%d", cfg.host, cfg.port)
                    self.ready.set()
                    # The watcher notices a lost connection at once; a publisher with nothing
                    # to send would otherwise find out only at its next publish.
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(self._watch(client))
                        tasks.create_task(self._drain(client))
            except* aiomqtt.MqttError as group:
                self.failures += 1
                log.warning("broker %s:%d: %s; %d events waiting, retrying in about %.1f s",
                            cfg.host, cfg.port, group.exceptions[0], len(self.outbox),
                            backoff)
            finally:
                self.connected = False
                self.ready.clear()
                self._recover()
            await asyncio.sleep(backoff * (0.5 + self._rng.random()))
            backoff = min(backoff * 2, self.config.backoff_max_s)

    async def flush(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (True) or ``timeout_s`` passes (False); for shutdown."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.outbox) or self._in_flight:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Answer incoming messages; raise ``MqttError`` as soon as the connection is lost."""
        async for message in client.messages:
            if self.on_message is None:
                continue
            answer = self.on_message(message)
            props = message.properties
            topic = getattr(props, "ResponseTopic", None) if props is not None else None
            if answer is None or not topic:
                continue
            out = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            correlation = getattr(props, "CorrelationData", None)
            if correlation is not None:
                out.CorrelationData = correlation
            await client.publish(topic, answer, qos=1, properties=out)

    async def _drain(self, client: aiomqtt.Client) -> None:
        outbox = self.outbox
        fmt = self.config.format
        window = self.config.max_in_flight
        in_flight = self._in_flight
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            item = outbox.take() if len(in_flight) < window else None
            if item is None:
                self._wake.clear()  # set again by put() and by each acknowledgement
                await self._wake.wait()
                continue
            sent = asyncio.ensure_future(client.publish(
                item.topic, encode(item.envelope, fmt), qos=1, retain=item.retain))
            in_flight[sent] = item
            sent.add_done_callback(self._settle)

    def _settle(self, sent: asyncio.Future[None]) -> None:
        item = self._in_flight.pop(sent, None)
        if item is None:
            return  # given back already, after the connection broke
        if sent.cancelled():
            self._failed.append(item)
        elif (error := sent.exception()) is not None:
            self._failed.append(item)
            self._error = self._error or error
        else:
            self.outbox.done(item)
        self._wake.set()

    def _recover(self) -> None:
        """After a lost connection: everything not acknowledged goes back, in order."""
        pending = list(self._in_flight.items())
        self._in_flight.clear()
        for sent, _ in pending:
            sent.cancel()
        unsent = self._failed + [item for _, item in pending]
        self._failed = []
        self._error = None
        unsent.sort(key=lambda item: item.envelope.seq)
        self.outbox.give_back(unsent)
