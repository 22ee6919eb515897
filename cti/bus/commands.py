"""Agent commands arriving over the bus: ``cti/v1/{site}/agents/{agent}/cmd``.

A command is a map (msgpack, or JSON when the daemon is configured so) with a ``cmd`` key::

    {"cmd": "login", "skills": {"billing": 7}, "queues": ["billing"]}   # both optional: roster
    {"cmd": "logout"}
    {"cmd": "ready"}
    {"cmd": "not-ready", "reason": "lunch"}
    {"cmd": "wrap-up-done", "disposition": "callback-needed"}   # disposition optional
    {"cmd": "transfer", "to_queue": "billing"}   # or "to_agent": "1002", or "to_number": "..."
    {"cmd": "hold"} / {"cmd": "unhold"}

The agent is the one the topic names; a payload that names another (``"agent": "1002"``) is
refused, since a desktop may only act for its own agent (the broker's ACL enforces the same at
the topic; see ``docs/mosquitto.acl``). Replies go to the MQTT 5 response topic with the
request's correlation data: ``{"ok": true}`` or ``{"ok": false, "error": "..."}`` saying why;
a refused command changes nothing.

Supervisors send to ``cti/v1/{site}/supervisor/cmd`` (the broker's ACL lets only supervisors'
users publish there)::

    {"cmd": "force-state", "agent": "1001", "state": "not-ready", "reason": "coaching"}
    {"cmd": "force-state", "agent": "1001", "state": "ready"}     # or "logged-out"
    {"cmd": "open-queue", "queue": "billing"} / {"cmd": "close-queue", "queue": "billing"}
    {"cmd": "queue-calendar", "queue": "billing"}   # back to its business hours

This module is sans-IO: ``parse_command`` turns topic and payload into a core event or raises
``CommandError``; ``reply`` builds the answer. The runtime hands the event to the switchboard.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgpack
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from cti.bus.envelope import Format
from cti.bus.topics import PREFIX, level, unlevel
from cti.core import (
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    Event,
    ForceQueue,
    HoldCall,
    TransferCall,
    WrapUpDone,
)

__all__ = [
    "MAX_COMMAND_BYTES", "CommandError", "command_filter", "command_topic", "parse_command",
    "parse_supervisor_command", "reply", "supervisor_topic",
]

#: Larger payloads are refused before decoding.
MAX_COMMAND_BYTES = 16 * 1024


class CommandError(ValueError):
    """A command was refused; the text says why (it is sent back in the reply)."""


class _Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Optional; when given it must be the topic's agent.
    agent: str | None = None


class Login(_Cmd):
    cmd: Literal["login"]
    skills: dict[str, StrictInt] | None = None
    queues: list[str] | None = None


class Logout(_Cmd):
    cmd: Literal["logout"]


class Ready(_Cmd):
    cmd: Literal["ready"]


class NotReady(_Cmd):
    cmd: Literal["not-ready"]
    reason: str = Field("break", min_length=1, max_length=64)


class WrapDone(_Cmd):
    cmd: Literal["wrap-up-done"]
    disposition: str | None = Field(None, min_length=1, max_length=64)


class Transfer(_Cmd):
    cmd: Literal["transfer"]
    to_queue: str | None = None
    to_agent: str | None = None
    to_number: str | None = None


class Hold(_Cmd):
    cmd: Literal["hold", "unhold"]


class _Sup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForceState(_Sup):
    cmd: Literal["force-state"]
    agent: str = Field(min_length=1)
    state: Literal["ready", "not-ready", "logged-out"]
    reason: str = Field("supervisor", min_length=1, max_length=64)


class QueueCmd(_Sup):
    cmd: Literal["open-queue", "close-queue", "queue-calendar"]
    queue: str = Field(min_length=1)


_Command = Annotated[
    Login | Logout | Ready | NotReady | WrapDone | Transfer | Hold, Field(discriminator="cmd")
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(_Command)
_SUPERVISOR: TypeAdapter[Any] = TypeAdapter(
    Annotated[ForceState | QueueCmd, Field(discriminator="cmd")])


def command_topic(site: str, agent: str) -> str:
    return f"{PREFIX}/{level(site)}/agents/{level(agent)}/cmd"


def supervisor_topic(site: str) -> str:
    return f"{PREFIX}/{level(site)}/supervisor/cmd"


def command_filter(site: str) -> str:
    """The subscription that receives every agent's commands."""
    return f"{PREFIX}/{level(site)}/agents/+/cmd"


def _agent_of(site: str, topic: str) -> str:
    head = f"{PREFIX}/{level(site)}/agents/"
    if not topic.startswith(head) or not topic.endswith("/cmd"):
        raise CommandError(f"not a command topic: {topic!r}")
    name = topic[len(head):-len("/cmd")]
    if not name or "/" in name:
        raise CommandError(f"not a command topic: {topic!r}")
    return unlevel(name)


def _decode(payload: bytes, fmt: Format, adapter: TypeAdapter[Any]) -> Any:
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"command of {len(payload)} bytes is over {MAX_COMMAND_BYTES}")
    try:
        doc = json.loads(payload) if fmt == "json" else msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise CommandError(f"not valid {fmt}: {exc}") from None
    if not isinstance(doc, dict):
        raise CommandError("a command is a map with a 'cmd' key")
    try:
        return adapter.validate_python(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "command"
        raise CommandError(f"{where}: {err['msg']}") from None


def parse_supervisor_command(payload: bytes, fmt: Format = "msgpack") -> Event:
    """A supervisor's command as a core event, or ``CommandError``."""
    cmd = _decode(payload, fmt, _SUPERVISOR)
    if isinstance(cmd, ForceState):
        if cmd.state == "ready":
            return AgentReady(cmd.agent)
        if cmd.state == "logged-out":
            return AgentLogout(cmd.agent)
        return AgentNotReady(cmd.agent, cmd.reason)
    opened = {"open-queue": True, "close-queue": False, "queue-calendar": None}[cmd.cmd]
    return ForceQueue(cmd.queue, opened)


def parse_command(site: str, topic: str, payload: bytes, fmt: Format = "msgpack") -> Event:
    """The core event a command asks for, or ``CommandError`` saying what is wrong."""
    if topic == supervisor_topic(site):
        return parse_supervisor_command(payload, fmt)
    agent = _agent_of(site, topic)
    cmd = _decode(payload, fmt, _ADAPTER)
    if cmd.agent is not None and cmd.agent != agent:
        raise CommandError(f"agent {agent!r} may not send commands for {cmd.agent!r}")
    if isinstance(cmd, Login):
        return AgentLogin(agent, cmd.skills, tuple(cmd.queues) if cmd.queues is not None
                          else None)
    if isinstance(cmd, Logout):
        return AgentLogout(agent)
    if isinstance(cmd, Ready):
        return AgentReady(agent)
    if isinstance(cmd, NotReady):
        return AgentNotReady(agent, cmd.reason)
    if isinstance(cmd, WrapDone):
        return WrapUpDone(agent, cmd.disposition)
    if isinstance(cmd, Transfer):
        targets = [t for t in (cmd.to_queue, cmd.to_agent, cmd.to_number) if t]
        if len(targets) != 1:
            raise CommandError("a transfer names exactly one of to_queue, to_agent, to_number")
        return TransferCall(agent, cmd.to_queue, cmd.to_agent, cmd.to_number)
    return HoldCall(agent, cmd.cmd == "hold")


def reply(error: str | None, fmt: Format = "msgpack") -> bytes:
    """The answer to a command: ``{"ok": true}`` or ``{"ok": false, "error": why}``."""
    doc: dict[str, object] = {"ok": True} if error is None else {"ok": False, "error": error}
    if fmt == "json":
        return json.dumps(doc).encode()
    packed: bytes = msgpack.packb(doc)
    return packed
