"""The simulated FreeSWITCH against what real FreeSWITCH writes: its frames have the shape of
the real captures (``../shared/esl-captures``) and its values their URL-encoding; the Event
Socket commands answer with mod_event_socket's words; the api commands the ACD adapter uses do
what they do on a real switch, event for event."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import socket
import threading
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote

import pytest
from esl_raw import RawEsl

from adapters.esl import EslProtocolError, Event, Frame, FrameParser
from adapters.esl.client import EslClient
from adapters.esl.server import DISCONNECT_GOODBYE, url_encode
from cti.cli import main
from sim.freeswitch import Endpoint, SimFreeSwitch
from sim.freeswitch.driver import EslTrafficDriver, parse_listen
from sim.scenario import parse_scenario

CAPTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "esl-captures"
CAPTURE_FILES = ["neventsocket_Example1.txt", "neventsocket_Example2.txt",
                 "neventsocket_Example3.txt", "fsock_test_data.txt"]
CORE = ["Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname",
        "FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT",
        "Event-Date-Timestamp", "Event-Calling-File", "Event-Calling-Function",
        "Event-Calling-Line-Number", "Event-Sequence"]
FAST = 200.0  # simulated seconds per wall-clock second


def capture(name: str) -> bytes:
    path = CAPTURES / name
    if not path.exists():
        message = f"ESL captures not found at {CAPTURES} (test data kept outside the project)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path.read_bytes()


def plain_events(data: bytes) -> list[tuple[Frame, Event]]:
    out = []
    for frame in FrameParser().feed(data):
        if frame.content_type != "text/event-plain":
            continue  # fsock's corrupted frame reads as an untyped block: not an event
        event = Event(frame.body)
        try:
            event.headers  # noqa: B018 - decoding is the point
        except EslProtocolError:
            continue
        out.append((frame, event))
    return out


@functools.cache
def captured() -> dict[str, list[tuple[Frame, Event]]]:
    by_name: dict[str, list[tuple[Frame, Event]]] = defaultdict(list)
    for name in CAPTURE_FILES:
        for frame, event in plain_events(capture(name)):
            by_name[event.name].append((frame, event))
    return by_name


async def _one_of_each() -> bytes:
    """The wire bytes of a call's life through the simulated FreeSWITCH, every event."""
    async with SimFreeSwitch(port=0, speed=FAST, heartbeat_s=0.05, prompt_s=0.5) as fs:
        fs.switch.add_endpoint(Endpoint.answering("user/1001", after_s=1))
        fs.switch.add_endpoint(Endpoint.not_answering("user/1002"))
        raw = await RawEsl.open(fs.port)
        assert (await raw.command("event plain ALL")).ok
        caller = fs.switch.inbound_call("+15551234567", "support", caller_name="Jane Doe",
                                        variables={"cti_queue": "support"})
        raw.send("bgapi originate {origination_uuid=leg-1,cti_call_id=c1}user/1001 &park()")
        await raw.event("BACKGROUND_JOB")
        fs.switch.broadcast(caller.uuid, "ivr/welcome.wav")
        await raw.event("CHANNEL_EXECUTE_COMPLETE", {"Application": "playback"})
        assert (await raw.command(f"api uuid_bridge {caller.uuid} leg-1")).text == "+OK leg-1\n"
        await raw.command(f"api uuid_kill {caller.uuid}")
        raw.send("bgapi originate {origination_uuid=leg-2}user/1002 &park()")
        await raw.event("CHANNEL_PROGRESS", {"Unique-ID": "leg-2"})
        await raw.command("api uuid_kill leg-2 ORIGINATOR_CANCEL")
        await raw.event("BACKGROUND_JOB")
        await raw.event("HEARTBEAT")
        raw.close()
        return bytes(raw.raw)


@functools.cache
def simulated() -> dict[str, list[tuple[Frame, Event]]]:
    by_name: dict[str, list[tuple[Frame, Event]]] = defaultdict(list)
    for frame, event in plain_events(asyncio.run(_one_of_each())):
        by_name[event.name].append((frame, event))
    return by_name


def test_url_encoding_is_freeswitch_own_on_every_capture_value() -> None:
    values = 0
    for name in CAPTURE_FILES:
        for frame, _ in plain_events(capture(name)):
            head = frame.body.split(b"\n\n")[0].decode()
            for line in head.split("\n"):
                _, _, value = line.partition(": ")
                assert url_encode(unquote(value)) == value, line
                values += 1
    assert values > 5000


SHAPED = ["CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_EXECUTE",
          "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_BRIDGE",
          "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY",
          "HEARTBEAT", "API"]
# Present or not by the channel's circumstances, in the captures as in the simulator.
OPTIONAL = {"Channel-Presence-ID", "Channel-Call-UUID", "Other-Type", "Hangup-Cause",
            "Presence-Call-Direction", "Channel-HIT-Dialplan", "Application-UUID",
            "Application-Response", "Application-Data", "Application",
            # a leg that never got media (one that rang out) has no codec
            "Channel-Read-Codec-Name", "Channel-Read-Codec-Rate", "Channel-Read-Codec-Bit-Rate",
            "Channel-Write-Codec-Name", "Channel-Write-Codec-Rate",
            "Channel-Write-Codec-Bit-Rate"}


def _names(event: Event) -> list[str]:
    return [k for k in event.headers if not k.startswith(("variable_", "Caller-", "Other-Leg-"))]


@pytest.mark.parametrize("name", SHAPED)
def test_simulated_frames_have_the_shape_of_the_captures(name: str) -> None:
    real = captured()[name]
    ours = simulated()[name]
    assert real, f"no {name} in the captures"
    assert ours, f"the simulator fired no {name}"
    every_real_name = {k for events in captured().values() for _, e in events for k in e.headers}
    for frame, event in ours:
        # The outer frame: exactly FreeSWITCH's two headers in its order, a byte count.
        assert list(frame.headers) == list(real[0][0].headers) == ["Content-Length",
                                                                   "Content-Type"]
        assert int(frame.headers["Content-Length"]) == len(frame.body)
        # The opening block, header for header; then nothing FreeSWITCH does not write.
        assert list(event.headers)[:13] == CORE == list(real[0][1].headers)[:13]
        invented = {k for k in event.headers
                    if not k.startswith("variable_") and k not in every_real_name}
        assert not invented, f"{name}: headers no capture has: {sorted(invented)}"
        # What every real event of the name carries, ours carries too.
        common = set.intersection(*(set(_names(e)) for _, e in real)) - OPTIONAL
        assert common <= set(_names(event)), sorted(common - set(_names(event)))
        # The headers both have come in the same order.
        shared = [k for k in _names(real[0][1]) if k in set(_names(event)) and k != "Hangup-Cause"]
        assert [k for k in _names(event) if k in shared] == shared
        if any(k.startswith("Caller-") for _, e in real for k in e.headers):
            caller = {k for k in event.headers if k.startswith("Caller-")}
            assert {"Caller-Caller-ID-Number", "Caller-Destination-Number",
                    "Caller-Unique-ID"} <= caller
        # Values are written as FreeSWITCH encodes them, and the body ends as its bodies do.
        head, _, rest = frame.body.partition(b"\n\n")
        for line in head.decode().split("\n"):
            _, _, value = line.partition(": ")
            assert url_encode(unquote(value)) == value, line
        assert rest == b"" or head.endswith(b"Content-Length: %d" % len(rest))


def test_simulated_dates_and_counters_read_like_the_real_ones() -> None:
    for events in simulated().values():
        for _, e in events:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", e.get("Event-Date-Local") or "")
            assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT",
                                e.get("Event-Date-GMT") or "")
            assert (e.get("Event-Date-Timestamp") or "").isdigit()
    seqs = [int(e.get("Event-Sequence") or 0) for evs in simulated().values() for _, e in evs]
    assert len(set(seqs)) == len(seqs)


# -- the Event Socket commands -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_auth_is_asked_first_and_a_wrong_password_is_shown_the_door() -> None:
    async with SimFreeSwitch(port=0, password="s3cret") as fs:
        raw = await RawEsl.open(fs.port, password=None)
        assert (await raw.command("api status")).text == "-ERR command not found"
        assert (await raw.command("auth wrong")).text == "-ERR invalid"
        notice = await raw.next()
        assert isinstance(notice, Frame)
        assert notice.content_type == "text/disconnect-notice"
        assert notice.body.decode() == DISCONNECT_GOODBYE
        with pytest.raises(EOFError):
            await raw.next()
        ok = await RawEsl.open(fs.port, password="s3cret")
        ok.close()


@pytest.mark.asyncio
async def test_socket_commands_answer_in_mod_event_socket_words() -> None:
    async with SimFreeSwitch(port=0) as fs:
        raw = await RawEsl.open(fs.port)
        assert (await raw.command("noevents")).text == "-ERR not listening for events"
        assert (await raw.command("event plain NO_SUCH_EVENT")).text == (
            "-ERR no keywords supplied")
        assert (await raw.command("event plain CHANNEL_CREATE HEARTBEAT")).text == (
            "+OK event listener enabled plain")
        assert (await raw.command("event json CHANNEL_ANSWER")).text == (
            "+OK event listener enabled json")
        assert (await raw.command("nixevent CHANNEL_ANSWER")).text == "+OK events nixed"
        assert (await raw.command("filter Unique-ID abc")).text == (
            "+OK filter added. [Unique-ID]=[abc]")
        assert (await raw.command("filter Unique-ID")).text == "-ERR invalid syntax"
        assert (await raw.command("filter delete Unique-ID abc")).text == (
            "+OK filter deleted. [Unique-ID][abc]")
        assert (await raw.command("filter delete all")).text == "+OK filter deleted. [all][]"
        assert (await raw.command("linger")).text == "-ERR not controlling a session"
        assert (await raw.command("frobnicate")).text == "-ERR command not found"
        assert (await raw.command("api frobnicate now")).text == (
            "-ERR frobnicate Command not found!\n")
        assert (await raw.command("api uuid_kill nope")).text == "-ERR No such channel!\n"
        assert (await raw.command("api show channels as json")).text == '{"row_count": 0}\n'
        assert (await raw.command("api global_getvar core_uuid")).text == fs.core.core_uuid
        status = (await raw.command("api status")).text
        assert status.startswith("UP 0 years, 0 days, 0 hours, 0 minutes, ")
        assert "session(s) since startup" in status
        assert (await raw.command("noevents")).text == "+OK no longer listening for events"
        bye = await raw.command("exit")
        assert bye.text == "+OK bye"
        notice = await raw.next()
        assert isinstance(notice, Frame)
        assert notice.content_type == "text/disconnect-notice"
        with pytest.raises(EOFError):
            await raw.next()


@pytest.mark.asyncio
async def test_bgapi_answers_at_once_and_fires_background_job_with_the_result() -> None:
    async with SimFreeSwitch(port=0) as fs:
        raw = await RawEsl.open(fs.port)
        await raw.command("event plain BACKGROUND_JOB")
        reply = await raw.command("bgapi status", {"Job-UUID": "job-1"})
        assert reply.text == "+OK Job-UUID: job-1"
        assert reply.frame.headers["Job-UUID"] == "job-1"
        job = await raw.event("BACKGROUND_JOB")
        assert (job.get("Job-UUID"), job.get("Job-Command")) == ("job-1", "status")
        assert job.get("Job-Command-Arg") is None
        assert job.body.decode().startswith("UP ")
        mine = await raw.command("bgapi uuid_kill nobody")
        assert mine.text.startswith("+OK Job-UUID: ")
        job = await raw.event("BACKGROUND_JOB")
        assert job.get("Job-UUID") == mine.text.split(": ")[1]
        assert job.get("Job-Command-Arg") == "nobody"
        assert job.body == b"-ERR No such channel!\n"


@pytest.mark.asyncio
async def test_json_events_carry_the_same_headers_and_filters_select_events() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        plain = await RawEsl.open(fs.port)
        js = await RawEsl.open(fs.port)
        await plain.command("event plain CHANNEL_CREATE CHANNEL_PARK")
        await plain.command("filter variable_cti_queue sales")
        await js.command("event json CHANNEL_CREATE")
        fs.switch.inbound_call("+15550000001", "billing", variables={"cti_queue": "billing"})
        sales = fs.switch.inbound_call("+15550000002", "sales",
                                       variables={"cti_queue": "sales", "cti_note": "a b&c"})
        e1 = await plain.event("CHANNEL_CREATE")
        assert e1.get("Unique-ID") == sales.uuid  # the billing call was filtered out
        assert (await plain.event("CHANNEL_PARK")).get("Unique-ID") == sales.uuid
        j0 = await js.event("CHANNEL_CREATE")
        j1 = await js.event("CHANNEL_CREATE")
        assert j0.format == j1.format == "json"
        assert j1.get("Unique-ID") == sales.uuid
        assert j1.get("variable_cti_note") == e1.get("variable_cti_note") == "a b&c"
        assert set(j1.headers) == set(e1.headers)
        # A "-" filter keeps out what the filters before it let in (alone it lets nothing in).
        await plain.command("filter delete all")
        await plain.command("filter Event-Name CHANNEL_CREATE")
        await plain.command("filter variable_cti_queue -sales")
        fs.switch.inbound_call("+15550000003", "sales", variables={"cti_queue": "sales"})
        other = fs.switch.inbound_call("+15550000004", "sales", variables={"cti_queue": "x"})
        assert (await plain.event("CHANNEL_CREATE")).get("Unique-ID") == other.uuid
        assert [e.name for e in await plain.collect(0.05)] == []  # and no CHANNEL_PARK


# -- calls --------------------------------------------------------------------------------------


async def _client(fs: SimFreeSwitch) -> RawEsl:
    raw = await RawEsl.open(fs.port)
    assert (await raw.command("event plain ALL")).ok
    return raw


async def _job(raw: RawEsl, command: str) -> tuple[str, list[Event]]:
    """bgapi ``command``: its result, and the events that came before it."""
    reply = await raw.command(f"bgapi {command}")
    job_uuid = reply.text.split(": ")[1]
    job = await raw.event("BACKGROUND_JOB", {"Job-UUID": job_uuid}, timeout=5)
    seen = list(raw.events)
    return job.body.decode(), seen


def _names_of(events: list[Event], uuid: str) -> list[str]:
    return [e.name for e in events if e.get("Unique-ID") == uuid and e.name not in (
        "API", "CHANNEL_STATE")]


@pytest.mark.asyncio
async def test_originate_outcomes() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        sw = fs.switch
        sw.add_endpoint(Endpoint.answering("user/1001", after_s=2))
        sw.add_endpoint(Endpoint.not_answering("user/1002"))
        sw.add_endpoint(Endpoint.busy("user/1003"))
        sw.add_endpoint(Endpoint.rejecting("user/1004", after_s=1))
        raw = await _client(fs)
        vars_ = "cti_call_id=c-7,cti_agent_id=1001,originate_timeout=20"
        result, seen = await _job(raw, f"originate {{origination_uuid=a1,{vars_}}}user/1001 "
                                       "&park()")
        assert result == "+OK a1\n"
        assert _names_of(seen, "a1")[:3] == ["CHANNEL_CREATE", "CHANNEL_PROGRESS",
                                             "CHANNEL_ANSWER"]
        park = await raw.event("CHANNEL_PARK", {"Unique-ID": "a1"})
        assert park.get("variable_cti_call_id") == "c-7"
        assert park.get("Call-Direction") == "outbound"
        assert park.get("Answer-State") == "answered"
        for leg, endpoint, cause in [("a2", "user/1002", "NO_ANSWER"),
                                     ("a3", "user/1003", "USER_BUSY"),
                                     ("a4", "user/1004", "CALL_REJECTED"),
                                     ("a5", "user/9999", "UNALLOCATED_NUMBER")]:
            raw.events.clear()
            result, seen = await _job(
                raw, f"originate {{origination_uuid={leg},originate_timeout=20}}{endpoint} "
                     "&park()")
            assert result == f"-ERR {cause}\n", endpoint
            names = _names_of(seen, leg)
            assert names[0] == "CHANNEL_CREATE"
            assert ("CHANNEL_PROGRESS" in names) == (cause in ("NO_ANSWER", "CALL_REJECTED"))
            done = next(e for e in seen if e.name == "CHANNEL_HANGUP_COMPLETE"
                        and e.get("Unique-ID") == leg)
            assert done.get("Hangup-Cause") == cause
            assert done.get("variable_hangup_cause") == cause
        raw.events.clear()
        raw.send("bgapi originate {origination_uuid=a6}user/1002 &park()")
        await raw.event("CHANNEL_PROGRESS", {"Unique-ID": "a6"})
        assert (await raw.command("api uuid_kill a6 ORIGINATOR_CANCEL")).text == "+OK\n"
        job = await raw.event("BACKGROUND_JOB")
        assert job.body == b"-ERR ORIGINATOR_CANCEL\n"
        done = await raw.event("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": "a6"})
        assert done.get("Hangup-Cause") == "ORIGINATOR_CANCEL"


@pytest.mark.asyncio
async def test_bridge_and_hangup_propagation() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        sw = fs.switch
        sw.add_endpoint(Endpoint.answering("user/1001", after_s=0.5))
        raw = await _client(fs)
        caller = sw.inbound_call("+15550000009", "support")
        await raw.event("CHANNEL_PARK", {"Unique-ID": caller.uuid})
        assert (await _job(raw, "originate {origination_uuid=b1}user/1001 &park()"))[0] == (
            "+OK b1\n")
        assert (await raw.command("api uuid_bridge nope b1")).text == "-ERR Invalid uuid\n"
        assert (await raw.command(f"api uuid_bridge {caller.uuid} b1")).text == "+OK b1\n"
        bridge = await raw.event("CHANNEL_BRIDGE")
        assert bridge.get("Unique-ID") == caller.uuid
        assert bridge.get("Bridge-A-Unique-ID") == caller.uuid
        assert bridge.get("Bridge-B-Unique-ID") == bridge.get("Other-Leg-Unique-ID") == "b1"
        assert bridge.get("Other-Type") == "originatee"
        rows = fs.switch.show_channels()
        assert {r["uuid"] for r in rows} == {caller.uuid, "b1"}
        assert (await raw.command("api uuid_kill b1 USER_BUSY")).text == "+OK\n"
        unbridge = await raw.event("CHANNEL_UNBRIDGE")
        assert unbridge.get("Bridge-B-Unique-ID") == "b1"
        causes = {}
        for _ in range(2):
            done = await raw.event("CHANNEL_HANGUP_COMPLETE")
            causes[done.get("Unique-ID")] = done.get("Hangup-Cause")
        assert causes == {caller.uuid: "USER_BUSY", "b1": "USER_BUSY"}
        assert (await raw.command("api show channels as json")).text == '{"row_count": 0}\n'


@pytest.mark.asyncio
async def test_show_channels_as_json() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        raw = await _client(fs)
        a = fs.switch.inbound_call("+15550000011", "support", caller_name="Ann")
        b = fs.switch.inbound_call("+15550000012", "sales")
        doc = json.loads((await raw.command("api show channels as json")).text)
        assert doc["row_count"] == 2
        assert [r["uuid"] for r in doc["rows"]] == [a.uuid, b.uuid]
        row = doc["rows"][0]
        assert (row["cid_name"], row["cid_num"], row["dest"], row["application"],
                row["callstate"], row["direction"]) == (
            "Ann", "+15550000011", "support", "park", "ACTIVE", "inbound")
        assert all(isinstance(v, str) for v in row.values())
        text = (await raw.command("api show channels")).text
        assert text.startswith("uuid,direction,created,")
        assert text.endswith("\n2 total.\n")


@pytest.mark.asyncio
async def test_prompts_end_music_loops_until_bridged() -> None:
    async with SimFreeSwitch(port=0, speed=FAST, prompt_s=1.0) as fs:
        sw = fs.switch
        sw.add_endpoint(Endpoint.answering("user/1001", after_s=0.2))
        raw = await _client(fs)
        caller = sw.inbound_call("+15550000021", "support")
        assert (await raw.command(f"api uuid_broadcast {caller.uuid} ivr/hello.wav aleg")).text \
            == "+OK Message Sent\n"
        done = await raw.event("CHANNEL_EXECUTE_COMPLETE", {"Application": "playback"})
        assert (done.get("Application-Data"), done.get("Application-Response")) == (
            "ivr/hello.wav", "FILE PLAYED")
        music = "local_stream://moh"
        await raw.command(f"api uuid_broadcast {caller.uuid} {music} aleg")
        quiet = [e for e in await raw.collect(0.1) if e.name == "CHANNEL_EXECUTE_COMPLETE"
                 and e.get("Application-Data") == music]
        assert quiet == []  # 20 simulated seconds and the music still plays
        await _job(raw, "originate {origination_uuid=m1}user/1001 &park()")
        await raw.command(f"api uuid_bridge {caller.uuid} m1")
        stop = await raw.event("CHANNEL_EXECUTE_COMPLETE", {"Application-Data": music})
        assert stop.get("Unique-ID") == caller.uuid


@pytest.mark.asyncio
async def test_record_hold_setvar_transfer() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        sw = fs.switch
        raw = await _client(fs)
        caller = sw.inbound_call("+15550000031", "support")
        u = caller.uuid
        assert (await raw.command(f"api uuid_record {u} start /rec/a.wav")).text == (
            "+OK Success\n")
        assert (await raw.command(f"api uuid_record {u} stop /rec/a.wav")).text == (
            "+OK Success\n")
        assert (await raw.event("RECORD_STOP")).get("Record-File-Path") == "/rec/a.wav"
        assert (await raw.command(f"api uuid_record {u} stop /rec/a.wav")).text == (
            "-ERR Cannot stop record session!\n")
        assert (await raw.command(f"api uuid_hold {u}")).text == "+OK Success\n"
        assert (await raw.event("CHANNEL_HOLD")).get("Channel-Call-State") == "HELD"
        assert (await raw.command(f"api uuid_hold off {u}")).text == "+OK Success\n"
        await raw.event("CHANNEL_UNHOLD")
        assert (await raw.command(f"api uuid_setvar {u} cti_call_id call 42")).text == "+OK\n"
        assert (await raw.command(f"api uuid_getvar {u} cti_call_id")).text == "call 42"
        assert (await raw.command("api uuid_setvar nope a b")).text == "-ERR No such channel!\n"
        await raw.command(f"api uuid_record {u} start /rec/b.wav")
        assert (await raw.command(f"api uuid_transfer {u} 5000 XML default")).text == "+OK\n"
        stop = await raw.event("RECORD_STOP")  # the far end hangs up soon after the transfer
        done = await raw.event("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": u})
        assert stop.get("Record-File-Path") == "/rec/b.wav"
        assert done.get("Caller-Destination-Number") == "5000"
        assert done.get("variable_cti_call_id") == "call 42"


# -- the listener's limits and the test hooks ----------------------------------------------------


@pytest.mark.asyncio
async def test_a_listener_500_events_behind_is_killed() -> None:
    async with SimFreeSwitch(port=0, max_queue=50, heartbeat_s=None) as fs:
        raw = await RawEsl.open(fs.port)
        await raw.command("event plain HEARTBEAT")
        # 2,000 at once into a queue of 50: more than 500 lost in a row, as when nobody reads.
        await fs.burst(2_000, chunk=2_000)
        notice = None
        try:
            while True:
                item = await raw.next(timeout=5)
                if isinstance(item, Frame) and item.content_type == "text/disconnect-notice":
                    notice = item
        except EOFError:
            pass
        assert notice is not None
        assert notice.body == b"killed listener because of lost events\n"
        assert fs.lost_events > 500


@pytest.mark.asyncio
async def test_restart_and_dropped_links() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        raw = await _client(fs)
        fs.switch.inbound_call("+15550000041", "support")
        old = fs.core.core_uuid
        fs.drop_links()
        with pytest.raises(EOFError):
            await _read_to_the_end(raw)
        # The last frame was cut in half.
        head = raw.raw.rindex(b"Content-Length: ")
        length = int(raw.raw[head + 16:raw.raw.index(b"\n", head)])
        body = raw.raw.index(b"\n\n", head) + 2
        assert 0 < len(raw.raw) - body < length
        raw = await _client(fs)
        assert len(fs.switch.show_channels()) == 1  # FreeSWITCH itself carried on
        await fs.restart()
        notice = await raw.next()
        assert isinstance(notice, Frame)
        assert notice.body == b"The system is being shut down.\n"
        raw = await _client(fs)
        assert (await raw.command("api global_getvar core_uuid")).text != old
        assert (await raw.command("api show channels as json")).text == '{"row_count": 0}\n'


async def _read_to_the_end(raw: RawEsl) -> None:
    while True:
        await raw.next()


# -- the scenario driver -------------------------------------------------------------------------

SCENARIO = """
name = "esl-small"
seed = 5
[run]
calls = 6
[arrivals]
rate_per_s = 2.0
[queues.support]
strategy = "least-idle"
[call_types.support]
queue = "support"
dialed = "8000"
talk = { dist = "fixed", value = 30 }
patience = { dist = "fixed", value = 40 }
[agents.agent]
count = 2
queues = ["support"]
ring_delay = { dist = "fixed", value = 2 }
"""


@pytest.mark.asyncio
async def test_the_driver_plays_a_scenario_to_a_toy_acd() -> None:
    scenario = parse_scenario(SCENARIO)
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        driver = EslTrafficDriver(fs, scenario, speed=FAST, calls=6)
        acd = await _client(fs)
        run = asyncio.create_task(driver.run())
        free = ["agent-1", "agent-2"]
        legs: dict[str, tuple[str, str]] = {}  # agent leg -> (caller, agent)
        async with asyncio.timeout(10):
            while not run.done():
                try:
                    item = await acd.next(timeout=0.2)
                except TimeoutError:
                    continue
                if not isinstance(item, Event):
                    continue
                uuid = item.get("Unique-ID") or ""
                inbound = item.get("Call-Direction") == "inbound"
                if item.name == "CHANNEL_PARK" and inbound and free:
                    assert item.get("variable_cti_queue") == "support"
                    assert item.get("Caller-Destination-Number") == "8000"
                    legs[f"leg-{uuid}"] = (uuid, free.pop())
                    acd.send(f"bgapi originate {{origination_uuid=leg-{uuid}}}"
                             f"user/{legs[f'leg-{uuid}'][1]} &park()")
                elif item.name == "CHANNEL_PARK" and uuid in legs:
                    acd.send(f"bgapi uuid_bridge {legs[uuid][0]} {uuid}")
                elif item.name == "CHANNEL_HANGUP_COMPLETE" and uuid in legs:
                    free.append(legs.pop(uuid)[1])
                elif item.name == "CHANNEL_HANGUP_COMPLETE" and inbound:
                    for leg, (caller, _) in legs.items():
                        if caller == uuid:
                            acd.send(f"bgapi uuid_kill {leg} ORIGINATOR_CANCEL")
        summary = await run
    assert summary.placed == 6
    assert summary.bridged + summary.abandoned + summary.ended_unbridged == 6
    assert summary.bridged >= 2
    assert summary.agent_legs >= summary.bridged
    assert "calls placed 6" in summary.format()


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:8021") == ("127.0.0.1", 8021)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen("8021")


ROOT = Path(__file__).resolve().parent.parent
TWO_QUEUES = str(ROOT / "sim" / "scenarios" / "two-queues.toml")


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--listen", "8021"], "HOST:PORT"), (["--realtime"], "one scenario's traffic"),
     (["--speed", "0"], "--speed must be > 0")],
)
def test_cli_errors(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", TWO_QUEUES, "--pbx", "esl", *extra]) == 2
    assert message in capsys.readouterr().err


def test_cli_serves_the_traffic_to_a_client_and_summarises(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    codes: list[int] = []
    served = threading.Thread(target=lambda: codes.append(main([
        "sim", TWO_QUEUES, "--pbx", "esl", "--listen", f"127.0.0.1:{port}", "--calls", "4",
        "--speed", "5000", "--password", "pw"])))
    served.start()

    async def watch() -> int:
        c = EslClient("127.0.0.1", port, "pw", backoff_base_s=0.02, backoff_max_s=0.05)
        await asyncio.wait_for(c.start(), 10)
        parks = 0
        async with asyncio.timeout(10):
            async for item in c.stream():
                if isinstance(item, Event) and item.name == "CHANNEL_PARK":
                    parks += 1
                    if parks == 4:
                        break
            await asyncio.to_thread(served.join)  # the callers give up, the sim ends
        await c.close()
        return parks

    parks = asyncio.run(watch())
    served.join(5)
    assert codes == [0]
    assert parks == 4  # nobody routes them: every caller waits, then gives up
    out = capsys.readouterr().out
    assert "calls placed 4, bridged 0, abandoned 4" in out
