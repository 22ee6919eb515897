"""The api commands of the simulated FreeSWITCH, answered with mod_commands' wording.

``run_api(switch, "uuid_kill", "<uuid> ORIGINATOR_CANCEL")`` returns the api/response body
(``api``) or the BACKGROUND_JOB body (``bgapi``); a command the simulator does not know gets
``-ERR <cmd> Command not found!``, as FreeSWITCH answers a command no module provides.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid as uuidlib

from sim.freeswitch.channels import CAUSES
from sim.freeswitch.switch import Switch

__all__ = ["parse_call_url", "run_api", "split_args"]

ORIGINATE_SYNTAX = ("<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] "
                    "[<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]")
SHOW_SYNTAX = ("codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels "
               "[count|like <match string>]|calls|detailed_calls|bridged_calls|"
               "detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|"
               "interfaces|interface_types|tasks|limits|status")
NO_CHANNEL = "-ERR No such channel!\n"
_APP = re.compile(r"&([\w-]+)(?:\((.*)\))?$", re.DOTALL)


def split_args(text: str) -> list[str]:
    """Split on spaces, keeping ``{...}``, ``[...]`` and ``'...'`` together (originate's
    call URL carries variables such as ``origination_caller_id_name='Front Desk'``)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    quoted = False
    for c in text:
        if c == "'" and depth:
            quoted = not quoted
        elif not quoted and c in "{[":
            depth += 1
        elif not quoted and c in "}]" and depth:
            depth -= 1
        if c == " " and not depth and not quoted:
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        cur.append(c)
    if cur:
        out.append("".join(cur))
    return out


def parse_call_url(url: str) -> tuple[dict[str, str], str]:
    """``{a=1,b='x y'}[c=2]user/1001`` -> ({a: 1, b: x y, c: 2}, "user/1001")."""
    variables: dict[str, str] = {}
    rest = url
    while rest[:1] in ("{", "["):
        close = "}" if rest[0] == "{" else "]"
        end = rest.find(close)
        if end < 0:
            break
        for item in _split_vars(rest[1:end]):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == "'":
                    value = value[1:-1]
                variables[name.strip()] = value
        rest = rest[end + 1:]
    return variables, rest


def _split_vars(text: str) -> list[str]:
    items: list[str] = []
    cur: list[str] = []
    quoted = False
    for c in text:
        if c == "'":
            quoted = not quoted
        if c == "," and not quoted:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    items.append("".join(cur))
    return items


def _cause(text: str | None) -> str:
    if not text:
        return "NORMAL_CLEARING"
    name = text.strip().upper()
    if name.isdigit():
        return next((k for k, v in CAUSES.items() if v == int(name)), "NORMAL_CLEARING")
    return name if name in CAUSES else "NORMAL_CLEARING"


async def run_api(switch: Switch, command: str, arg: str) -> str:
    cmd = command.lower()
    args = arg.split()
    if cmd == "originate":
        return await _originate(switch, arg)
    if cmd == "uuid_kill":
        if not args:
            return "-USAGE: <uuid> [cause]\n"
        return "+OK\n" if switch.kill(args[0], _cause(args[1] if len(args) > 1 else None)) \
            else NO_CHANNEL
    if cmd == "uuid_bridge":
        if len(args) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        for other in args[1:3]:
            if switch.bridge(args[0], other):
                return f"+OK {other}\n"
        return "-ERR Invalid uuid\n"
    if cmd == "uuid_broadcast":
        if len(args) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
        switch.broadcast(args[0], args[1], args[2] if len(args) > 2 else "aleg")
        return "+OK Message Sent\n"
    if cmd == "uuid_break":
        ch = switch.get(args[0]) if args else None
        if ch is None:
            return NO_CHANNEL
        switch.stop_playback(ch)
        return "+OK\n"
    if cmd == "uuid_transfer":
        return _transfer(switch, args)
    if cmd == "uuid_hold":
        if not args:
            return "-USAGE: [off|toggle] <uuid> [<display>]\n"
        if args[0].lower() in ("off", "toggle") and len(args) > 1:
            ch = switch.get(args[1])
            on = args[0].lower() == "toggle" and ch is not None and not ch.held
            ok = switch.hold(args[1], on)
        else:
            ok = switch.hold(args[0], True)
        return "+OK Success\n" if ok else "-ERR Operation Failed\n"
    if cmd == "uuid_record":
        if len(args) < 3:
            return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
        limit = float(args[3]) if len(args) > 3 and args[3].isdigit() else None
        return switch.record(args[0], args[1].lower(), args[2], limit)
    if cmd == "uuid_setvar":
        parts = arg.split(" ", 2)
        if len(parts) < 2 or not parts[0]:
            return "-USAGE: <uuid> <var> [value]\n"
        ch = switch.get(parts[0])
        if ch is None:
            return NO_CHANNEL
        ch.set_var(parts[1], parts[2] if len(parts) > 2 else None)
        return "+OK\n"
    if cmd == "uuid_getvar":
        if len(args) < 2:
            return "-USAGE: <uuid> <var>\n"
        ch = switch.get(args[0])
        if ch is None:
            return NO_CHANNEL
        return ch.variables.get(args[1], "_undef_")
    if cmd == "uuid_exists":
        return "true" if args and switch.get(args[0]) is not None else "false"
    if cmd == "show":
        return _show(switch, args)
    if cmd == "status":
        return switch.status()
    if cmd == "global_getvar":
        core = switch.core
        known = {"core_uuid": core.core_uuid, "hostname": core.hostname,
                 "switchname": core.hostname, "local_ip_v4": core.ipv4,
                 "local_ip_v6": core.ipv6}
        return known.get(args[0], "") if args else "\n".join(
            f"{k}={v}" for k, v in known.items()) + "\n"
    if cmd == "hupall":
        cause = _cause(args[0] if args else "MANAGER_REQUEST")
        for ch in list(switch.channels.values()):
            switch.hangup(ch, cause)
        return f"+OK hangup all channels with cause {cause}\n"
    if cmd == "msleep":
        await asyncio.sleep(int(args[0]) / 1000 if args and args[0].isdigit() else 0)
        return "+OK\n"
    if cmd == "create_uuid":
        return str(uuidlib.uuid4())
    if cmd == "version":
        return "FreeSWITCH Version 1.10.12-release cti-sim (64bit)\n"
    if cmd == "echo":
        return arg
    return f"-ERR {command} Command not found!\n"


async def _originate(switch: Switch, arg: str) -> str:
    args = split_args(arg)
    if len(args) < 2:
        return f"-USAGE: {ORIGINATE_SYNTAX}\n"
    variables, endpoint = parse_call_url(args[0])
    if not endpoint:
        return f"-USAGE: {ORIGINATE_SYNTAX}\n"
    if len(args) > 6 and args[6].isdigit():
        variables["originate_timeout"] = args[6]
    app, data = "park", ""
    m = _APP.match(args[1])
    if m:
        app, data = m.group(1), m.group(2) or ""
    return await switch.originate(endpoint, variables, app, data)


def _transfer(switch: Switch, args: list[str]) -> str:
    if len(args) < 2:
        return ("-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n")
    uuid, rest = args[0], args[1:]
    ch = switch.get(uuid)
    if ch is None:
        return NO_CHANNEL
    if rest[0].startswith("-") and len(rest) > 1:
        leg, rest = rest[0][1:].lower(), rest[1:]
        if leg == "bleg" and ch.partner is not None:
            uuid = ch.partner.uuid
        elif leg == "both" and ch.partner is not None:
            partner = ch.partner
            switch.transfer(partner.uuid, *rest[:3])
    return "+OK\n" if switch.transfer(uuid, *rest[:3]) else "-ERR\n"


def _show(switch: Switch, args: list[str]) -> str:
    if not args:
        return f"-USAGE: {SHOW_SYNTAX}\n"
    what = args[0].lower()
    fmt = args[2].lower() if len(args) > 2 and args[1].lower() == "as" else "delim"
    if what != "channels":
        return f"-USAGE: {SHOW_SYNTAX}\n"
    if len(args) > 1 and args[1].lower() == "count":
        return f"\n{len(switch.show_channels())} total.\n"
    rows = switch.show_channels()
    if fmt == "json":
        if not rows:
            return '{"row_count": 0}\n'  # mod_commands writes this literally
        return json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False,
                          separators=(",", ":"))
    if fmt not in ("delim", "csv"):
        return f"-ERR Cannot find format {fmt}\n"
    columns = list(rows[0]) if rows else []
    lines = [",".join(columns)] if rows else []
    lines += [",".join(row[c] for c in columns) for row in rows]
    return ("\n".join(lines) + "\n" if lines else "") + f"\n{len(rows)} total.\n"
