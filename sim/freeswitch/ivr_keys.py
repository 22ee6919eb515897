"""Callers of an IVR flow on the simulated FreeSWITCH: the scenario's ``[ivr_callers]`` model
(``sim.ivr_callers``, the same the other simulators use) answering ``play_and_get_digits``.

The daemon's FreeSWITCH adapter names the flow's node in the channel variable
``cti_ivr_node`` before each collection (``adapters.esl.media``); that, and the application's
own limits, are all the model needs to choose a menu key, type a meter number, type nothing or
hang up. The prompts' playing time is the simulated FreeSWITCH's own (``Switch.prompts``); the
model decides how long the caller then takes.
"""

from __future__ import annotations

from cti.core import CallHungUp, CollectDigits, DigitsEntered, PromptDone
from sim.freeswitch.apps import Collect
from sim.freeswitch.channels import Channel
from sim.ivr_callers import IvrCallers

__all__ = ["IvrKeys"]


class IvrKeys:
    def __init__(self, callers: IvrCallers) -> None:
        self.callers = callers
        self._steps = 0

    def __call__(self, ch: Channel, ask: Collect) -> tuple[float, str, bool]:
        self._steps += 1
        terminator = "" if ask.terminators == "none" else ask.terminators[:1]
        timeout_s = ask.timeout_ms / 1000
        cmd = CollectDigits(ch.uuid, self._steps, ch.variables.get("cti_ivr_node", ""), 1, (),
                            ask.min_digits, ask.max_digits, terminator, timeout_s, timeout_s)
        typed: tuple[float, str, bool] = (timeout_s, "", False)  # nothing: the timeout
        for delay, event in self.callers.on_command(cmd):
            if isinstance(event, CallHungUp):
                return delay, "", True
            if isinstance(event, DigitsEntered):
                typed = (delay, event.digits, False)
            elif not isinstance(event, PromptDone):  # pragma: no cover - the model's own
                raise AssertionError(f"unexpected {event!r}")
        return typed
