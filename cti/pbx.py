"""The PBX link a daemon's configuration asks for (``[freeswitch]``, ``[sip]`` or
``[kamailio]``), built for ``cti serve``."""

from __future__ import annotations

from cti.config import FreeswitchModel, KamailioModel, Settings, SipModel
from cti.runtime import PbxLink

__all__ = ["freeswitch_link", "kamailio_link", "pbx_link", "sip_link"]


def pbx_link(settings: Settings) -> PbxLink | None:
    """The adapter for the configured PBX; ``None`` when none is (agents and calls then come
    only through the bus, e.g. from ``cti sim --realtime``)."""
    if settings.freeswitch is not None:
        return freeswitch_link(settings.freeswitch)
    if settings.sip is not None:
        return sip_link(settings.sip)
    if settings.kamailio is not None:
        return kamailio_link(settings.kamailio)
    return None


def freeswitch_link(fs: FreeswitchModel) -> PbxLink:
    # Imported here: a site without FreeSWITCH loads none of it.
    from adapters.esl import EslClient  # noqa: PLC0415
    from adapters.esl.adapter import FreeswitchAdapter  # noqa: PLC0415
    from adapters.esl.control import CallControl, ControlOptions  # noqa: PLC0415

    client = EslClient(fs.host, fs.port, fs.password, events=CallControl.EVENTS,
                       queue_size=fs.event_queue,
                       heartbeat_timeout_s=fs.heartbeat_timeout_s,
                       backoff_max_s=fs.reconnect_max_s)
    options = ControlOptions(
        destinations=frozenset(fs.destinations), context=fs.context, music=fs.music,
        prompts=fs.prompts, recordings=fs.recordings, record_calls=fs.record_calls,
        callback_endpoint=fs.callback_endpoint, trunk=fs.trunk, say_language=fs.say_language,
    )
    return FreeswitchAdapter(client, options)


def sip_link(sip: SipModel) -> PbxLink:
    """The ACD as a SIP redirect server (``[sip]``)."""
    from adapters.sip.adapter import SipRedirectAdapter  # noqa: PLC0415
    from adapters.sip.redirect_server import DEFAULT_RESPONSES, RedirectOptions  # noqa: PLC0415

    options = RedirectOptions(
        responses={**DEFAULT_RESPONSES, **sip.responses},
        provisional_refresh_s=sip.provisional_refresh_s,
        wait_per_position_s=sip.wait_per_position_s,
    )
    return SipRedirectAdapter(options, host=sip.host, port=sip.port, transport=sip.transport)


def kamailio_link(kam: KamailioModel) -> PbxLink:
    """Kamailio in front of the ACD, evapi mode (``[kamailio]``)."""
    from adapters.kamailio.adapter import KamailioAdapter  # noqa: PLC0415
    from adapters.kamailio.router import EvapiOptions  # noqa: PLC0415
    from adapters.sip.redirect_server import DEFAULT_RESPONSES  # noqa: PLC0415

    options = EvapiOptions(
        responses={**DEFAULT_RESPONSES, **kam.responses}, ring_margin_s=kam.ring_margin_s,
        provisional_timeout_s=kam.provisional_timeout_s,
        wait_per_position_s=kam.wait_per_position_s, trunk=kam.trunk,
    )
    return KamailioAdapter(options, host=kam.host, port=kam.port,
                           max_frame=kam.max_message_bytes,
                           reconnect_max_s=kam.reconnect_max_s)
