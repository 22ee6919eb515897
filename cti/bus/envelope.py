"""The bus's wire format: every event is an envelope ``{v, id, seq, ts, site, type, data}``.

- ``v``: the envelope's schema version (``SCHEMA_VERSION``); subscribers ignore what they do not
  understand rather than guess.
- ``id``: unique per event; QoS 1 may deliver an event twice (after a reconnect), and the id is
  how a subscriber drops the second copy.
- ``seq``: the publisher's sequence number, increasing by one per event, so gaps (events dropped
  beyond the outbox bound) are visible.
- ``ts``: when the event happened (the switchboard's clock, POSIX seconds).
- ``type``: ``screenpop``, ``agent.state``, ``queue.stats``, ``ticket.created``,
  ``ticket.updated``, ``call.ended``.
- ``data``: the notification's fields as plain values (see ``docs/asyncapi.yaml``).

msgpack by default, JSON on request; both carry the same structure. Decoding checks the shape and
raises ``BusPayloadError`` (a ``RemoteProtocolError``) naming what is wrong, never anything else.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

import msgpack

from cti.core import RemoteProtocolError
from cti.core.notifications import (
    AgentStateChanged,
    CallEnded,
    Notification,
    QueueStats,
    ScreenPop,
    TicketCreated,
    TicketUpdated,
)

__all__ = [
    "SCHEMA_VERSION",
    "BusPayloadError",
    "Envelope",
    "Format",
    "decode",
    "encode",
    "event_type",
    "plain",
]

SCHEMA_VERSION = 1
Format = Literal["msgpack", "json"]

_TYPES: dict[type[Notification], str] = {
    ScreenPop: "screenpop",
    AgentStateChanged: "agent.state",
    QueueStats: "queue.stats",
    TicketCreated: "ticket.created",
    TicketUpdated: "ticket.updated",
    CallEnded: "call.ended",
}


class BusPayloadError(RemoteProtocolError):
    """A message on the bus is not a valid envelope (or command); the text says why."""


@dataclass(frozen=True, slots=True)
class Envelope:
    id: str
    seq: int
    ts: float
    site: str
    type: str
    data: Mapping[str, Any]
    v: int = SCHEMA_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {"v": self.v, "id": self.id, "seq": self.seq, "ts": self.ts, "site": self.site,
                "type": self.type, "data": dict(self.data)}


def event_type(note: Notification) -> str:
    try:
        return _TYPES[type(note)]
    except KeyError:
        raise TypeError(f"no bus type for {type(note).__name__}") from None


def plain(value: object) -> Any:
    """A notification (or any of its fields) as msgpack/JSON-ready values: dataclasses become
    maps of their fields, mappings maps, sequences lists, enums their values; ``CallEnded``
    becomes its record's fields directly."""
    if isinstance(value, CallEnded):
        return plain(value.record)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no infinity; subscribers read it as "none"
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    return str(value)  # attached data from a PBX may hold anything: keep its text


def encode(env: Envelope, fmt: Format = "msgpack") -> bytes:
    doc = env.as_dict()
    if fmt == "json":
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    packed: bytes = msgpack.packb(doc, use_bin_type=True)
    return packed


def decode(payload: bytes, fmt: Format = "msgpack", *, max_bytes: int = 1 << 20) -> Envelope:
    """Parse and check one envelope; anything malformed raises ``BusPayloadError``."""
    if len(payload) > max_bytes:
        raise BusPayloadError(f"payload of {len(payload)} bytes is over the {max_bytes} limit")
    try:
        doc = json.loads(payload) if fmt == "json" else msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise BusPayloadError(f"not valid {fmt}: {exc}") from exc
    if not isinstance(doc, dict):
        raise BusPayloadError(f"an envelope is a map, not {type(doc).__name__}")
    fields: dict[str, type | tuple[type, ...]] = {
        "v": int, "id": str, "seq": int, "ts": (int, float), "site": str, "type": str,
        "data": dict,
    }
    for key, kind in fields.items():
        if key not in doc:
            raise BusPayloadError(f"envelope has no {key!r}")
        if not isinstance(doc[key], kind) or isinstance(doc[key], bool):
            raise BusPayloadError(f"envelope field {key!r} has the wrong type")
    if doc["v"] != SCHEMA_VERSION:
        raise BusPayloadError(f"envelope version {doc['v']} is not {SCHEMA_VERSION}")
    return Envelope(id=doc["id"], seq=doc["seq"], ts=float(doc["ts"]), site=doc["site"],
                    type=doc["type"], data=doc["data"])
