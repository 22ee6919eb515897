"""``cti ivr``: check flow files, and walk a flow in the terminal.

    cti ivr lint FILE... [--prompts CATALOGUE] [--config SITE.toml]
    cti ivr try FLOW.toml [--digits 1,12345678#,...] [--lookup NAME=JSON ...]
                          [--fixtures FILE] [--hours [QUEUE=]STATE ...] [--config SITE.toml]
                          [--at ISO-TIME] [--caller N] [--dialed N] [--var NAME=VALUE ...] [--json]

``lint`` prints every problem of the flow and map files (file, node, problem) and exits 1 if
there is any. ``try`` runs a session of the flow on a virtual clock: each prompt is shown with its
text from the catalogue, digits come from ``--digits`` (one item per turn; ``-`` or an empty item:
the caller presses nothing), from stdin's lines when it is not a terminal, or are typed at a
prompt; lookups are answered from ``--lookup`` and ``--fixtures``; at the end it shows how the
call left the flow and the data it would carry to the agent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import ivr
from cti.config import load_config
from cti.core import ConfigurationError, SwitchboardConfig

__all__ = ["add_parser", "calendar_hours", "lint", "try_flow"]

Status = Literal["open", "closed", "holiday"]
_STATES: tuple[Status, ...] = ("open", "closed", "holiday")
#: Virtual seconds a prompt takes in ``try``, and a caller to answer one.
_PROMPT_S = 2.0
_TYPE_S = 1.0


def calendar_hours(config: SwitchboardConfig) -> ivr.HoursFn:
    """The ``hours`` callable of a flow from a site's queue calendars (a queue the site does not
    have is open)."""
    calendars = {q.name: q.calendar for q in config.queues}

    def hours(queue: str, now: float) -> Status:
        cal = calendars.get(queue)
        if cal is None or cal.is_open(now):
            return "open"
        day = datetime.fromtimestamp(now, ZoneInfo(cal.timezone)).date()
        return "holiday" if day in cal.holidays else "closed"

    return hours


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ivr", help="check IVR flows, or walk one in the terminal",
                       description=__doc__.splitlines()[0] if __doc__ else None)
    isub = p.add_subparsers(dest="action", required=True)
    lp = isub.add_parser("lint", help="report every problem of flow and map files")
    lp.add_argument("files", nargs="+", metavar="FILE")
    lp.add_argument("--prompts", metavar="CATALOGUE",
                    help="check prompts against this catalogue instead of flow.prompts")
    lp.add_argument("--config", metavar="SITE.toml",
                    help="also check that the queues the flows name exist in this site")
    lp.set_defaults(run=lint)
    tp = isub.add_parser("try", help="walk a flow: prompts, digits, branches, lookups, data")
    tp.add_argument("file", metavar="FLOW.toml")
    tp.add_argument("--digits", help="the caller's turns, comma-separated: 1,12345678#,-,... "
                    "(- or empty: presses nothing; 'wait': waits the queue's max wait)")
    tp.add_argument("--lookup", action="append", default=[], metavar="NAME=JSON",
                    help="answer data source NAME with this JSON record, or null (not "
                    "found), timeout or error; repeatable")
    tp.add_argument("--fixtures", metavar="FILE", help="JSON or TOML: {source: {key: record}}")
    tp.add_argument("--hours", action="append", default=[], metavar="[QUEUE=]STATE",
                    help="open, closed or holiday, for every queue or one; repeatable")
    tp.add_argument("--config", metavar="SITE.toml", help="use this site's queue calendars")
    tp.add_argument("--at", metavar="ISO-TIME",
                    help="the call's time, e.g. 2026-12-25T10:00+01:00 (default: now)")
    tp.add_argument("--caller", default="+15550100200", help="the caller's number")
    tp.add_argument("--dialed", help="the dialed number (default: the flow's first)")
    tp.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="another variable the flow can read; repeatable")
    tp.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    tp.set_defaults(run=try_flow)


# -- lint ------------------------------------------------------------------------------------


def lint(args: argparse.Namespace) -> int:
    problems = ivr.check_files(*args.files, catalogue=args.prompts)
    if args.config and not problems:
        try:
            site = load_config(args.config)
        except ConfigurationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        queues = {q.name for q in site.queues}
        for flow in ivr.load_flows(*args.files, catalogue=args.prompts).flows.values():
            for ident, node in flow.nodes.items():
                problems += [
                    ivr.Problem(flow.source, ident, f"{key}: queue {name!r} is not in "
                                f"{args.config}")
                    for key, name in node.queues() if name not in queues
                ]
        problems = list(dict.fromkeys(problems))  # a flow behind several numbers: once
    for problem in problems:
        print(problem)
    if problems:
        files = len({p.source for p in problems})
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {files} "
              f"file{'s' if files != 1 else ''}", file=sys.stderr)
        return 1
    for path in args.files:
        print(f"{path}: OK")
    return 0


# -- try -------------------------------------------------------------------------------------


class _UsageError(Exception):
    """A bad command-line value; the message says which."""


LookupAnswer = Mapping[str, object] | None | Literal["timeout", "error"]


def _answers(args: argparse.Namespace) -> Callable[[str, str], LookupAnswer]:
    fixtures: dict[str, Any] = {}
    if args.fixtures:
        path = Path(args.fixtures)
        try:
            text = path.read_text(encoding="utf-8")
            fixtures = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:  # TOMLDecodeError and JSONDecodeError are both
            raise _UsageError(f"--fixtures {path}: {exc}") from exc
        if not isinstance(fixtures, dict):
            raise _UsageError(f"--fixtures {path}: expected a table of data sources")
    given: dict[str, LookupAnswer] = {}
    for item in args.lookup:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _UsageError(f"--lookup {item!r}: use NAME=JSON")
        if value.strip() in ("timeout", "error"):
            given[name] = "timeout" if value.strip() == "timeout" else "error"
            continue
        try:
            record = json.loads(value)
        except ValueError as exc:
            raise _UsageError(f"--lookup {name}: not JSON: {exc}") from exc
        if record is not None and not isinstance(record, dict):
            raise _UsageError(f"--lookup {name}: expected a JSON object or null")
        given[name] = record

    def answer(source: str, key: str) -> LookupAnswer:
        if source in given:
            return given[source]
        table = fixtures.get(source)
        if not isinstance(table, dict):
            return "timeout"
        record = table.get(key)
        return record if isinstance(record, dict) else None

    return answer


def _hours(args: argparse.Namespace) -> ivr.HoursFn:
    base: ivr.HoursFn | None = None
    if args.config:
        base = calendar_hours(load_config(args.config))
    every: Status | None = None
    per_queue: dict[str, Status] = {}
    for item in args.hours:
        queue, sep, state = item.rpartition("=")
        if state not in _STATES:
            raise _UsageError(f"--hours {item!r}: the state is one of open, closed, holiday")
        if sep:
            per_queue[queue] = state
        else:
            every = state

    def hours(queue: str, now: float) -> Status:
        if queue in per_queue:
            return per_queue[queue]
        if every is not None:
            return every
        return "open" if base is None else base(queue, now)

    return hours


def _start_time(args: argparse.Namespace) -> float:
    if args.at is None:
        return time.time() if args.config else 0.0
    try:
        moment = datetime.fromisoformat(args.at)
    except ValueError as exc:
        raise _UsageError(f"--at {args.at!r}: not an ISO time like 2026-12-25T10:00+01:00") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _turns(args: argparse.Namespace) -> Iterator[str | None]:
    """The caller's turns: an item of --digits, a line of stdin, or one typed at a prompt.
    None: no more turns."""
    if args.digits is not None:
        yield from (item.strip() for item in args.digits.split(","))
    elif not sys.stdin.isatty():
        for line in sys.stdin:
            yield from (item.strip() for item in line.rstrip("\n").split(","))
    else:
        while True:
            try:
                yield input("  caller> ").strip()
            except EOFError:
                print()
                break
    while True:
        yield None


def _plain(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _skills(stages: tuple[ivr.SkillStage, ...] | None) -> str:
    if stages is None:
        return ""
    parts = [(f"after {s.after_s:g}s " if s.after_s else "")
             + ", ".join(f"{k}>={v}" for k, v in s.require.items()) for s in stages]
    return "; skills " + " then ".join(parts)


class _Walk:
    def __init__(self, flow: ivr.Flow, out: Callable[[str], None]) -> None:
        self.flow = flow
        self.out = out
        self.now = 0.0
        self.t0 = 0.0
        self.seen = 0
        self.last: ivr.Action | None = None
        self.session: ivr.Session | None = None

    def say(self, text: str) -> None:
        self.out(f"{self.now - self.t0:7.1f}s  {text}")

    def quote(self, prompt: str) -> str:
        text = self.flow.prompt_text(prompt)
        return f"{prompt}: \"{text}\"" if text else prompt

    def show(self, session: ivr.Session, actions: list[ivr.Action]) -> None:
        trace = session.trace or []
        for node, note in trace[self.seen:]:
            self.say(f"  [{node}] {note}")
        self.seen = len(trace)
        for action in actions:
            self.last = action
            self.say(self.describe(action))

    def describe(self, a: ivr.Action) -> str:
        if isinstance(a, ivr.Play):
            say = "".join(f" + say {s.value!r} as {s.kind}" for s in a.say)
            return f"play {self.quote(a.prompt)}{say}"
        if isinstance(a, ivr.CollectDigits):
            node = self.flow.nodes[a.node]
            total = getattr(node, "retries", 0) + 1
            prompts = " then ".join(self.quote(p) for p in a.prompts)
            size = (f"{a.min_digits}-{a.max_digits}" if a.min_digits != a.max_digits
                    else str(a.max_digits))
            end = f", ends with {a.terminator}" if a.terminator else ""
            return (f"[{a.node}] attempt {a.attempt}/{total}, {size} digit(s){end}, "
                    f"{a.timeout_s:g}s to answer: {prompts}")
        if isinstance(a, ivr.Lookup):
            return f"lookup {a.source} for {a.key!r} (waits {a.timeout_s:g}s)"
        if isinstance(a, ivr.Enqueue):
            extra = "" if a.priority is None else f"; priority {a.priority:g}"
            if a.announcements is not None:
                an = a.announcements
                what = [w for w, on in (("position", an.position),
                                        ("expected wait", an.expected_wait)) if on]
                if an.prompt:
                    what.append(an.prompt)
                extra += f"; announces {', '.join(what)} every {an.every_s:g}s"
            if a.max_wait_s is not None:
                extra += f"; after {a.max_wait_s:g}s in line the flow goes on"
            return f"=> enqueue in {a.queue or '(the dialed number queue)'}{extra}" \
                   f"{_skills(a.skills)}"
        if isinstance(a, ivr.Voicemail):
            return (f"=> voicemail for {a.queue or '(no queue)'}, up to {a.max_s:g}s, after "
                    f"{self.quote(a.prompt)}; then a ticket")
        if isinstance(a, ivr.Callback):
            after = f", after {self.quote(a.prompt)}" if a.prompt else ""
            return (f"=> callback to {a.number} from {a.queue or '(the dialed number queue)'}"
                    f", keeping the caller's place{after}{_skills(a.skills)}")
        if isinstance(a, ivr.Transfer):
            return f"=> transfer to {a.number}"
        if isinstance(a, ivr.HangUp):
            after = f" after {self.quote(a.prompt)}" if a.prompt else ""
            return f"=> hang up ({a.cause}){after}"
        return repr(a)  # pragma: no cover - every action is described above


def _walk(flow: ivr.Flow, args: argparse.Namespace, out: Callable[[str], None]) -> _Walk:
    answer = _answers(args)
    hours = _hours(args)
    walk = _Walk(flow, out)
    walk.now = walk.t0 = _start_time(args)
    variables: dict[str, object] = {
        "caller": args.caller, "dialed": args.dialed or (flow.numbers or ("",))[0],
        "call_id": "try-1",
    }
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _UsageError(f"--var {item!r}: use NAME=VALUE")
        variables[name] = value
    session, actions = flow.start("try-1", variables, walk.now, hours=hours, trace=True)
    walk.session = session
    walk.show(session, actions)
    turns = _turns(args)
    interactive = args.digits is None and sys.stdin.isatty()
    if interactive:
        out("(type the caller's keys and Enter; Enter alone: presses nothing; Ctrl-D: stop)")
    for _ in range(100_000):  # a session ends well before; this only guards the terminal
        state = session.state
        if state is ivr.State.DONE:
            break
        if state is ivr.State.PLAYING:
            walk.now += _PROMPT_S
            actions = session.on_playback_done(walk.now)
        elif state is ivr.State.LOOKING_UP:
            last = walk.last
            assert isinstance(last, ivr.Lookup)
            result = answer(last.source, last.key)
            walk.now += 0.2
            if result == "timeout":
                walk.now = session.next_deadline() or walk.now
                walk.say("  (no answer)")
                actions = session.on_timeout(walk.now)
            elif result == "error":
                walk.say("  (the source fails)")
                actions = session.on_lookup_failed(walk.now)
            else:
                actions = session.on_lookup_result(result, walk.now)
        elif state is ivr.State.QUEUED:
            if interactive:
                out("(type wait to let the longest wait pass, Enter to leave the caller in line)")
            turn = next(turns)
            if turn != "wait":
                walk.say("  (waits in line for an agent)")
                break
            last = walk.last
            if isinstance(last, ivr.Enqueue) and last.max_wait_s is not None:
                walk.now += last.max_wait_s
            walk.say("  (waited the longest)")
            actions = session.on_max_wait(walk.now)
        else:  # collecting
            if session.prompt_playing:
                walk.now += _PROMPT_S
                session.on_playback_done(walk.now)
            turn = next(turns)
            if turn is None or turn in ("", "-"):
                walk.now = session.next_deadline() or walk.now
                walk.say("  caller presses nothing")
                actions = session.on_timeout(walk.now)
            else:
                walk.now += _TYPE_S
                walk.say(f"  caller presses {turn}")
                actions = session.on_digits(turn, walk.now)
        walk.show(session, actions)
    return walk


def _summary(session: ivr.Session, walk: _Walk) -> dict[str, Any]:
    terminal = walk.last if isinstance(walk.last, ivr.TERMINAL) else None
    return {
        "outcome": session.outcome or "in the flow",
        "action": None if terminal is None else {"type": type(terminal).__name__,
                                                 **_plain(terminal)},
        "data": _plain(session.attached()),
        "path": list(session.path),
        "seconds_in_ivr": round(walk.now - walk.t0, 3),
    }


def try_flow(args: argparse.Namespace) -> int:
    try:
        flow = ivr.load_flow(args.file)
    except ivr.FlowError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    lines: list[str] = []
    out: Callable[[str], None] = lines.append if args.json else print
    try:
        walk = _walk(flow, args, out)
    except (_UsageError, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print()
        return 130
    session = walk.session
    assert session is not None
    summary = _summary(session, walk)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    print()
    print(f"outcome: {summary['outcome']}")
    print(f"path: {' > '.join(summary['path'])}")
    print(f"virtual time: {summary['seconds_in_ivr']:g}s")
    print("data the call carries to the agent:")
    for key, value in summary["data"].items():
        print(f"  {key} = {json.dumps(value, ensure_ascii=False)}")
    return 0
