"""A simulated FreeSWITCH that behaves like the real one on the Event Socket wire, so the ESL
adapter and the daemon can be driven across a real socket where no FreeSWITCH can run.

    async with SimFreeSwitch(port=0, password="ClueCon", speed=50) as fs:
        fs.switch.add_endpoint(Endpoint.answering("user/1001", after_s=2))
        fs.switch.inbound_call("+15550001", "support", variables={"cti_queue": "support"})

``wire`` is the Event Socket server (mod_event_socket), ``switch`` and ``channels`` the calls
and their events, ``api`` the commands (mod_commands), ``driver`` a scenario's traffic.
"""

from sim.freeswitch.channels import CAUSES, Channel
from sim.freeswitch.events import Core, SimEvent
from sim.freeswitch.switch import Endpoint, Switch
from sim.freeswitch.wire import ListenerInfo, SimFreeSwitch

__all__ = ["CAUSES", "Channel", "Core", "Endpoint", "ListenerInfo", "SimEvent", "SimFreeSwitch",
           "Switch"]
