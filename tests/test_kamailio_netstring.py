"""The evapi netstring codec: frames fed whole, a byte at a time and in random splits; any
bytes either decode or raise the adapter's protocol error, and the buffer stays bounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kamailio import KAMAILIO_READ_LIMIT, EvapiProtocolError, NetstringDecoder, encode
from cti.core import RemoteProtocolError

# What Kamailio's evapi_relay writes (its README's example), two frames back to back.
KAMAILIO = b'47:{\n "event": "test",\n "data": { "fU": "test" }\n},' \
           b'31:{"event":"ended","call_id":"x"},'
PAYLOADS = [b'{\n "event": "test",\n "data": { "fU": "test" }\n}',
            b'{"event":"ended","call_id":"x"}']


def test_frames_fed_whole_byte_by_byte_and_split_anywhere() -> None:
    assert NetstringDecoder().feed(KAMAILIO) == PAYLOADS
    one = NetstringDecoder()
    assert [f for b in KAMAILIO for f in one.feed(bytes([b]))] == PAYLOADS
    assert one.buffered == 0
    for cut in range(len(KAMAILIO) + 1):
        d = NetstringDecoder()
        assert d.feed(KAMAILIO[:cut]) + d.feed(KAMAILIO[cut:]) == PAYLOADS, cut


def test_white_space_between_frames_is_skipped_as_kamailio_does() -> None:
    assert NetstringDecoder().feed(b"\r\n 3:abc,\n\t0:, 1:x,") == [b"abc", b"", b"x"]


@pytest.mark.parametrize("data", [b"x:abc,", b"3:abcd", b"3:abc;", b":abc,", b"-1:a,",
                                  b"12345678:", b"3 :abc,"])
def test_a_broken_frame_breaks_the_stream_for_good(data: bytes) -> None:
    d = NetstringDecoder(max_length=1000)
    with pytest.raises(EvapiProtocolError) as err:
        d.feed(data)
    assert err.value.framing
    assert d.broken
    assert d.buffered == 0
    with pytest.raises(EvapiProtocolError):
        d.feed(b"3:abc,")


def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    d = NetstringDecoder(max_length=100)
    with pytest.raises(EvapiProtocolError, match="over the 100-byte limit"):
        d.feed(b"101:")
    d = NetstringDecoder(max_length=100)
    assert d.feed(b"100:" + b"x" * 99) == []
    assert d.feed(b"x,") == [b"x" * 100]


def test_encode_refuses_what_kamailio_could_not_read() -> None:
    assert encode(b"abc") == b"3:abc,"
    assert encode(b"") == b"0:,"
    big = b"x" * (KAMAILIO_READ_LIMIT - 8)
    assert len(encode(big)) <= KAMAILIO_READ_LIMIT
    with pytest.raises(ValueError, match="limit"):
        encode(b"x" * KAMAILIO_READ_LIMIT)


@given(st.lists(st.binary(max_size=300), max_size=8), st.data())
def test_any_frames_survive_any_split(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    d = NetstringDecoder(max_length=300)
    out: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += d.feed(stream[start:cut])
        start = cut
    assert out == payloads
    assert d.buffered == 0


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_any_bytes_decode_or_raise_the_protocol_error(chunks: list[bytes]) -> None:
    d = NetstringDecoder(max_length=64)
    for chunk in chunks:
        try:
            frames = d.feed(chunk)
        except RemoteProtocolError as exc:  # the adapter's error is one of these
            error = exc
            break
        assert all(len(f) <= 64 for f in frames)
        # Never more than one frame's worth held: its length, ':', payload and ','.
        assert d.buffered <= 64 + 2 + 2
    else:
        return
    assert isinstance(error, EvapiProtocolError)
    assert d.broken


@given(st.lists(st.binary(max_size=50), max_size=4), st.binary(max_size=40))
def test_frames_before_a_break_in_the_same_input_come_with_the_error(
        good: list[bytes], garbage: bytes) -> None:
    d = NetstringDecoder(max_length=50)
    data = b"".join(encode(p) for p in good) + garbage
    try:
        frames = d.feed(data)
    except EvapiProtocolError as exc:
        assert d.broken
        frames = exc.frames
    assert frames[:len(good)] == good
