"""Records that travel with calls: the customer found for a caller, and the call's final record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["EMPTY", "CallRecord", "CustomerRecord", "Phase"]

#: A shared empty mapping for defaults (dataclass fields must not share mutable dicts).
EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """What the shell's customer lookup found for a caller number."""

    customer_id: str
    name: str = ""
    vip: bool = False
    #: The agent who owns the account; ``preferred-agent`` queues offer them the call first.
    account_manager: str | None = None
    data: Mapping[str, object] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Phase:
    """One step of a call's life: the state it entered, when, and where (queue or agent)."""

    state: str
    at: float
    where: str = ""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The complete record of a call, published once when it ends (the CDR)."""

    call_id: str
    caller: str
    dialed: str
    trunk: str
    disposition: str
    arrived_at: float
    ended_at: float
    queue: str | None
    agent_id: str | None
    enqueued_at: float | None
    answered_at: float | None
    #: Seconds from first entering a queue to answer (or to leaving, when not answered).
    wait_s: float
    talk_s: float
    priority: float
    offers: int
    customer_id: str | None
    phases: tuple[Phase, ...]
    data: Mapping[str, object]
