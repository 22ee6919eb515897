"""docs/asyncapi.yaml describes what the bus really sends: every channel is a topic the code
builds, and every payload schema lists exactly the fields the code puts in ``data``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from cti.bus.envelope import Envelope, plain
from cti.bus.topics import topic_for
from cti.core import CustomerRecord
from cti.core.notifications import (
    AgentStateChanged,
    CallEnded,
    QueueStats,
    ScreenPop,
    TicketCreated,
    TicketUpdated,
)
from cti.core.records import CallRecord, Phase

DOC = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml")
                     .read_text(encoding="utf-8"))
SCHEMAS = DOC["components"]["schemas"]

RECORD = CallRecord("c1", "+1", "3000", "default", "answered", 0.0, 9.0, "q", "a", 1.0, 2.0,
                    1.0, 7.0, 0.0, 1, None, (Phase("arrived", 0.0),), {})
SAMPLES = {
    "ScreenPop": ScreenPop("a", "c1", "+1", "3000", "q", 1.0, {}, None, 2.0),
    "AgentState": AgentStateChanged("a", "ready", "not-ready", None, 1.0),
    "QueueStats": QueueStats("q", True, 0, 1.0),
    "Ticket": TicketCreated("T1", "voicemail", "c1", "+1", "q", 1.0),
    "TicketUpdate": TicketUpdated("T1", "voicemail", "c2", "+1", "q", 2.0, 2),
    "CallRecord": CallEnded(RECORD),
}


def test_payload_schemas_list_the_fields_sent() -> None:
    for name, note in SAMPLES.items():
        sent = set(plain(note))
        documented = set(SCHEMAS[name]["properties"])
        assert sent == documented, name


def test_envelope_and_nested_schemas() -> None:
    assert set(SCHEMAS["Envelope"]["required"]) == set(Envelope("i", 1, 0.0, "s", "t", {})
                                                       .as_dict())
    assert set(SCHEMAS["Customer"]["properties"]) == {
        f.name for f in dataclasses.fields(CustomerRecord)}
    phase = SCHEMAS["CallRecord"]["properties"]["phases"]["items"]["properties"]
    assert set(phase) == {f.name for f in dataclasses.fields(Phase)}


def test_channels_are_the_topics_built() -> None:
    channels = set(DOC["channels"])
    built = set()
    for note in SAMPLES.values():
        topic, _ = topic_for("{site}", note)
        built.add(topic.replace("/a/", "/{agent}/").replace("/q/", "/{queue}/"))
    assert built == channels
