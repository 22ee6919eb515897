"""The event bus: notifications from the switchboard to subscribers over MQTT.

The switchboard's notifications go into a bounded ``Outbox`` (no I/O on the hot path); a
publisher drains it, to a broker (``MqttPublisher``) or to memory (``MemoryBus``). Topics are
in ``cti.bus.topics``, the envelope and its encodings in ``cti.bus.envelope``. ``Broker`` is a
small MQTT broker of its own (``cti.bus.broker``, over the sans-IO codec in
``cti.bus.mqtt_packets``) for ``cti demo`` and tests, where no Mosquitto is installed.
"""

from cti.bus.broker import Broker, BrokerSettings, BrokerStatistics
from cti.bus.envelope import SCHEMA_VERSION, BusPayloadError, Envelope, decode, encode
from cti.bus.memory import MemoryBus
from cti.bus.mqtt import BrokerConfig, MqttPublisher
from cti.bus.outbox import Outbox, Pending
from cti.bus.topics import topic_for, topic_matches

__all__ = [
    "SCHEMA_VERSION",
    "Broker",
    "BrokerConfig",
    "BrokerSettings",
    "BrokerStatistics",
    "BusPayloadError",
    "Envelope",
    "MemoryBus",
    "MqttPublisher",
    "Outbox",
    "Pending",
    "decode",
    "encode",
    "topic_for",
    "topic_matches",
]
