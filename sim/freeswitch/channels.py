"""A simulated FreeSWITCH channel: its state as the events show it, its caller profile, its
variables, and the events it fires, with the headers and order of real FreeSWITCH.

The state headers come from ``switch_channel_event_set_basic_data`` (Channel-State is the
running state, Channel-State-Number the state the channel is going to, as in the captures:
a hanging-up channel reads ``CS_EXECUTE`` / ``10``), the profile from
``switch_caller_profile_event_set_data`` (``Caller-*``, and ``Other-Leg-*`` for the bridged
leg), then every channel variable as ``variable_<name>``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from sim.freeswitch.events import Block, Core, SimEvent

__all__ = ["CAUSES", "Channel"]

#: Hangup causes and their Q.850 codes (switch_channel.c's CAUSE_CHART).
CAUSES: dict[str, int] = {
    "UNALLOCATED_NUMBER": 1, "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
    "DESTINATION_OUT_OF_ORDER": 27, "NORMAL_UNSPECIFIED": 31, "NORMAL_TEMPORARY_FAILURE": 41,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "ORIGINATOR_CANCEL": 487, "LOSE_RACE": 502,
    "MANAGER_REQUEST": 503, "ALLOTTED_TIMEOUT": 602, "SYSTEM_SHUTDOWN": 701,
    "ATTENDED_TRANSFER": 800,
}

# Channel-State names and numbers (switch_types.h).
STATE_NUMBER = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
    "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12,
}

_CODEC = (("Channel-Read-Codec-Name", "PCMU"), ("Channel-Read-Codec-Rate", "8000"),
          ("Channel-Read-Codec-Bit-Rate", "64000"), ("Channel-Write-Codec-Name", "PCMU"),
          ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "64000"))

# The caller profile's time fields, in the order FreeSWITCH writes them.
_TIMES = ("Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time",
          "Channel-Progress-Time", "Channel-Progress-Media-Time", "Channel-Hangup-Time",
          "Channel-Transfer-Time", "Channel-Resurrect-Time", "Channel-Bridged-Time",
          "Channel-Last-Hold", "Channel-Hold-Accum")


def usec(t: float) -> str:
    return str(int(t * 1_000_000))


class Channel:
    """One leg. ``Switch`` drives it; the channel knows how to describe itself in events."""

    def __init__(self, core: Core, uuid: str, *, direction: str, name: str,
                 caller_number: str, caller_name: str, destination: str, context: str,
                 username: str, variables: Iterable[tuple[str, str]] = (),
                 callee: tuple[str, str] | None = None) -> None:
        now = time.time()
        self.core = core
        self.uuid = uuid
        self.direction = direction
        self.name = name
        self.created = now
        self.running_state = "CS_INIT"
        self.state = "CS_ROUTING"
        self.call_state = "DOWN"
        self.answered = False
        self.hungup = False
        self.hangup_cause: str | None = None
        self.media = direction == "inbound"
        self.hit_dialplan = direction == "inbound"
        self.held = False
        self.application = ""
        self.application_data = ""
        self.parked = False
        #: The leg this one is bridged to, and whether this one is the bridge's A leg.
        self.partner: Channel | None = None
        self.bridge_a = False
        #: (application, data) of what plays now.
        self.playback: tuple[str, str] | None = None
        self.app_uuid = ""
        self.recordings: list[str] = []
        self.timers: dict[str, asyncio.TimerHandle] = {}
        #: Resolved with None (answered) or a hangup cause while an originate waits.
        self.originate: asyncio.Future[str | None] | None = None
        self.initial = (caller_name, caller_number, destination, context)
        self.profile: dict[str, str] = {
            "Direction": direction, "Username": username, "Dialplan": "XML",
            "Caller-ID-Name": caller_name, "Caller-ID-Number": caller_number,
        }
        if callee is not None:
            self.profile["Callee-ID-Name"], self.profile["Callee-ID-Number"] = callee
        self.profile |= {
            "Network-Addr": core.ipv4, "ANI": caller_number, "Destination-Number": destination,
            "Unique-ID": uuid, "Source": "mod_sofia", "Context": context,
            "Channel-Name": name, "Profile-Index": "1",
        }
        for key in _TIMES:
            self.profile[key] = "0"
        self.profile["Profile-Created-Time"] = self.profile["Channel-Created-Time"] = usec(now)
        self.profile.update({"Screen-Bit": "true", "Privacy-Hide-Name": "false",
                             "Privacy-Hide-Number": "false"})
        self.variables: dict[str, str] = dict(variables)
        self._profile_block: Block | None = None
        self._vars_block: Block | None = None
        self._other: tuple[int, Block] | None = None
        self.profile_version = 0

    # -- what changes -------------------------------------------------------------------------

    def set_state(self, running: str, call_state: str | None = None,
                  number: str | None = None) -> None:
        self.running_state = running
        self.state = number or running
        if call_state is not None:
            self.call_state = call_state

    def set_profile(self, **fields: str) -> None:
        for key, value in fields.items():
            self.profile[key.replace("_", "-")] = value
        self._profile_block = None
        self.profile_version += 1

    def set_time(self, field: str, t: float | None = None) -> None:
        self.profile[field] = usec(time.time() if t is None else t)
        self._profile_block = None
        self.profile_version += 1

    def set_var(self, name: str, value: str | None) -> None:
        if value is None:
            self.variables.pop(name, None)
        else:
            self.variables[name] = value
        self._vars_block = None

    def set_vars(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.variables.update(pairs)
        self._vars_block = None

    def answer_state(self) -> str:
        if self.hungup:
            return "hangup"
        if self.answered:
            return "answered"
        return "early" if self.call_state == "EARLY" else "ringing"

    # -- its events ---------------------------------------------------------------------------

    def _state_block(self) -> Block:
        pairs = [
            ("Channel-State", self.running_state), ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", str(STATE_NUMBER[self.state])),
            ("Channel-Name", self.name), ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction), ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
        ]
        presence = self.variables.get("presence_id")
        if presence:
            pairs.append(("Channel-Presence-ID", presence))
        call_uuid = self.variables.get("call_uuid")
        if call_uuid:
            pairs.append(("Channel-Call-UUID", call_uuid))
        pairs.append(("Answer-State", self.answer_state()))
        if self.hangup_cause:
            pairs.append(("Hangup-Cause", self.hangup_cause))
        if self.media:
            pairs += _CODEC
        return Block(pairs)

    def profile_block(self, prefix: str = "Caller-") -> Block:
        if prefix == "Caller-":
            if self._profile_block is None:
                self._profile_block = Block(
                    [(f"Caller-{k}", v) for k, v in self.profile.items()])
            return self._profile_block
        # Other-Leg-* leaves out the profile index, as FreeSWITCH does.
        return Block([(f"{prefix}{k}", v) for k, v in self.profile.items()
                      if k != "Profile-Index"])

    def _other_block(self) -> Block | None:
        other = self.partner
        if other is None:
            return None
        cached = self._other
        key = id(other) * 1_000_003 + other.profile_version
        if cached is None or cached[0] != key:
            block = other.profile_block("Other-Leg-")
            kind = "originatee" if self.bridge_a else "originator"
            block = Block([("Other-Type", kind), *block.pairs])
            self._other = cached = (key, block)
        return cached[1]

    def _variables_block(self) -> Block:
        if self._vars_block is None:
            self._vars_block = Block(
                [(f"variable_{k}", v) for k, v in self.variables.items()])
        return self._vars_block

    def event(self, name: str, *, before: Iterable[tuple[str, str]] = (),
              after: Iterable[tuple[str, str]] = (), body: str | None = None) -> SimEvent:
        blocks = [self.core.head(name)]
        before = list(before)
        if before:
            blocks.append(Block(before))
        blocks += [self._state_block(), self.profile_block()]
        other = self._other_block()
        if other is not None:
            blocks.append(other)
        blocks.append(self._variables_block())
        after = list(after)
        if after:
            blocks.append(Block(after))
        return SimEvent(name, blocks, body)

    def application_headers(self, app: str, data: str,
                            response: str | None = None) -> list[tuple[str, str]]:
        pairs = [("Application", app), ("Application-Data", data)]
        if response is not None:
            pairs.append(("Application-Response", response))
        pairs.append(("Application-UUID", self.app_uuid or self.uuid))
        return pairs

    # -- show channels ------------------------------------------------------------------------

    def row(self, hostname: str) -> dict[str, str]:
        """This channel's row of ``show channels`` (the core's channels table)."""
        p = self.profile
        cid_name, cid_num, dest, context = self.initial
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created))
        return {
            "uuid": self.uuid, "direction": self.direction, "created": created,
            "created_epoch": str(int(self.created)), "name": self.name,
            "state": self.running_state, "cid_name": p["Caller-ID-Name"],
            "cid_num": p["Caller-ID-Number"], "ip_addr": p["Network-Addr"],
            "dest": p["Destination-Number"], "application": self.application,
            "application_data": self.application_data, "dialplan": "XML",
            "context": p["Context"], "read_codec": "PCMU" if self.media else "",
            "read_rate": "8000" if self.media else "",
            "read_bit_rate": "64000" if self.media else "",
            "write_codec": "PCMU" if self.media else "",
            "write_rate": "8000" if self.media else "",
            "write_bit_rate": "64000" if self.media else "", "secure": "",
            "hostname": hostname, "presence_id": self.variables.get("presence_id", ""),
            "presence_data": "", "accountcode": "", "callstate": self.call_state,
            "callee_name": "", "callee_num": "", "callee_direction": "",
            "call_uuid": self.variables.get("call_uuid", ""), "sent_callee_name": "",
            "sent_callee_num": "", "initial_cid_name": cid_name, "initial_cid_num": cid_num,
            "initial_ip_addr": p["Network-Addr"], "initial_dest": dest,
            "initial_dialplan": "XML", "initial_context": context,
        }
