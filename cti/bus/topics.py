"""Topic names, versioned under ``cti/v1/{site}/``.

| event | topic | retained |
|---|---|---|
| screen pop | ``cti/v1/{site}/agents/{agent}/screenpop`` | no |
| agent state | ``cti/v1/{site}/agents/{agent}/state`` | yes: a new subscriber sees every agent |
| queue stats | ``cti/v1/{site}/queues/{queue}/stats`` | yes |
| ticket created | ``cti/v1/{site}/tickets/created`` | no |
| ticket updated (merged) | ``cti/v1/{site}/tickets/updated`` | no |
| call ended (the CDR) | ``cti/v1/{site}/calls/ended`` | no |

Names are used as topic levels, so the characters MQTT gives a meaning (``/``, ``+``, ``#``) and
``%`` itself are percent-encoded: agent ``a/b`` publishes under ``agents/a%2Fb/``.
"""

from __future__ import annotations

from cti.core.notifications import (
    AgentStateChanged,
    CallEnded,
    Notification,
    QueueStats,
    ScreenPop,
    TicketCreated,
    TicketUpdated,
)

__all__ = ["PREFIX", "level", "topic_for", "topic_matches", "unlevel"]

PREFIX = "cti/v1"
_ESCAPES = {"%": "%25", "/": "%2F", "+": "%2B", "#": "%23", "\0": "%00"}
#: Decoded last for ``%`` so that ``%252F`` comes back as ``%2F``, not ``/``.
_ESCAPES_BACK = (
    *((code, raw) for raw, code in _ESCAPES.items() if raw != "%"), ("%25", "%"),
)


def level(name: str) -> str:
    """``name`` made safe as one topic level."""
    if not any(c in name for c in _ESCAPES):
        return name
    return "".join(_ESCAPES.get(c, c) for c in name)


def unlevel(text: str) -> str:
    """The name a topic level stands for (``level`` undone)."""
    if "%" not in text:
        return text
    for code, raw in _ESCAPES_BACK:
        text = text.replace(code, raw)
    return text


def topic_for(site: str, note: Notification) -> tuple[str, bool]:
    """The topic a notification is published on, and whether it is retained."""
    base = f"{PREFIX}/{level(site)}"
    if isinstance(note, ScreenPop):
        return f"{base}/agents/{level(note.agent_id)}/screenpop", False
    if isinstance(note, AgentStateChanged):
        return f"{base}/agents/{level(note.agent_id)}/state", True
    if isinstance(note, QueueStats):
        return f"{base}/queues/{level(note.queue)}/stats", True
    if isinstance(note, TicketCreated):
        return f"{base}/tickets/created", False
    if isinstance(note, TicketUpdated):
        return f"{base}/tickets/updated", False
    if isinstance(note, CallEnded):
        return f"{base}/calls/ended", False
    raise TypeError(f"no topic for {type(note).__name__}")


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching: ``+`` is one level, a final ``#`` any number (zero included)."""
    pat, top = pattern.split("/"), topic.split("/")
    for i, part in enumerate(pat):
        if part == "#":
            return i == len(pat) - 1
        if i >= len(top) or (part != "+" and part != top[i]):
            return False
    return len(pat) == len(top)
