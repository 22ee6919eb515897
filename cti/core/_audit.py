"""Cross-checks of the switchboard's state: the invariants the tests assert after every step.

O(everything): for tests and ``cti`` diagnostics, never on the hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import acd
from cti.core.agent import AgentState
from cti.core.call import IN_QUEUE, CallState

if TYPE_CHECKING:
    from cti.core.switchboard import Switchboard

__all__ = ["audit"]

_HOLDS_CALL = (AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL)
_TRANSIENT = (AgentState.RESERVED, AgentState.RINGING, AgentState.WRAP_UP)


def audit(sb: Switchboard, now: float) -> list[str]:
    problems = list(sb.router.audit(now))
    router = sb.router
    holders: dict[str, str] = {}
    for agent in sb.agents.values():
        state = agent.state
        logged_in = router.is_logged_in(agent.ident)
        if (state is AgentState.LOGGED_OUT) == logged_in:
            problems.append(f"agent {agent.ident}: {state.value} but router login is {logged_in}")
        if logged_in and router.agent(agent.ident).available != (state is AgentState.READY):
            problems.append(f"agent {agent.ident}: {state.value} disagrees with the router")
        if state in _HOLDS_CALL:
            if agent.call_id is None:
                problems.append(f"agent {agent.ident}: {state.value} without a call")
            else:
                if agent.call_id in holders:
                    problems.append(f"call {agent.call_id}: held by {holders[agent.call_id]} "
                                    f"and {agent.ident}")
                holders[agent.call_id] = agent.ident
                call = sb.calls.get(agent.call_id)
                if call is None or call.agent_id != agent.ident:
                    problems.append(f"agent {agent.ident}: holds {agent.call_id}, which is not "
                                    "held back")
        elif agent.call_id is not None:
            problems.append(f"agent {agent.ident}: {state.value} still names {agent.call_id}")
        if state in _TRANSIENT and (agent.deadline is None or agent.deadline < now):
            problems.append(f"agent {agent.ident}: {state.value} past or without a deadline")
    in_progress: dict[str, int] = dict.fromkeys(sb.queues, 0)
    for call in sb.calls.values():
        waiting = router.call(call.ident) is not None
        if waiting != (call.state in (CallState.QUEUED, CallState.CALLBACK)):
            problems.append(f"call {call.ident}: {call.state.value}, router waiting={waiting}")
        if call.state in (CallState.OFFERED, CallState.CONNECTED) and (
            call.agent_id is None or holders.get(call.ident) != call.agent_id
        ):
            problems.append(f"call {call.ident}: {call.state.value} but its agent does not hold it")
        if call.pending_in is not None:
            in_progress[call.pending_in] += 1
            if call.state not in IN_QUEUE:
                problems.append(f"call {call.ident}: counted in progress while {call.state.value}")
        elif call.state in IN_QUEUE and call.transferred_from is None:
            problems.append(f"call {call.ident}: {call.state.value} but in no queue's count")
        if call.state is CallState.ENDED:
            problems.append(f"call {call.ident}: ended but still active")
        if call.state is CallState.IN_IVR:
            run = sb._ivr.runs.get(call.ident)
            if run is None or run.call is not call:
                problems.append(f"call {call.ident}: in the IVR without a session")
            elif run.deadline is None or run.deadline < now:
                problems.append(f"call {call.ident}: in the IVR past or without a deadline")
    for name, queue in sb.queues.items():
        total = (queue.answered + queue.abandoned + queue.blocked + queue.overflowed
                 + queue.in_progress)
        if queue.offered != total:
            problems.append(
                f"queue {name}: offered {queue.offered} != answered {queue.answered} + abandoned "
                f"{queue.abandoned} + blocked {queue.blocked} + overflowed {queue.overflowed} + "
                f"in progress {queue.in_progress}"
            )
        if queue.in_progress != in_progress[name]:
            problems.append(f"queue {name}: counts {queue.in_progress} in progress, has "
                            f"{in_progress[name]}")
    for trunk in sb.trunks.values():
        held = sum(1 for c in sb.calls.values() if c.has_channel and c.trunk == trunk.ident)
        if held != trunk.in_use:
            problems.append(f"trunk {trunk.ident}: {trunk.in_use} in use, calls hold {held}")
    return problems


def qualified(skills: dict[str, int], requirement: acd.Requirement) -> bool:
    return acd.satisfies(skills, requirement)
