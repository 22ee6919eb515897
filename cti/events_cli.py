"""``cti events`` and ``cti agent``: the bus from a terminal.

    cti events [FILTER] [--config FILE | --host H --port P] [--count N] [--raw]
    cti agent AGENT COMMAND [REASON] [--to-queue Q | --to-agent A | --to-number N] [...]

``cti events`` subscribes (default filter ``cti/v1/#``) and prints one line per event, decoded
from msgpack or JSON, whichever the daemon sends; ``--raw`` prints each envelope as a JSON line.
``cti agent`` sends one agent command with an MQTT 5 response topic and prints the reply; its
exit status is 0 when the daemon accepted it, 1 when it refused it (the reason is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import msgpack
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cti.bus.commands import command_topic
from cti.bus.envelope import BusPayloadError, Envelope, decode
from cti.config import ConfigFileError, load_settings

__all__ = ["add_parsers"]

_COMMANDS = ("login", "logout", "ready", "not-ready", "wrap-up-done", "transfer", "hold",
             "unhold")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("events", help="subscribe to the bus and print events")
    p.add_argument("filter", nargs="?", default="cti/v1/#", help="MQTT topic filter")
    _broker_args(p)
    p.add_argument("--count", type=int, help="exit after this many events")
    p.add_argument("--raw", action="store_true", help="print envelopes as JSON lines")
    p.set_defaults(run=_events)
    p = sub.add_parser("agent", help="send an agent command over the bus")
    p.add_argument("agent")
    p.add_argument("command", choices=_COMMANDS)
    p.add_argument("reason", nargs="?", help="for not-ready: the reason code")
    p.add_argument("--to-queue")
    p.add_argument("--to-agent")
    p.add_argument("--to-number")
    p.add_argument("--site", help="default: the configuration's site, or 'default'")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the reply")
    _broker_args(p)
    p.set_defaults(run=_agent)


def _broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="take the broker (and site) from this file's [bus]")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--username", default=None)
    p.add_argument("--password", default=None)


def _broker(args: argparse.Namespace) -> dict[str, Any]:
    conn: dict[str, Any] = {"hostname": "127.0.0.1", "port": 1883}
    site = "default"
    fmt = "msgpack"
    if args.config:
        settings = load_settings(args.config)
        site = settings.switchboard.site
        if settings.bus is not None:
            bus = settings.bus
            conn.update(hostname=bus.host, port=bus.port, username=bus.username,
                        password=bus.password)
            fmt = bus.format
    for key, name in (("host", "hostname"), ("port", "port"), ("username", "username"),
                      ("password", "password")):
        value = getattr(args, key)
        if value is not None:
            conn[name] = value
    return {"conn": conn, "site": site, "format": fmt}


def _decode_any(payload: bytes) -> Envelope:
    # msgpack maps start with 0x80-0x8f, 0xde or 0xdf; JSON objects with '{'.
    fmt = "json" if payload[:1] in (b"{", b" ") else "msgpack"
    return decode(payload, fmt)  # type: ignore[arg-type]


def _line(topic: str, env: Envelope) -> str:
    when = datetime.fromtimestamp(env.ts, UTC).strftime("%H:%M:%S.%f")[:-3]
    d = env.data
    if env.type == "screenpop":
        what = (f"agent {d.get('agent_id')} call {d.get('call_id')} from {d.get('caller')} "
                f"queue {d.get('queue')} waited {d.get('waited_s', 0):.1f}s")
        customer = d.get("customer")
        if isinstance(customer, dict):
            what += f" customer {customer.get('customer_id')}" + (
                " VIP" if customer.get("vip") else "")
    elif env.type == "agent.state":
        reason = f" ({d.get('reason')})" if d.get("reason") else ""
        what = f"agent {d.get('agent_id')}: {d.get('previous')} -> {d.get('state')}{reason}"
    elif env.type == "queue.stats":
        what = (f"queue {d.get('queue')}: {'open' if d.get('open') else 'closed'}, "
                f"{d.get('waiting')} waiting")
    elif env.type == "ticket.created":
        what = f"ticket {d.get('ticket_id')} {d.get('kind')} for {d.get('caller')}"
    elif env.type == "call.ended":
        what = (f"call {d.get('call_id')} {d.get('disposition')} queue {d.get('queue')} "
                f"agent {d.get('agent_id')} wait {d.get('wait_s', 0):.1f}s "
                f"talk {d.get('talk_s', 0):.1f}s")
    else:
        what = json.dumps(d, default=str)
    return f"{when} #{env.seq:<6} {env.type:14} {what}"


def _events(args: argparse.Namespace) -> int:
    try:
        broker = _broker(args)
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        seen = 0
        async with aiomqtt.Client(**broker["conn"],
                                  protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.subscribe(args.filter, qos=1)
            print(f"subscribed to {args.filter}", file=sys.stderr, flush=True)
            async for message in client.messages:
                try:
                    env = _decode_any(message.payload)
                except BusPayloadError as exc:
                    print(f"{message.topic}: not an event: {exc}", file=sys.stderr)
                    continue
                if args.raw:
                    print(json.dumps({"topic": str(message.topic), **env.as_dict()},
                                     default=str), flush=True)
                else:
                    print(_line(str(message.topic), env), flush=True)
                seen += 1
                if args.count is not None and seen >= args.count:
                    return 0
        return 0

    try:
        return asyncio.run(main())
    except aiomqtt.MqttError as exc:
        print(f"error: broker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def _agent(args: argparse.Namespace) -> int:
    try:
        broker = _broker(args)
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    doc: dict[str, object] = {"cmd": args.command}
    if args.command == "not-ready" and args.reason:
        doc["reason"] = args.reason
    for key in ("to_queue", "to_agent", "to_number"):
        if getattr(args, key):
            doc[key] = getattr(args, key)
    fmt = broker["format"]
    payload = json.dumps(doc).encode() if fmt == "json" else msgpack.packb(doc)
    site = args.site or broker["site"]
    reply_topic = f"cti/v1/{site}/agents/{args.agent}/reply/{uuid.uuid4().hex[:12]}"

    async def main() -> int:
        async with aiomqtt.Client(**broker["conn"],
                                  protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.subscribe(reply_topic, qos=1)
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = reply_topic
            props.CorrelationData = uuid.uuid4().bytes
            await client.publish(command_topic(site, args.agent), payload, qos=1,
                                 properties=props)
            async with asyncio.timeout(args.timeout):
                async for message in client.messages:
                    raw = message.payload
                    answer = json.loads(raw) if raw[:1] == b"{" else msgpack.unpackb(raw)
                    if answer.get("ok"):
                        print(f"{args.agent} {args.command}: ok")
                        return 0
                    print(f"{args.agent} {args.command}: refused: {answer.get('error')}")
                    return 1
        return 2

    try:
        return asyncio.run(main())
    except TimeoutError:
        print(f"error: no reply within {args.timeout:g} s (is cti serve running?)",
              file=sys.stderr)
        return 2
    except aiomqtt.MqttError as exc:
        print(f"error: broker: {exc}", file=sys.stderr)
        return 2
