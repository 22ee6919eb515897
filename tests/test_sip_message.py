"""The SIP message layer: real-world shapes (SIPp's uac INVITE, a Kamailio-forwarded INVITE,
compact and folded headers), cases in the manner of RFC 4475's torture tests (written here from
the RFC's descriptions), limits, the builders, and the TCP stream parser fed whole, a byte at
a time and in random splits. Any bytes either parse or raise ``SipProtocolError``."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sip import (
    Headers,
    Limits,
    NameAddr,
    Request,
    Response,
    SipProtocolError,
    StreamParser,
    error_response,
    make_response,
    parse_datagram,
    parse_name_addr,
    parse_sip_uri,
    parse_via,
    precheck,
    redirect,
    split_list,
)
from cti.core import RemoteProtocolError

SDP = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
       b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def wire(*lines: str, body: bytes = b"", length: int | None = None) -> bytes:
    """A message from its lines; ``{len}`` in a line becomes the body's length."""
    n = len(body) if length is None else length
    text = "\r\n".join(line.replace("{len}", str(n)) for line in lines)
    return text.encode() + b"\r\n\r\n" + body


SIPP_INVITE = wire(
    "INVITE sip:sales@127.0.0.1:5060 SIP/2.0",
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-31337-1-0",
    "From: sipp <sip:sipp@127.0.0.1:5061>;tag=31337SIPpTag001",
    "To: sut <sip:sales@127.0.0.1:5060>",
    "Call-ID: 1-31337@127.0.0.1",
    "CSeq: 1 INVITE",
    "Contact: sip:sipp@127.0.0.1:5061",
    "Max-Forwards: 70",
    "Subject: Performance Test",
    "Content-Type: application/sdp",
    "Content-Length:   {len}",  # SIPp pads the length with spaces
    body=SDP,
)

KAMAILIO_INVITE = wire(
    "INVITE sip:8000@acd.example.net;transport=udp SIP/2.0",
    "Record-Route: <sip:192.0.2.10;lr=on;ftag=as6f1a2b;did=f3c.a1>",
    "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK2c3e.8a1b7f02000000000000000000000000.0",
    "Via: SIP/2.0/UDP 198.51.100.7:5060;received=198.51.100.7;rport=5060;"
    "branch=z9hG4bK-524287-1---d8754z-;alias",
    "Max-Forwards: 69",
    "Contact: \"Alice\" <sip:alice@198.51.100.7:5060;ob>;+sip.instance=\"<urn:uuid:00000000>\"",
    "To: <sip:8000@example.net>",
    "From: \"Alice Liddell\" <sip:alice@example.net>;tag=as6f1a2b",
    "Call-ID: YjQ0ZGE2ZDM0MmQ5ZjE2NmI0NWM1NzA3ZGU2NTk1NjM.",
    "CSeq: 2 INVITE",
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO",
    "Supported: replaces, norefersub, timer",
    "User-Agent: Z 5.4.12 v2.10.13.2",
    "P-Asserted-Identity: <sip:alice@example.net>",
    "X-Customer-Id: 4711",
    "Content-Type: application/sdp",
    "Content-Length: {len}",
    body=SDP,
)


def fails(data: bytes, status: int = 400) -> SipProtocolError:
    with pytest.raises(SipProtocolError) as info:
        parse_datagram(data)
    assert info.value.status == status, info.value.detail
    return info.value


def request(data: bytes) -> Request:
    message = parse_datagram(data)
    assert isinstance(message, Request)
    return message


# -- real-world shapes -------------------------------------------------------------------


def test_sipp_uac_invite_with_sdp() -> None:
    m = request(SIPP_INVITE)
    assert (m.method, m.uri) == ("INVITE", "sip:sales@127.0.0.1:5060")
    assert m.top_via.transport == "UDP"
    assert (m.top_via.host, m.top_via.port) == ("127.0.0.1", 5061)
    assert m.top_via.branch == "z9hG4bK-31337-1-0"
    assert m.from_addr.display_name == "sipp"
    assert m.from_addr.tag == "31337SIPpTag001"
    assert m.to_addr.tag is None
    assert str(m.cseq) == "1 INVITE"
    assert m.call_id == "1-31337@127.0.0.1"
    assert m.max_forwards == 70
    assert m.contact[0].uri == "sip:sipp@127.0.0.1:5061"
    assert m.content_type == "application/sdp"
    assert m.body == SDP
    uri = m.sip_uri
    assert uri is not None
    assert (uri.user, uri.host, uri.port) == ("sales", "127.0.0.1", 5060)


def test_kamailio_forwarded_invite_keeps_every_via_and_the_record_route() -> None:
    m = request(KAMAILIO_INVITE)
    assert [v.host for v in m.via] == ["192.0.2.10", "198.51.100.7"]
    assert m.via[1].received == "198.51.100.7"
    assert m.via[1].rport == 5060
    assert "alias" in m.via[1].params
    assert m.record_route[0].uri == "sip:192.0.2.10;lr=on;ftag=as6f1a2b;did=f3c.a1"
    assert m.contact[0].display_name == "Alice"
    assert m.contact[0].params.get("+sip.instance") == '"<urn:uuid:00000000>"'
    assert m.allow == ("INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "REFER", "NOTIFY",
                       "MESSAGE", "SUBSCRIBE", "INFO")
    assert m.supported == ("replaces", "norefersub", "timer")
    assert m.headers.get("x-customer-id") == "4711"
    assert m.sip_uri is not None
    assert m.sip_uri.params.get("transport") == "udp"


def test_compact_forms_mean_the_full_names() -> None:
    data = wire(
        "OPTIONS sip:acd.example.com SIP/2.0",
        "v: SIP/2.0/TCP client.example.com:5060;branch=z9hG4bKopt1",
        "f: <sip:mon@example.com>;tag=mon1",
        "t: <sip:acd.example.com>",
        "i: opt-1@client.example.com",
        "CSeq: 7 OPTIONS",
        "m: <sip:mon@client.example.com;transport=tcp>",
        "k: path, outbound",
        "s: keep-alive",
        "l: 0",
    )
    m = request(data)
    assert m.headers.get("Via") == m.headers.get("v")
    assert m.call_id == "opt-1@client.example.com"
    assert m.from_addr.tag == "mon1"
    assert m.supported == ("path", "outbound")
    assert m.headers.get("Subject") == "keep-alive"
    assert [name for name, _ in m.headers][:5] == ["Via", "From", "To", "Call-ID", "CSeq"]
    assert bytes(m).startswith(b"OPTIONS sip:acd.example.com SIP/2.0\r\nVia: SIP/2.0/TCP")


def test_folded_headers_and_comma_joined_lists() -> None:
    data = wire(
        "INVITE sip:q@acd.example.com SIP/2.0",
        "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1,",
        "   SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2",
        "Via: SIP/2.0/UDP ua.example.com;branch=z9hG4bKua",
        "Subject: a subject",
        "\tthat goes on",
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:q@acd.example.com>",
        "Call-ID: fold@x",
        "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        "CSeq: 1 INVITE",
        "Content-Length: 0",
    )
    m = request(data)
    assert [v.host for v in m.via] == ["p1.example.com", "p2.example.com", "ua.example.com"]
    assert m.headers.get_all("Via")[0].endswith("branch=z9hG4bKp2")
    assert m.headers.get("Subject") == "a subject that goes on"
    assert [r.uri for r in m.route] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]


def test_response_with_tags_and_bare_lf_line_ends() -> None:
    data = (b"SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKr\n"
            b"From: <sip:a@x>;tag=a\nTo: <sip:b@x>;tag=b\nCall-ID: r@x\nCSeq: 4 INVITE\n\n")
    m = parse_datagram(data)
    assert isinstance(m, Response)
    assert (m.status, m.reason, m.to_addr.tag, m.is_provisional) == (180, "Ringing", "b", True)


def test_keepalive_datagrams_are_nothing() -> None:
    assert parse_datagram(b"\r\n\r\n") is None
    assert parse_datagram(b"\r\n") is None


# -- RFC 4475 in spirit: messages an element must take --------------------------------------


def test_whitespace_everywhere_it_is_allowed() -> None:
    m = request(wire(
        "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0",
        "TO :",
        " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
        "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>",
        "  ;",
        "  tag = 98asjd8",
        "MaX-fOrWaRdS: 0068",
        "Call-ID: wsinv.ndaksdj@192.0.2.1",
        "Content-Length   : {len}",
        "cseq: 0009",
        "  INVITE",
        "Via  : SIP  /   2.0",
        " /UDP",
        "    192.0.2.2;branch=390skdjuw",
        "s :",
        "NewFangledHeader:   newfangled value",
        " continued newfangled value",
        "UnknownHeaderWithUnusualValue: ;;,,;;,;",
        body=b"v=0\r\n",
    ))
    assert m.to_addr.tag == "1918181833n"
    assert m.from_addr.display_name == 'J Rosenberg \\"'
    assert m.from_addr.tag == "98asjd8"
    assert m.max_forwards == 68
    assert (m.cseq.number, m.cseq.method) == (9, "INVITE")
    assert m.top_via.branch == "390skdjuw"
    assert m.headers.get("Subject") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"


def test_an_unknown_method_of_unusual_token_characters_parses() -> None:
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    m = request(wire(
        f"{method} sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,"
        "weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
        "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
        "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)"
        "&isn't+it$/crazy?,/;;*@example.com>".replace("\x07", "a").replace("\x00", "b")
        .replace("\x7f", "c"),
        "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;"
        "fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.",
        "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
        "CSeq: 139122385 " + method,
        "Max-Forwards: 255",
        "Content-Length: 0",
    ))
    assert m.method == method
    assert m.from_addr.display_name == "token1~` token2'+_ token3*%!.-"
    assert m.from_addr.tag == "_token~1'+`*%!-."
    assert m.sip_uri is not None
    assert m.sip_uri.host == "example.com"
    assert m.sip_uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"


def test_escapes_semicolons_in_the_user_and_an_ipv6_host() -> None:
    m = request(wire(
        "INVITE sip:user;par=u%40example.net@[2001:db8::10]:5070;maddr=[2001:db8::20] SIP/2.0",
        "Via: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKsemi;received=2001:db8::9",
        "From: sip:caller@example.com;tag=134161461246",
        "To: sip:%61lice@example.com",
        "Call-ID: semiuri.0ha0isndaksdj",
        "CSeq: 8 INVITE",
        "Content-Length: 0",
    ))
    uri = m.sip_uri
    assert uri is not None
    assert (uri.user, uri.host, uri.port) == ("user;par=u%40example.net", "[2001:db8::10]", 5070)
    assert uri.params.get("maddr") == "[2001:db8::20]"
    assert m.top_via.host == "[2001:db8::9]"
    # An addr-spec's parameters are the header's, not the URI's (§20.10).
    assert (m.from_addr.uri, m.from_addr.tag) == ("sip:caller@example.com", "134161461246")
    assert m.to_addr.uri == "sip:%61lice@example.com"


def test_display_name_without_space_before_the_angle() -> None:
    m = request(wire(
        "OPTIONS sip:user@example.com SIP/2.0",
        "To: sip:user@example.com",
        "From: caller<sip:caller@example.com>;tag=323",
        "Call-ID: lwsdisp.1234abcd@funky.example.com",
        "CSeq: 60 OPTIONS",
        "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw",
        "l: 0",
    ))
    assert (m.from_addr.display_name, m.from_addr.uri) == ("caller", "sip:caller@example.com")


def test_a_datagram_longer_than_its_content_length_keeps_only_the_first_message() -> None:
    register = wire(
        "REGISTER sip:example.com SIP/2.0",
        "To: sip:j.user@example.com",
        "From: sip:j.user@example.com;tag=43251j3j324",
        "Max-Forwards: 8",
        "Call-ID: dblreq.0ha0isndaksdj99sdfafnl3lk233412",
        "Contact: sip:j.user@host.example.com",
        "CSeq: 8 REGISTER",
        "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492",
        "Content-Length: 0",
    )
    m = request(register + SIPP_INVITE)
    assert m.method == "REGISTER"
    assert m.body == b""


def test_rfc2543_request_without_branch_and_unusual_reason_phrases() -> None:
    m = request(wire(
        "INVITE sip:UserB@example.com SIP/2.0",
        "Via: SIP/2.0/UDP iftgw.example.com",
        "From: <sip:+13035551111@ift.client.example.net;user=phone>;tag=93334",
        "To: sip:user@example.com",
        "Call-ID: inv2543.1717@ift.client.example.com",
        "CSeq: 56 INVITE",
        "Content-Length: 0",
    ))
    assert m.top_via.branch is None
    assert m.max_forwards is None
    unusual = "😀 Ça sonne, 鈴が鳴っています"
    r = parse_datagram(wire(
        f"SIP/2.0 200 {unusual}",
        "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923",
        "Call-ID: unreason.1234ksdfak3j2erwedfsASdf",
        "CSeq: 35 INVITE",
        "From: sip:user@example.com;tag=11141343",
        "To: sip:user@example.edu;tag=2229",
        "Content-Length: 0",
    ))
    assert isinstance(r, Response)
    assert r.reason == unusual
    bare = parse_datagram(wire(
        "SIP/2.0 100 ",
        "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe",
        "Call-ID: noreason.asndj203insdf99223ndf",
        "CSeq: 35 INVITE",
        "From: <sip:user@example.com>;tag=39ansfi3",
        "To: <sip:user@example.edu>;tag=902jndnke3",
        "Content-Length: 0",
    ))
    assert isinstance(bare, Response)
    assert bare.reason == ""


# -- RFC 4475 in spirit: messages an element must refuse ------------------------------------


def good_lines(method: str = "INVITE", uri: str = "sip:user@example.com") -> list[str]:
    return [
        f"{method} {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad",
        "From: <sip:caller@example.net>;tag=a1",
        "To: <sip:user@example.com>",
        "Call-ID: bad.1@192.0.2.1",
        f"CSeq: 1 {method}",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]


def with_line(index: int, line: str | None, method: str = "INVITE") -> bytes:
    lines = good_lines(method)
    if line is None:
        del lines[index]
    else:
        lines[index] = line
    return wire(*lines)


@pytest.mark.parametrize("start", [
    "INVITE <sip:user@example.com> SIP/2.0",      # Request-URI in angle brackets
    "INVITE sip:user@example.com; lr SIP/2.0",    # whitespace inside the Request-URI
    "INVITE  sip:user@example.com  SIP/2.0",      # several spaces between the parts
    "INVITE sip:user@example.com SIP/2.0 ",       # trailing whitespace
    "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0",  # headers in R-URI
    "INVITE sip:user@[2001:db8::1 SIP/2.0",       # an unterminated IPv6 reference
])
def test_bad_request_lines_get_400_and_can_be_answered(start: str) -> None:
    err = fails(with_line(0, start))
    assert (err.is_request, err.method, err.can_respond) == (True, "INVITE", True)
    response = error_response(err)
    assert response is not None
    assert response.status == 400
    assert response.headers.get("Call-ID") == "bad.1@192.0.2.1"


def test_another_sip_version_gets_505() -> None:
    err = fails(with_line(0, "INVITE sip:user@example.com SIP/7.0"), 505)
    response = error_response(err)
    assert response is not None
    assert (response.status, response.reason) == (505, "Version Not Supported")


@pytest.mark.parametrize(("index", "line"), [
    (5, "CSeq: 1 ACK"),                                     # CSeq method is not the request's
    (5, "CSeq: 36893488147419103232 INVITE"),               # CSeq number over 2**31 - 1
    (6, "Max-Forwards: 300"),                               # over 255
    (7, "Content-Length: -999"),                            # negative
    (7, "Content-Length: 9999"),                            # longer than the datagram
    (3, "To: \"Mr. J. User <sip:j.user@example.com>"),      # unbalanced quote
    (2, "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),  # unquoted comma
    (3, "To: \"Watson, Thomas\" < sip:t.watson@example.org >"),     # spaces inside <>
    (3, "To: <sip:user@example.com"),                        # unterminated <
    (2, "From: sip:user@example.com?Route=x;tag=1"),         # '?' outside <>
    (4, "Call-ID: two words"),
    (1, "Via: SIP/2.0/UDP 192.0.2.15;;,;,,"),                # empty parameters and values
    (1, "Via: SIP/2.0/UDP 192.0.2.15:99999;branch=z9hG4bKx"),  # port out of range
    (1, "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKx;received=not-an-ip"),
    (4, None),                                               # no Call-ID
    (2, None),                                               # no From
])
def test_bad_headers_get_400(index: int, line: str | None) -> None:
    err = fails(with_line(index, line))
    assert err.is_request is True
    if index != 1:
        assert err.can_respond
        assert error_response(err) is not None


def test_duplicated_singular_headers_get_400() -> None:
    lines = good_lines()
    for extra in ("To: <sip:other@example.com>", "Content-Length: 0", "Call-ID: again@x"):
        err = fails(wire(*lines[:-1], extra, lines[-1]))
        assert err.can_respond


def test_without_via_or_cseq_nothing_can_be_answered() -> None:
    for index in (1, 5):
        err = fails(with_line(index, None))
        assert not err.can_respond
        assert error_response(err) is None


def test_a_malformed_ack_and_a_malformed_response_are_never_answered() -> None:
    err = fails(with_line(3, "To: <broken", method="ACK"))
    assert (err.method, err.can_respond) == ("ACK", False)
    err = fails(wire("SIP/2.0 4294967301 Big Code", *good_lines()[1:]))
    assert (err.is_request, err.can_respond) == (False, False)


@pytest.mark.parametrize("data", [
    b"", b"hello world\r\n\r\n", b"\x00\x01\x02\r\n\r\n", b"INVITE\r\n\r\n",
    b"\xff\xfe INVITE sip:a@b SIP/2.0\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
])
def test_garbage_is_dropped(data: bytes) -> None:
    if data == b"":
        assert parse_datagram(data) is None
        return
    err = fails(data)
    assert err.is_request is None
    assert not err.can_respond


def test_header_lines_with_controls_or_bad_utf8_or_no_colon_are_refused() -> None:
    for bad in (b"X-Bad: a\x00b", b"X-Bad: \xc3\x28", b"no colon here", b" leading fold"):
        lines = [line.encode() for line in good_lines()]
        index = 1 if bad == b" leading fold" else 7
        lines.insert(index, bad)
        if bad == b" leading fold":
            lines = [lines[0], b" leading fold", *lines[2:]]
        err = fails(b"\r\n".join(lines) + b"\r\n\r\n")
        assert err.is_request


def test_a_request_without_the_empty_line_is_refused_with_context() -> None:
    err = fails(b"\r\n".join(line.encode() for line in good_lines()) + b"\r\n")
    assert err.can_respond
    assert "empty line" in err.detail


def test_the_error_is_a_remote_protocol_error() -> None:
    assert issubclass(SipProtocolError, RemoteProtocolError)


# -- limits --------------------------------------------------------------------------------


def test_limits_refuse_big_messages_with_513() -> None:
    limits = Limits(max_message=2000, max_headers=20, max_line=200)
    base = good_lines()
    big_body = wire(*base[:-1], "Content-Length: {len}", body=b"x" * 3000)
    with pytest.raises(SipProtocolError) as info:
        parse_datagram(big_body, limits)
    assert (info.value.status, info.value.can_respond) == (513, True)
    response = error_response(info.value)
    assert response is not None
    assert (response.status, response.reason) == (513, "Message Too Large")
    many = wire(*base[:-1], *(f"X-H{i}: v" for i in range(30)), base[-1])
    with pytest.raises(SipProtocolError) as info:
        parse_datagram(many, limits)
    assert info.value.status == 513
    long_line = wire(*base[:-1], "X-Long: " + "a" * 300, base[-1])
    with pytest.raises(SipProtocolError) as info:
        parse_datagram(long_line, limits)
    assert (info.value.status, info.value.can_respond) == (513, True)
    assert parse_datagram(wire(*base), limits) is not None


# -- building ------------------------------------------------------------------------------


def test_responses_copy_the_request_and_add_a_to_tag() -> None:
    req = request(KAMAILIO_INVITE)
    trying = make_response(req, 100)
    assert trying.headers.get_all("Via") == req.headers.get_all("Via")
    assert trying.to_addr.tag is None
    assert "Record-Route" not in trying.headers
    queued = make_response(req, 182, "Queued: position 3, about 45 s", to_tag="acd1")
    assert queued.reason == "Queued: position 3, about 45 s"
    assert queued.headers.get("To") == "<sip:8000@example.net>;tag=acd1"
    assert queued.headers.get("Record-Route") == req.headers.get("Record-Route")
    for name in ("From", "Call-ID", "CSeq"):
        assert queued.headers.get(name) == req.headers.get(name)
    moved = redirect(req, ["sip:agent7@10.0.0.7:5060",
                           NameAddr("sip:agent8@10.0.0.8", "Agent 8")],
                     to_tag="acd1", headers=[("X-CTI-Call-Id", "c-42")])
    assert moved.status == 302
    assert [c.uri for c in moved.contact] == ["sip:agent7@10.0.0.7:5060", "sip:agent8@10.0.0.8"]
    assert moved.headers.get("X-CTI-Call-Id") == "c-42"
    assert "Record-Route" not in moved.headers
    again = parse_datagram(bytes(moved))
    assert isinstance(again, Response)
    assert again.to_addr.tag == "acd1"
    assert again.contact == moved.contact


def test_a_to_tag_already_there_is_kept() -> None:
    req = request(with_line(3, "To: <sip:user@example.com>;tag=dialog1"))
    assert make_response(req, 481, to_tag="other").to_addr.tag == "dialog1"


def test_precheck_gives_405_501_416_and_420() -> None:
    allow = ["INVITE", "ACK", "CANCEL", "OPTIONS"]
    assert precheck(request(wire(*good_lines())), allow=allow) is None
    r = precheck(request(wire(*good_lines("BYE"))), allow=allow)
    assert r is not None
    assert (r.status, r.headers.get("Allow")) == (405, "ACK, CANCEL, INVITE, OPTIONS")
    r = precheck(request(wire(*good_lines("FROBNICATE"))), allow=allow)
    assert r is not None
    assert (r.status, r.reason, r.headers.get("Allow")) == \
        (501, "Not Implemented", "ACK, CANCEL, INVITE, OPTIONS")
    r = precheck(request(wire(*good_lines(uri="isbn:2983792873"))), allow=allow)
    assert r is not None
    assert r.status == 416
    lines = good_lines()
    r = precheck(request(wire(*lines[:-1], "Require: 100rel, foo", lines[-1])),
                 allow=allow, supported=["foo"])
    assert r is not None
    assert (r.status, r.headers.get("Unsupported")) == (420, "100rel")
    assert precheck(request(wire(*lines[:-1], "Require: 100rel", lines[-1])),
                    allow=allow, supported=["100rel"]) is None
    assert precheck(request(wire(*good_lines("ACK"))), allow=[]) is None


def test_the_answer_to_a_malformed_request_is_the_same_each_time() -> None:
    data = with_line(6, "Max-Forwards: 300")
    first = error_response(fails(data), source=("203.0.113.5", 40000))
    second = error_response(fails(data), source=("203.0.113.5", 40000))
    assert first is not None
    assert second is not None
    assert bytes(first) == bytes(second)
    assert first.top_via.received == "203.0.113.5"
    assert first.to_addr.tag is not None
    warning = first.headers.get("Warning")
    assert warning is not None
    assert warning.startswith('399 cti-server "bad Max-Forwards')


def test_serialising_is_stable_and_writes_a_true_content_length() -> None:
    for data in (SIPP_INVITE, KAMAILIO_INVITE):
        once = bytes(request(data))
        assert bytes(request(once)) == once
        assert request(once) == request(bytes(request(once)))
    m = Request("MESSAGE", "sip:a@b", Headers([("Content-Length", "99")]), b"hello")
    assert bytes(m).endswith(b"Content-Length: 5\r\n\r\nhello")
    with pytest.raises(ValueError, match="line break"):
        Headers([("X-Evil", "a\r\nVia: injected")])
    with pytest.raises(ValueError, match="method"):
        Request("BAD METHOD", "sip:a@b")
    with pytest.raises(ValueError, match=r"100\.\.699"):
        Response(99, "no")


def test_header_value_parsers_round_trip() -> None:
    via = parse_via("SIP/2.0/udp host.example.com:5062;branch=z9hG4bKx;rport")
    assert str(via) == "SIP/2.0/UDP host.example.com:5062;branch=z9hG4bKx;rport"
    stamped = via.received_from("192.0.2.8", 40123)
    assert (stamped.received, stamped.rport) == ("192.0.2.8", 40123)
    assert stamped.response_address() == ("192.0.2.8", 40123)
    plain = parse_via("SIP/2.0/UDP 192.0.2.8:5070;branch=z9hG4bKy")
    assert plain.received_from("192.0.2.8", 5070) == plain
    assert plain.response_address() == ("192.0.2.8", 5070)
    addr = parse_name_addr('"Agent \\"7\\"" <sip:agent7@acd.example.com>;tag=t7')
    assert (addr.display_name, addr.tag) == ('Agent "7"', "t7")
    assert parse_name_addr(str(addr)) == addr
    uri = parse_sip_uri("sips:alice:secret@example.com:5061;transport=tls?subject=hi")
    assert (uri.scheme, uri.user, uri.password, uri.port, uri.headers) == \
        ("sips", "alice", "secret", 5061, "subject=hi")
    assert str(uri) == "sips:alice:secret@example.com:5061;transport=tls?subject=hi"


# -- the stream parser ----------------------------------------------------------------------

OPTIONS_TCP = wire(
    "OPTIONS sip:acd.example.com;transport=tcp SIP/2.0",
    "Via: SIP/2.0/TCP 127.0.0.1:40404;branch=z9hG4bK-opt-tcp",
    "From: <sip:probe@127.0.0.1>;tag=p",
    "To: <sip:acd.example.com>",
    "Call-ID: tcp-options-1",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
)
INVALID_BUT_FRAMED = with_line(6, "Max-Forwards: 300")
STREAM = (b"\r\n\r\n" + SIPP_INVITE + b"\r\n" + OPTIONS_TCP + INVALID_BUT_FRAMED
          + KAMAILIO_INVITE + b"\r\n\r\n")


def feed(data: bytes, sizes: list[int] | None = None) -> list[object]:
    parser = StreamParser()
    out: list[Request | Response | SipProtocolError] = []
    pieces = [data] if sizes is None else []
    if sizes is not None:
        i = 0
        for n in sizes:
            pieces.append(data[i:i + n])
            i += n
        pieces.append(data[i:])
    for piece in pieces:
        if parser.broken:
            break
        out += parser.feed(piece)
    return [(type(o).__name__, str(o)) if isinstance(o, SipProtocolError) else o for o in out]


def test_a_stream_gives_the_same_messages_whole_and_byte_by_byte() -> None:
    whole = feed(STREAM)
    assert len(whole) == 4
    assert isinstance(whole[0], Request)
    assert whole[0].body == SDP
    assert isinstance(whole[1], Request)
    assert whole[1].method == "OPTIONS"
    assert whole[2] == ("SipProtocolError", "bad Max-Forwards '300'")
    assert isinstance(whole[3], Request)
    assert whole[3].call_id.startswith("YjQ0")
    assert feed(STREAM, [1] * len(STREAM)) == whole


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), max_size=40))
def test_random_splits_give_the_same_messages(sizes: list[int]) -> None:
    assert feed(STREAM, sizes) == feed(STREAM)


def test_a_stream_message_without_content_length_breaks_the_stream() -> None:
    no_length = wire(*good_lines()[:-1])
    parser = StreamParser()
    out = parser.feed(OPTIONS_TCP + no_length + OPTIONS_TCP)
    assert isinstance(out[0], Request)
    assert isinstance(out[1], SipProtocolError)
    assert "Content-Length" in out[1].detail
    assert out[1].can_respond  # answer 400, then close
    assert len(out) == 2
    assert parser.broken
    with pytest.raises(SipProtocolError):
        parser.feed(b"more")


def test_a_lying_content_length_shows_as_garbage_and_breaks_the_stream() -> None:
    short = OPTIONS_TCP.replace(b"Content-Length: 0", b"Content-Length: 10")
    out = StreamParser().feed(short + OPTIONS_TCP)
    assert isinstance(out[0], Request)
    assert out[0].body == b"OPTIONS si"
    assert isinstance(out[1], SipProtocolError)
    assert out[1].is_request is None


def test_a_stream_refuses_oversized_headers_and_bodies() -> None:
    limits = Limits(max_message=1000)
    parser = StreamParser(limits)
    out = parser.feed(b"INVITE sip:a@b SIP/2.0\r\nX-Pad: " + b"p" * 2000)
    assert isinstance(out[-1], SipProtocolError)
    assert out[-1].status == 513
    parser = StreamParser(limits)
    out = parser.feed(wire(*good_lines()[:-1], "Content-Length: 5000"))
    assert isinstance(out[-1], SipProtocolError)
    assert (out[-1].status, out[-1].can_respond) == (513, True)


# -- fuzzing -------------------------------------------------------------------------------

SEEDS = [SIPP_INVITE, KAMAILIO_INVITE, OPTIONS_TCP, INVALID_BUT_FRAMED]


def answerable(exc: SipProtocolError, source: tuple[str, int] | None) -> None:
    """An error that says it can be answered can be: its answer builds, and what the client
    matches it by (top Via, CSeq) reads back. (A broken From or To is copied as it came.)"""
    response = error_response(exc, source=source)
    assert (response is not None) == exc.can_respond
    if response is not None:
        top = response.headers.values("Via")[0]
        assert parse_via(top).branch == \
            parse_via(split_list(exc.header_values("Via")[0])[0]).branch
        assert response.headers.get("CSeq") == exc.header("CSeq")
        with contextlib.suppress(SipProtocolError):
            parse_datagram(bytes(response))


def touch_everything(message: Request | Response) -> None:
    """Every lazy view either works or raises the adapter's error."""
    for name in ("via", "call_id", "cseq", "from_addr", "to_addr", "contact", "route",
                 "record_route", "max_forwards", "require", "proxy_require", "supported",
                 "allow", "sip_uri"):
        with contextlib.suppress(SipProtocolError):
            getattr(message, name)
    bytes(message)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_any_bytes_parse_or_raise_sip_protocol_error(data: bytes) -> None:
    try:
        message = parse_datagram(data)
    except SipProtocolError as exc:
        answerable(exc, None)
        return
    if message is not None:
        touch_everything(message)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(st.sampled_from([b" ", b"\r\n", b"\n", b";", b",", b"<", b">", b'"',
                                      b":", b"\t", b"\x00", b"\xff", b"z9hG4bK", b"%",
                                      b"SIP/2.0", b"@", b"["]))
        if op == "insert":
            data[i:i] = chunk
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 20))]
        else:
            data[i:i + len(chunk)] = chunk
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_real_messages_parse_or_raise_sip_protocol_error(data: bytes) -> None:
    try:
        message = parse_datagram(data)
    except SipProtocolError as exc:
        answerable(exc, ("192.0.2.1", 5060))
        return
    if message is not None:
        touch_everything(message)
        if isinstance(message, Request):
            assert bytes(request(bytes(message))) == bytes(message)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), max_size=4), st.lists(st.integers(1, 200), max_size=20))
def test_mutated_streams_never_raise_anything_else(parts: list[bytes], sizes: list[int]) -> None:
    data = b"".join(parts)
    whole = feed(data)
    assert feed(data, sizes) == whole
