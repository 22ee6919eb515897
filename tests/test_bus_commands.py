"""Agent commands from the bus: each valid command becomes its core event; anything else is
refused with a reason, before it reaches the switchboard."""

from __future__ import annotations

import contextlib
import json

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.bus.commands import (
    MAX_COMMAND_BYTES,
    CommandError,
    command_topic,
    parse_command,
    reply,
)
from cti.core import (
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    ForceQueue,
    HoldCall,
    TransferCall,
    WrapUpDone,
)

TOPIC = command_topic("lyon", "1001")


def cmd(doc: object) -> bytes:
    return msgpack.packb(doc)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("doc", "event"),
    [
        ({"cmd": "login"}, AgentLogin("1001")),
        ({"cmd": "login", "skills": {"billing": 7}, "queues": ["billing"]},
         AgentLogin("1001", {"billing": 7}, ("billing",))),
        ({"cmd": "logout"}, AgentLogout("1001")),
        ({"cmd": "ready", "agent": "1001"}, AgentReady("1001")),
        ({"cmd": "not-ready", "reason": "lunch"}, AgentNotReady("1001", "lunch")),
        ({"cmd": "wrap-up-done"}, WrapUpDone("1001")),
        ({"cmd": "transfer", "to_queue": "billing"}, TransferCall("1001", to_queue="billing")),
        ({"cmd": "transfer", "to_agent": "1002"}, TransferCall("1001", to_agent="1002")),
        ({"cmd": "hold"}, HoldCall("1001", True)),
        ({"cmd": "unhold"}, HoldCall("1001", False)),
    ],
)
def test_commands_become_core_events(doc: dict[str, object], event: object) -> None:
    assert parse_command("lyon", TOPIC, cmd(doc)) == event
    assert parse_command("lyon", TOPIC, json.dumps(doc).encode(), "json") == event


@pytest.mark.parametrize(
    ("topic", "payload", "words"),
    [
        (TOPIC, cmd({"cmd": "dance"}), "cmd"),
        (TOPIC, cmd({"cmd": "ready", "agent": "1002"}), "may not send commands for '1002'"),
        (TOPIC, cmd({"cmd": "login", "skills": {"billing": "high"}}), "skills.billing"),
        (TOPIC, cmd({"cmd": "ready", "colour": "red"}), "colour"),
        (TOPIC, cmd({"cmd": "transfer"}), "exactly one"),
        (TOPIC, cmd({"cmd": "transfer", "to_queue": "a", "to_agent": "b"}), "exactly one"),
        (TOPIC, cmd([1, 2]), "a map"),
        (TOPIC, b"\xc1\xff", "not valid msgpack"),
        (TOPIC, b"\x00" * (MAX_COMMAND_BYTES + 1), "over"),
        ("cti/v1/lyon/agents/1001/state", cmd({"cmd": "ready"}), "not a command topic"),
        ("cti/v1/paris/agents/1001/cmd", cmd({"cmd": "ready"}), "not a command topic"),
    ],
)
def test_bad_commands_are_refused_with_a_reason(topic: str, payload: bytes, words: str) -> None:
    with pytest.raises(CommandError, match=words):
        parse_command("lyon", topic, payload)


def test_agent_names_with_topic_characters_round_trip() -> None:
    topic = command_topic("lyon", "team/a+1%")
    assert topic == "cti/v1/lyon/agents/team%2Fa%2B1%25/cmd"
    assert parse_command("lyon", topic, cmd({"cmd": "ready"})) == AgentReady("team/a+1%")


@given(st.binary(max_size=300))
def test_any_payload_parses_or_is_refused(payload: bytes) -> None:
    with contextlib.suppress(CommandError):
        parse_command("lyon", TOPIC, payload)


def test_replies() -> None:
    assert msgpack.unpackb(reply(None)) == {"ok": True}
    assert json.loads(reply("agent '1001' is not ready", "json")) == {
        "ok": False, "error": "agent '1001' is not ready"}


SUP = "cti/v1/lyon/supervisor/cmd"


@pytest.mark.parametrize(
    ("doc", "event"),
    [
        ({"cmd": "force-state", "agent": "1001", "state": "not-ready", "reason": "coaching"},
         AgentNotReady("1001", "coaching")),
        ({"cmd": "force-state", "agent": "1001", "state": "ready"}, AgentReady("1001")),
        ({"cmd": "force-state", "agent": "1001", "state": "logged-out"}, AgentLogout("1001")),
        ({"cmd": "close-queue", "queue": "billing"}, ForceQueue("billing", False)),
        ({"cmd": "open-queue", "queue": "billing"}, ForceQueue("billing", True)),
        ({"cmd": "queue-calendar", "queue": "billing"}, ForceQueue("billing", None)),
    ],
)
def test_supervisor_commands(doc: dict[str, object], event: object) -> None:
    assert parse_command("lyon", SUP, cmd(doc)) == event


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"cmd": "force-state", "agent": "1001", "state": "on-call"}, "state"),
        ({"cmd": "close-queue"}, "queue"),
        ({"cmd": "ready"}, "cmd"),  # an agent's command is not a supervisor's
    ],
)
def test_bad_supervisor_commands(doc: dict[str, object], words: str) -> None:
    with pytest.raises(CommandError, match=words):
        parse_command("lyon", SUP, cmd(doc))


def test_wrap_up_with_a_disposition() -> None:
    doc = {"cmd": "wrap-up-done", "disposition": "callback-needed"}
    assert parse_command("lyon", TOPIC, cmd(doc)) == WrapUpDone("1001", "callback-needed")
