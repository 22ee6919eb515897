"""The ESL codec on real FreeSWITCH wire captures (``../shared/esl-captures``, kept outside the
project): fed whole, one byte at a time and in random splits, the frames are the same; replies
pair with commands in order while events pass between them; anything else raises the adapter's
protocol error."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.esl import Connection, EslProtocolError, Event, Frame, FrameParser, Reply

CAPTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "esl-captures"
GOOD = ["neventsocket_Example1.txt", "neventsocket_Example2.txt", "neventsocket_Example3.txt"]


def capture(name: str) -> bytes:
    path = CAPTURES / name
    if not path.exists():
        message = f"ESL captures not found at {CAPTURES} (test data kept outside the project)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path.read_bytes()


def frames_of(data: bytes, sizes: list[int] | None = None) -> list[Frame]:
    parser = FrameParser()
    out: list[Frame] = []
    if sizes is None:
        return parser.feed(data)
    i = 0
    for n in sizes:
        out += parser.feed(data[i:i + n])
        i += n
    out += parser.feed(data[i:])
    return out


@pytest.mark.parametrize("name", GOOD)
def test_capture_parses_the_same_whole_and_byte_by_byte(name: str) -> None:
    data = capture(name)
    whole = frames_of(data)
    assert len(whole) > 20
    assert frames_of(data, [1] * len(data)) == whole
    kinds = {f.content_type for f in whole}
    assert {"command/reply", "text/event-plain"} <= kinds
    first = whole[0]  # the outbound connect reply carries the channel's data, URL-encoded
    assert first.content_type == "command/reply"
    assert first.headers["Event-Name"] == "CHANNEL_DATA"
    # The client's side is not in the capture: stand in for its commands, one per reply.
    replies = sum(f.content_type in ("command/reply", "api/response") for f in whole)
    conn = Connection()
    conn.send("connect")
    for i in range(replies - 1):
        conn.send(f"command-{i}")
    out = conn.receive(data)
    assert isinstance(out[0], Reply)
    assert out[0].command == "connect"
    got = [o.command for o in out if isinstance(o, Reply)]
    assert got == ["connect", *(f"command-{i}" for i in range(replies - 1))]
    assert conn.pending == 0
    assert any(isinstance(o, Event) for o in out)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3000), max_size=200))
def test_random_splits_give_the_same_frames(sizes: list[int]) -> None:
    data = capture(GOOD[0])
    assert frames_of(data, sizes) == frames_of(data)


def test_plain_events_decode_lazily_and_leniently() -> None:
    data = capture(GOOD[0])
    events = [Event(f.body) for f in frames_of(data) if f.content_type == "text/event-plain"]
    names = {e.name for e in events}
    assert "CHANNEL_EXECUTE_COMPLETE" in names or "CHANNEL_HANGUP" in names
    dated = next(e for e in events if e.get("Event-Date-Local"))
    assert " " in (dated.get("Event-Date-Local") or "")  # %20 decoded
    assert "%" not in (dated.get("Event-Date-Local") or "")
    # '+' is not a space in ESL, and a malformed % sequence is kept as it is.
    odd = Event(b"Event-Name: CUSTOM\nVariable_x: a+b%2zc%20d\n\n")
    assert odd.get("Variable_x") == "a+b%2zc d"
    assert Event(b"Event-Name: X\nvariable_list: ARRAY::a|:b|:c\n\n").array(
        "variable_list") == ["a", "b", "c"]


def test_replies_pair_with_commands_in_order_and_events_never_do() -> None:
    conn = Connection()
    conn.send("auth ClueCon")
    conn.send("api status")
    wire = (
        b"Content-Type: text/event-plain\nContent-Length: 24\n\nEvent-Name: HEARTBEAT\n\n\n"
        b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        b"Content-Type: api/response\nContent-Length: 6\n\nUP 0s\n"
    )
    out = conn.receive(wire)
    assert isinstance(out[0], Event)
    assert out[0].name == "HEARTBEAT"
    assert out[1] == Reply("auth ClueCon", True, "+OK accepted", out[1].frame)  # type: ignore[union-attr]
    assert isinstance(out[2], Reply)
    assert (out[2].command, out[2].text) == ("api status", "UP 0s\n")
    assert conn.pending == 0
    with pytest.raises(EslProtocolError, match="no command waiting"):
        conn.receive(b"Content-Type: command/reply\nReply-Text: +OK\n\n")


def test_the_corrupted_capture_frame_is_a_protocol_error() -> None:
    # fsock's test data holds one frame whose Content-Length is shorter than its body: the
    # rest of that body then reads as a frame with no Content-Type, which FreeSWITCH never
    # sends. The frames before it are fine.
    data = capture("fsock_test_data.txt")
    frames = frames_of(data)
    untyped = [i for i, f in enumerate(frames) if not f.content_type]
    assert len(untyped) == 1
    assert all(f.content_type == "text/event-plain" for f in frames[:untyped[0]])
    with pytest.raises(EslProtocolError, match="without Content-Type"):
        Connection().receive(data)


@pytest.mark.parametrize(
    "wire",
    [
        b"Content-Length: 12x\n\nabc",
        b"Content-Length: 99999999999\n\n",
        b"no colon here\n\n",
        b"\xff\xfe: bad\n\n",
        b"A" * (70 * 1024),
    ],
)
def test_bad_input_raises_the_protocol_error(wire: bytes) -> None:
    with pytest.raises(EslProtocolError):
        FrameParser().feed(wire)


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_raise_the_protocol_error(data: bytes) -> None:
    with contextlib.suppress(EslProtocolError):
        for frame in FrameParser().feed(data):
            if frame.content_type == "text/event-plain":
                Event(frame.body).headers  # noqa: B018 - decoding is the point
