"""The ACD as a SIP redirect server (RFC 3261 §8.3), sans-IO. (Not ``redirect.py``: a
submodule of that name would shadow the ``redirect`` response builder ``adapters.sip`` exports.)

Theory of operation. A proxy or PBX sends an INVITE to the ACD's address; the transaction layer
answers 100 Trying at once and hands the new transaction to ``RedirectServer``, which checks it
(``precheck``: 405/501 for other methods, 420 for ``Require: 100rel``) and submits a
``CallArrived``: caller from the From user, dialed number from the Request-URI user, attached
data from ``X-CTI-*`` headers (``X-CTI-Queue`` and ``X-CTI-Priority`` pick the queue and
priority). The switchboard's commands come back through ``execute``:

- ``ConnectAgent`` → ``302 Moved Temporarily`` with ``Contact`` = the agent's endpoint (a SIP
  URI from ``[agents.ID] endpoint``) and ``X-CTI-Call-Id``, ``X-CTI-Queue``, ``X-CTI-Data``
  (the attached data as JSON), so the caller's side dials the agent itself;
- ``ParkWithMusic`` → ``182 Queued`` whose reason phrase gives the position and an expected
  wait (sent at ``end_step``, only if the same step did not offer an agent); the layer
  re-sends it every ``provisional_refresh`` seconds so no proxy on the way gives up (Timer C);
- ``HangUp`` (closed or full queue, blacklisted caller, no route, max wait) → the final status
  configured for its cause (480/486/603...); ``Redirect`` (overflow to a number) → 302 there;
- ``Record`` (voicemail) cannot be done by a redirect server: 480, and the call ends.

A CANCEL of a queued call gets 200 and 487 from the transaction layer, and the switchboard a
``CallHungUp``, which releases the queued call and any agent reserved for it. A CANCEL that
races the 302 arrives after the final response: it gets only its 200 and changes nothing, and
since the 302 already ended the call in the switchboard no agent is booked twice.

What redirect mode cannot know: the call's end. After the 302 the media and the dialog go
between the caller and the agent, never through the ACD. So once the 302 is sent the agent leg
counts as answered (``AgentLegRinging`` + ``AgentLegAnswered``) and the call as ended
(``CallHungUp`` at once): the agent goes to wrap-up and becomes ready after the queue's
``wrap_up_s``. The agent's true busy state must then come from somewhere else: agent commands
over the bus (``not-ready`` while on a call, ``ready`` after), or a mode that sees the dialog
(Kamailio's evapi mode, ``adapters/kamailio/``). Talk times and handle times the ACD reports in
this mode are therefore zero, and an agent may get a new call while still on the previous one
unless their desktop keeps their state right.

Follow-up events are handed to ``submit`` from inside ``execute``; the shell must apply them
after the current switchboard step (``loop.call_soon``), never re-entrantly, and call
``end_step`` once the commands of a step have all been executed.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from adapters.sip.errors import SipProtocolError
from adapters.sip.header_values import uri_scheme
from adapters.sip.message import Request, Response
from adapters.sip.parser import DEFAULT_LIMITS, Limits
from adapters.sip.responses import precheck, redirect
from adapters.sip.transaction import (
    AckReceived,
    Address,
    Cancelled,
    RequestReceived,
    ServerTransaction,
    TimedOut,
    TimerConfig,
    TransactionLayer,
    Transmit,
    TuEvent,
)
from cti.core import (
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegRinging,
    CallArrived,
    CallHungUp,
    ConnectAgent,
    HangUp,
    LegFailure,
    ParkWithMusic,
    PbxCommand,
    Record,
    Redirect,
)
from cti.core import Event as CoreEvent

__all__ = ["DEFAULT_RESPONSES", "RedirectOptions", "RedirectServer", "RedirectStatistics"]

log = logging.getLogger("cti.adapters.sip")

#: The final response for each hang-up cause of the switchboard (``HangUp.cause``).
DEFAULT_RESPONSES: Mapping[str, int] = {
    "closed": 480,  # queue closed (hours, holiday, forced)
    "queue-full": 486,
    "blocked": 486,  # no trunk capacity
    "rejected": 603,  # blacklisted caller
    "no-route": 480,  # no queue for the number, overflow without a target
    "timeout": 480,  # max wait with on_max_wait = "hangup"
    "callback-scheduled": 480,
    "voicemail": 480,  # a redirect server cannot record
    "normal": 480,
}
ALLOW = ("ACK", "CANCEL", "INVITE", "OPTIONS")
_DATA_PREFIX = "x-cti-"
#: SIP Call-IDs remembered to tell a re-asked INVITE from a new call (a day of a big site's
#: re-asks is far fewer; a Call-ID forgotten and asked again would reuse its call id).
_ASKED_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class RedirectOptions:
    #: Final status per hang-up cause; causes not listed get ``default_status``.
    responses: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RESPONSES))
    default_status: int = 480
    #: Re-send the 182 Queued this often (a proxy's Timer C is over 3 minutes).
    provisional_refresh_s: float = 30.0
    #: The expected wait in the 182's reason phrase: this many seconds per caller ahead.
    wait_per_position_s: float = 30.0
    #: The trunk every call from this adapter uses.
    trunk: str = "default"
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True, slots=True)
class RedirectStatistics:
    invites: int
    redirected: int  # 302 to an agent
    queued: int  # 182 sent (first time per call)
    cancelled: int  # CANCEL before the final response: 487
    refused: int  # a final 4xx-6xx from a HangUp/Record
    forwarded: int  # 302 to an outside number (overflow)
    prechecked: int  # answered by precheck (405, 501, 420, 416)
    errors: int  # the switchboard refused the call (500)
    timeouts: int  # a final response never acknowledged


def _user(uri: str) -> str:
    """The user part of a SIP or tel URI (``sip:1001@host`` → ``1001``)."""
    scheme = uri_scheme(uri)
    rest = uri[len(scheme) + 1:] if scheme else uri
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    return rest.split("@", 1)[0] if "@" in rest or scheme == "tel" else ""


def attached_data(request: Request) -> dict[str, str]:
    """``X-CTI-Name: value`` headers as ``{"name": "value"}`` (lower case, ``-`` → ``_``)."""
    data: dict[str, str] = {}
    for name, value in request.headers:
        low = name.lower()
        if low.startswith(_DATA_PREFIX) and len(low) > len(_DATA_PREFIX):
            data[low[len(_DATA_PREFIX):].replace("-", "_")] = value
    return data


class RedirectServer:
    """The transaction user of a redirect-mode ACD: SIP in, switchboard events out, and
    switchboard commands to SIP responses. ``submit`` gives an event to the switchboard and
    says whether it took it."""

    def __init__(self, options: RedirectOptions, submit: Callable[[CoreEvent], bool]) -> None:
        self.options = options
        self.layer = TransactionLayer(
            timers=TimerConfig(provisional_refresh=options.provisional_refresh_s),
            limits=options.limits)
        self._submit = submit
        #: INVITE transactions of calls the switchboard holds, by call id.
        self._calls: dict[str, ServerTransaction] = {}
        #: SIP Call-ID -> the call id of its latest INVITE, while the switchboard holds it.
        self._current: dict[str, str] = {}
        #: SIP Call-IDs asked about before and how often (bounded: the oldest are forgotten).
        self._asked: OrderedDict[str, int] = OrderedDict()
        #: Calls sent 182 and not yet answered, in the order they were queued.
        self._queued: dict[str, None] = {}
        self._parked: list[str] = []  # parked in the current switchboard step
        self._counts = dict.fromkeys(RedirectStatistics.__slots__, 0)
        self._now = 0.0

    def statistics(self) -> RedirectStatistics:
        return RedirectStatistics(**self._counts)

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    # -- SIP in -----------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: Address, now: float) -> None:
        self._now = now
        self._handle(self.layer.receive_datagram(data, source, now), now)

    def receive(self, item: Request | Response | SipProtocolError, source: Address,
                now: float, *, reliable: bool) -> None:
        self._now = now
        self._handle(self.layer.receive(item, source, now, reliable=reliable), now)

    def handle_timer(self, now: float) -> None:
        self._now = now
        self._handle(self.layer.handle_timer(now), now)

    def next_deadline(self) -> float | None:
        return self.layer.next_deadline()

    def datagrams_to_send(self) -> list[Transmit]:
        return self.layer.datagrams_to_send()

    def _handle(self, events: Iterable[TuEvent], now: float) -> None:
        for ev in events:
            if isinstance(ev, RequestReceived):
                self._request(ev.transaction, now)
            elif isinstance(ev, Cancelled):
                self._cancelled(ev.transaction)
            elif isinstance(ev, TimedOut):
                self._counts["timeouts"] += 1
            elif isinstance(ev, AckReceived):
                pass  # a redirect server sends no 2xx to INVITE: nothing to acknowledge

    def _request(self, txn: ServerTransaction, now: float) -> None:
        request = txn.request
        answer = precheck(request, allow=ALLOW, to_tag=txn.to_tag)
        if answer is not None:
            self._counts["prechecked"] += 1
            self.layer.respond(txn, answer, now)
            return
        if request.method == "OPTIONS":
            self.layer.respond(txn, txn.response(200, headers=[("Allow", ", ".join(ALLOW))]),
                               now)
            return
        self._invite(txn, now)

    def _invite(self, txn: ServerTransaction, now: float) -> None:
        request = txn.request
        self._counts["invites"] += 1
        try:
            caller = _user(request.from_addr.uri) or "anonymous"
        except SipProtocolError:
            caller = "anonymous"
        dialed = _user(request.uri)
        data: dict[str, object] = dict(attached_data(request))
        queue = data.pop("queue", None)
        priority: float | None = None
        raw_priority = data.pop("priority", None)
        if isinstance(raw_priority, str):
            try:
                priority = float(raw_priority)
            except ValueError:
                priority = None
        sip_id = request.call_id
        if self._current.get(sip_id) in self._calls:  # a second INVITE the ACD still holds
            self.layer.respond(txn, txn.response(482), now)
            return
        call_id = self._call_id(sip_id)
        self._calls[call_id] = txn
        self._current[sip_id] = call_id
        event = CallArrived(call_id=call_id, caller=caller, dialed=dialed,
                            trunk=self.options.trunk,
                            queue=queue if isinstance(queue, str) else None,
                            priority=priority, data=data)
        if not self._submit(event):
            self._counts["errors"] += 1
            self._forget(call_id)
            if txn.can_respond:
                self.layer.respond(txn, txn.response(500), now)

    def _call_id(self, sip_id: str) -> str:
        """The call id of a new INVITE: its SIP Call-ID, or for the n-th INVITE of one Call-ID
        (a proxy asking again after the agent it was sent to refused: Kamailio's
        ``uac_redirect`` mode) ``<Call-ID>;ask=<n>``, so each decision is a call of its own
        and its record never collides with the first one's."""
        asked = self._asked
        n = asked.get(sip_id, 0) + 1
        asked[sip_id] = n
        asked.move_to_end(sip_id)
        if len(asked) > _ASKED_KEPT:
            asked.popitem(last=False)
        return sip_id if n == 1 else f"{sip_id};ask={n}"

    def _cancelled(self, txn: ServerTransaction) -> None:
        call_id = self._current.get(txn.request.call_id, "")
        if self._calls.get(call_id) is not txn:
            return
        self._counts["cancelled"] += 1
        self._forget(call_id)
        self._submit(CallHungUp(call_id, "normal"))

    def _forget(self, call_id: str) -> None:
        txn = self._calls.pop(call_id, None)
        self._queued.pop(call_id, None)
        if txn is not None and self._current.get(txn.request.call_id) == call_id:
            del self._current[txn.request.call_id]

    # -- switchboard commands -----------------------------------------------------------------

    def execute(self, command: PbxCommand, now: float | None = None) -> None:
        when = self._now if now is None else now
        if isinstance(command, ConnectAgent):
            self._connect(command, when)
        elif isinstance(command, ParkWithMusic):
            self._park(command.call_id)
        elif isinstance(command, HangUp):
            self._final(command.call_id, command.cause, when)
        elif isinstance(command, Redirect):
            self._forward(command, when)
        elif isinstance(command, Record):
            self._final(command.call_id, "voicemail", when, ended_by_us=True)
        # CancelOffer, Play, SetHold: nothing a redirect server can do (the offer was a 302
        # answered at once; there is no media).

    def _live(self, call_id: str) -> ServerTransaction | None:
        txn = self._calls.get(call_id)
        if txn is None or not txn.can_respond:
            return None
        return txn

    def _connect(self, cmd: ConnectAgent, now: float) -> None:
        call_id, agent_id = cmd.call_id, cmd.agent_id
        txn = self._live(call_id)
        if txn is None:  # the caller went first: the CallHungUp already released the agent
            return
        if uri_scheme(cmd.endpoint) not in ("sip", "sips"):
            log.warning("agent %s: endpoint %r is not a SIP URI", agent_id, cmd.endpoint)
            self._submit(AgentLegFailed(call_id, agent_id, LegFailure.UNREACHABLE))
            return
        variables = dict(cmd.variables)
        queue = str(variables.pop("cti_queue", ""))
        variables.pop("cti_call_id", None)
        headers = [("X-CTI-Call-Id", call_id), ("X-CTI-Queue", queue),
                   ("X-CTI-Data", json.dumps(variables, separators=(",", ":"), default=str))]
        response = redirect(txn.request, [cmd.endpoint], to_tag=txn.to_tag, headers=headers)
        self.layer.respond(txn, response, now)
        self._counts["redirected"] += 1
        self._forget(call_id)
        # The ACD never sees the call again (module docstring): answered, then ended.
        self._submit(AgentLegRinging(call_id, agent_id))
        self._submit(AgentLegAnswered(call_id, agent_id))
        self._submit(CallHungUp(call_id, "normal"))

    def _park(self, call_id: str) -> None:
        # The switchboard parks every call it queues, even one it offers an agent in the same
        # step: the 182 waits for ``end_step`` so that such a call gets only its 302.
        if call_id in self._calls:
            self._parked.append(call_id)

    def end_step(self, now: float) -> None:
        """The switchboard's step is over: send 182 Queued to the calls it parked and did not
        answer in the same step."""
        parked, self._parked = self._parked, []
        for call_id in parked:
            txn = self._live(call_id)
            if txn is None:
                continue
            if call_id not in self._queued:
                self._counts["queued"] += 1
                self._queued[call_id] = None
            position = list(self._queued).index(call_id) + 1
            wait = round(position * self.options.wait_per_position_s)
            reason = f"Queued position {position} expected wait {wait}s"
            self.layer.respond(txn, txn.response(182, reason), now)

    @property
    def step_pending(self) -> bool:
        return bool(self._parked)

    def _final(self, call_id: str, cause: str, now: float, *, ended_by_us: bool = False) -> None:
        txn = self._live(call_id)
        if txn is None:
            return
        status = self.options.responses.get(cause, self.options.default_status)
        self.layer.respond(txn, txn.response(status), now)
        self._counts["refused"] += 1
        self._forget(call_id)
        if ended_by_us:  # the switchboard still holds the call (voicemail): end it
            self._submit(CallHungUp(call_id, "normal"))

    def _forward(self, cmd: Redirect, now: float) -> None:
        txn = self._live(cmd.call_id)
        if txn is None:
            return
        target = cmd.destination
        if uri_scheme(target) is None:
            sip = txn.request.sip_uri
            host = sip.host if sip is not None else "invalid"
            target = f"sip:{target}@{host}"
        self.layer.respond(txn, redirect(txn.request, [target], to_tag=txn.to_tag), now)
        self._counts["forwarded"] += 1
        self._forget(cmd.call_id)

