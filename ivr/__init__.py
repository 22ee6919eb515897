"""ivr: IVR flows (menus, digit collection, self-service lookups), a pure engine the switchboard
runs and adapters play.

Flows are TOML files (``docs/ivr.md``), checked whole at load (every problem named with its file
and node). A ``Session`` walks one call through a flow without I/O and without a clock: the
driver passes ``now``, feeds it digits, prompt ends, lookup answers and timeouts, and carries out
the actions it returns::

    flow = load_flow("ivr/examples/water-utility.toml")
    session, actions = flow.start("call-1", {"caller": "+3312345678"}, now=0.0,
                                  hours=lambda queue, now: "open")
    actions = session.on_playback_done(now=4.0)     # -> [CollectDigits(...)]
    actions = session.on_digits("1", now=6.0)
    session.next_deadline()                         # when to call session.on_timeout(now)

Like ``acd/`` it imports only the standard library and pydantic (for the flow schema).
"""

from ivr.actions import (
    TERMINAL,
    Action,
    Announcements,
    Callback,
    CollectDigits,
    Enqueue,
    HangUp,
    Lookup,
    Play,
    Say,
    SkillStage,
    Transfer,
    Voicemail,
)
from ivr.errors import FLOW, FlowError, Problem
from ivr.flow import Flow, compile_flow, parse_catalogue, parse_flow
from ivr.loading import FlowMap, check_files, load_flow, load_flows
from ivr.nodes import NODE_TYPES, Node, PromptModel
from ivr.session import TABLE, HoursFn, Input, Session, State

__all__ = [
    "FLOW",
    "NODE_TYPES",
    "TABLE",
    "TERMINAL",
    "Action",
    "Announcements",
    "Callback",
    "CollectDigits",
    "Enqueue",
    "Flow",
    "FlowError",
    "FlowMap",
    "HangUp",
    "HoursFn",
    "Input",
    "Lookup",
    "Node",
    "Play",
    "Problem",
    "PromptModel",
    "Say",
    "Session",
    "SkillStage",
    "State",
    "Transfer",
    "Voicemail",
    "check_files",
    "compile_flow",
    "load_flow",
    "load_flows",
    "parse_catalogue",
    "parse_flow",
]
