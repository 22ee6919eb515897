"""The redirect server's mapping, sans-IO, against a real Switchboard (no sockets, no clock)."""

from __future__ import annotations

import pytest

from adapters.sip import Response, parse_datagram
from adapters.sip.adapter import SipRedirectAdapter
from adapters.sip.redirect_server import RedirectOptions, RedirectServer
from cti.config import ConfigFileError, parse_config, parse_settings
from cti.core import (
    AgentLogin,
    AgentReady,
    AgentState,
    Event,
    ForceQueue,
    PbxCommand,
    Switchboard,
    WrapUpDone,
)
from cti.pbx import pbx_link

CALLER = ("192.0.2.50", 5061)
CONFIG = """
blacklist = ["666"]
[numbers]
"100" = "sales"
"200" = "full"
"300" = "shut"
[queues.sales]
skills = {billing = 5}
wrap_up_s = 5
[queues.full]
max_size = 0
[queues.shut]
[agents.a1]
endpoint = "sip:1001@10.0.0.1"
queues = ["sales"]
skills = {billing = 5}
"""


class Harness:
    def __init__(self, options: RedirectOptions | None = None) -> None:
        self.sb = Switchboard(parse_config(CONFIG), now=0.0)
        self.now = 0.0
        self._pending: list[Event] = []
        self.server = RedirectServer(options or RedirectOptions(), self._submit)

    def _submit(self, event: Event) -> bool:
        self._pending.append(event)
        self._run()
        return True

    def _run(self) -> None:
        # The runtime's order: one event at a time, its commands before the next event.
        while self._pending:
            out = self.sb.handle(self._pending.pop(0), self.now)
            for cmd in out.commands:
                if isinstance(cmd, PbxCommand):
                    self.server.execute(cmd, self.now)
            self.server.end_step(self.now)

    def event(self, event: Event) -> None:
        self._submit(event)

    def send(self, data: bytes) -> list[Response]:
        self.server.receive_datagram(data, CALLER, self.now)
        return self.sent()

    def sent(self) -> list[Response]:
        out = []
        for t in self.server.datagrams_to_send():
            message = parse_datagram(t.data)
            assert isinstance(message, Response)
            out.append(message)
        return out


def request(method: str = "INVITE", *, to: str = "100", caller: str = "4420",
            call_id: str = "c1@192.0.2.50", branch: str = "z9hG4bK-1",
            extra: tuple[str, ...] = ()) -> bytes:
    lines = [
        f"{method} sip:{to}@acd.example.com SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.50:5061;branch={branch};rport",
        f"From: <sip:{caller}@example.net>;tag=f1",
        f"To: <sip:{to}@acd.example.com>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        "Max-Forwards: 70",
        *extra,
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ready(h: Harness, agent: str = "a1") -> None:
    h.event(AgentLogin(agent))
    h.event(AgentReady(agent))


def test_invite_to_a_free_agent_gets_302_with_the_call_headers() -> None:
    h = Harness()
    ready(h)
    out = h.send(request(extra=("X-CTI-Account: 42", "X-CTI-Order-Id: o-7")))
    assert [r.status for r in out] == [100, 302]
    redirect = out[1]
    assert redirect.headers.get("Contact") == "<sip:1001@10.0.0.1>"
    assert redirect.headers.get("X-CTI-Call-Id") == "c1@192.0.2.50"
    assert redirect.headers.get("X-CTI-Queue") == "sales"
    assert redirect.headers.get("X-CTI-Data") == '{"account":"42","order_id":"o-7"}'
    # Redirect mode never learns the end: answered, then ended at once; agent in wrap-up.
    assert h.sb.ended["answered"] == 1
    assert not h.sb.calls
    assert h.sb.agents["a1"].state is AgentState.WRAP_UP


def test_no_agent_gets_182_queued_then_302_when_one_frees_up() -> None:
    h = Harness()
    out = h.send(request())
    assert [(r.status, r.reason) for r in out] == [
        (100, "Trying"), (182, "Queued position 1 expected wait 30s")]
    out2 = h.send(request(call_id="c2@192.0.2.50", branch="z9hG4bK-2"))
    assert out2[-1].reason == "Queued position 2 expected wait 60s"
    ready(h)
    out = h.sent()
    assert [r.status for r in out] == [302]
    assert out[0].call_id == "c1@192.0.2.50"


def test_cancel_while_queued_gets_200_and_487_and_ends_the_call() -> None:
    h = Harness()
    h.send(request())
    out = h.send(request("CANCEL"))
    assert sorted(r.status for r in out) == [200, 487]
    assert not h.sb.calls
    assert h.sb.queues["sales"].abandoned == 1
    ready(h)
    assert h.sent() == []
    assert h.sb.agents["a1"].state is AgentState.READY


def test_cancel_racing_the_302_gets_only_200_and_books_nobody_twice() -> None:
    h = Harness()
    ready(h)
    assert [r.status for r in h.send(request())] == [100, 302]
    out = h.send(request("CANCEL"))
    assert [r.status for r in out] == [200]
    assert h.sb.agents["a1"].offered == 1
    assert h.server.statistics().cancelled == 0


def test_retransmitted_invite_gets_the_same_302_not_a_new_decision() -> None:
    h = Harness()
    ready(h)
    first = h.send(request())[-1]
    again = h.send(request())
    assert again == [first]
    assert h.sb.arrived == 1


def test_refusals_map_to_the_configured_statuses() -> None:
    h = Harness(RedirectOptions(responses={"closed": 480, "queue-full": 486,
                                           "rejected": 603, "no-route": 404}))
    h.event(ForceQueue("shut", open=False))
    cases = {"300": 480, "200": 486, "999": 404}
    for n, (number, status) in enumerate(cases.items()):
        out = h.send(request(to=number, call_id=f"r{n}", branch=f"z9hG4bK-r{n}"))
        assert out[-1].status == status, number
    out = h.send(request(caller="666", call_id="bl", branch="z9hG4bK-bl"))
    assert out[-1].status == 603


def test_require_100rel_gets_420_and_other_methods_405_or_501() -> None:
    h = Harness()
    out = h.send(request(extra=("Require: 100rel",)))
    assert out[-1].status == 420
    assert out[-1].headers.get("Unsupported") == "100rel"
    assert h.sb.arrived == 0
    assert h.send(request("BYE", branch="z9hG4bK-b"))[-1].status == 405
    assert h.send(request("FROB", branch="z9hG4bK-f"))[-1].status == 501
    assert h.send(request("OPTIONS", branch="z9hG4bK-o"))[-1].status == 200


def test_malformed_input_gets_400_or_is_dropped_and_counted() -> None:
    h = Harness()
    bad = request().replace(b"Max-Forwards: 70", b"Max-Forwards: lots")
    assert [r.status for r in h.send(bad)] == [400]
    assert h.send(b"\x00\xffnot sip at all\r\n\r\n") == []
    assert h.send(b"INVITE sip:x@y SIP/2.0\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n") == []
    stats = h.server.layer.statistics()
    assert stats.malformed_answered == 1
    assert stats.malformed_dropped == 2
    assert h.sb.arrived == 0


def test_sip_settings_are_validated_and_build_the_adapter() -> None:
    base = '[queues.sales]\n[sip]\nport = 0\ntransport = "tcp"\n'
    settings = parse_settings(base + 'responses = {closed = 503}\n')
    link = pbx_link(settings)
    assert isinstance(link, SipRedirectAdapter)
    assert link.transport.transport == "tcp"
    assert link.server.options.responses["closed"] == 503
    assert link.server.options.responses["rejected"] == 603  # defaults kept
    with pytest.raises(ConfigFileError, match=r"sip\.responses"):
        parse_settings(base + 'responses = {closed = 200}\n')


def test_a_proxy_asking_again_for_the_same_call_id_gets_a_call_of_its_own() -> None:
    # Kamailio's uac_redirect mode: the agent of the first 302 answered 480, so the proxy sends
    # a new INVITE (new branch, same Call-ID). It is a new decision with its own call id, so its
    # record never collides with the first one's.
    h = Harness()
    ready(h)
    first = h.send(request())[-1]
    assert first.status == 302
    assert first.headers.get("X-CTI-Call-Id") == "c1@192.0.2.50"
    again = h.send(request(branch="z9hG4bK-2"))[-1]
    assert again.status == 182  # the only agent is in wrap-up after the first call
    assert "c1@192.0.2.50;ask=2" in h.sb.calls
    h.event(WrapUpDone("a1"))
    (redirect,) = h.sent()
    assert redirect.status == 302
    assert redirect.headers.get("X-CTI-Call-Id") == "c1@192.0.2.50;ask=2"
    assert h.sb.arrived == 2
    assert h.sb.ended["answered"] == 2
    # A CANCEL of the re-asked INVITE finds it under its own call id.
    third = h.send(request(branch="z9hG4bK-3"))[-1]
    assert third.status == 182
    out = h.send(request("CANCEL", branch="z9hG4bK-3"))
    assert sorted(r.status for r in out) == [200, 487]
    assert not h.sb.calls
