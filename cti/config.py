"""Configuration files: TOML in, a validated ``SwitchboardConfig`` out.

pydantic checks the shape (types, ranges, unknown keys) at this edge; the core's own checks
(strategies and their options, skill levels, calendars, targets, overflow cycles) run on the
result. Every problem becomes one ``ConfigFileError`` naming the file, the entry as a dotted
path, and what is wrong, e.g.::

    site.toml: queues.billing.on_max_wait: overflow cycle: billing -> general -> billing
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

import acd
import ivr
from cti.core import (
    AgentConfig,
    BusinessCalendar,
    ConfigurationError,
    LegFailure,
    QueueConfig,
    RingPolicy,
    SwitchboardConfig,
    Target,
    TrunkConfig,
)

__all__ = [
    "LOOPBACK_HOSTS", "BusModel", "ConfigFileError", "DaemonModel", "HttpModel",
    "IvrModel", "KamailioModel", "MetricsModel",
    "QueueModel", "RingModel", "Settings", "StoreModel", "ThresholdModel", "ThresholdsModel",
    "TicketsModel", "WallboardModel", "TrunkModel", "load_config", "load_settings",
    "parse_config", "parse_settings", "queue_config", "read_file", "ring_policy", "validate_toml",
]


class ConfigFileError(ConfigurationError):
    """A configuration file is invalid; the message names the file and the entry."""

    def __init__(self, source: str, entry: str, problem: str) -> None:
        super().__init__(entry, problem)
        self.source = source
        self.args = (f"{source}: {entry}: {problem}",)


M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageModel(_Model):
    after: float = Field(0.0, ge=0, description="seconds in the queue before this stage applies")
    require: dict[str, StrictInt] = Field(default_factory=dict)


class QueueModel(_Model):
    strategy: str = "least-idle"
    options: dict[str, Any] = Field(default_factory=dict)
    #: Either one requirement ``{billing = 5}`` or stages ``[{after = 0, require = {...}}, ...]``.
    skills: dict[str, StrictInt] | list[StageModel] = Field(default_factory=dict)
    priority: float = 0.0
    max_size: int | None = Field(None, ge=0)
    max_wait_s: float | None = Field(None, gt=0)
    on_max_wait: str = "hangup"
    on_full: str = "hangup"
    on_closed: str = "hangup"
    timezone: str = "UTC"
    hours: dict[str, list[str]] | None = None
    holidays: list[str] = Field(default_factory=list)
    service_level_s: float = Field(20.0, ge=0)
    wrap_up_s: float = Field(10.0, ge=0)
    ring_timeout_s: float = Field(20.0, gt=0)
    music: str = "default"


class AgentModel(_Model):
    name: str = ""
    endpoint: str = ""
    queues: list[str] = Field(default_factory=list)
    skills: dict[str, StrictInt] = Field(default_factory=dict)


class TrunkModel(_Model):
    capacity: int | None = Field(None, ge=0)


class RingModel(_Model):
    max_misses: int = Field(3, ge=1)
    reserve_timeout_s: float = Field(5.0, gt=0)
    retry_s: dict[Literal["no-answer", "busy", "rejected", "unreachable"], float] = Field(
        default_factory=dict
    )


class BusModel(_Model):
    """``[bus]``: the MQTT broker events go to. The password may instead come from the
    environment (``CTI_BUS_PASSWORD``), which wins, so it need not sit in the file."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = Field(None, repr=False)  # never in a log line
    client_id: str = "cti-server"
    format: Literal["msgpack", "json"] = "msgpack"
    #: Events kept while the broker is slow or down; beyond it the oldest are dropped (counted).
    outbox_capacity: int = Field(100_000, ge=1)
    keepalive_s: int = Field(30, ge=5)


class MetricsModel(_Model):
    """``[metrics]``: the former Prometheus endpoint's address, kept as an alias of ``[http]``
    (its host and port become the HTTP server's) so that existing files keep working."""

    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)  # 0: any free port


class HttpModel(_Model):
    """``[http]``: the daemon's one HTTP server: Prometheus ``/metrics``, the JSON API, the
    live stream and the wallboard. The token may instead come from ``CTI_HTTP_TOKEN``, which
    wins; a host other than loopback requires one."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port
    #: Bearer token asked of every client that is not on this machine (loopback).
    token: str | None = Field(None, repr=False, min_length=16)  # never in a log line
    #: How often the server takes a statistics snapshot for the live stream; the routing core
    #: is never asked for one per call.
    sample_s: float = Field(1.0, ge=0.05, le=60)


class ThresholdModel(_Model):
    """Where a figure turns amber and then red. A figure whose amber is above its red (service
    level) is worse when lower."""

    amber: float
    red: float


class ThresholdsModel(_Model):
    waiting: ThresholdModel = ThresholdModel(amber=5, red=10)
    longest_wait_s: ThresholdModel = ThresholdModel(amber=60, red=120)
    service_level: ThresholdModel = ThresholdModel(amber=0.8, red=0.7)
    asa_s: ThresholdModel = ThresholdModel(amber=20, red=40)
    abandon_rate: ThresholdModel = ThresholdModel(amber=0.05, red=0.1)
    #: An agent's time in not ready.
    not_ready_s: ThresholdModel = ThresholdModel(amber=900, red=1800)


class WallboardModel(_Model):
    """``[wallboard]``: what the wallboard page shows and when a figure turns amber or red."""

    title: str = ""
    #: Where "today" starts and the chart's intervals fall (default: the server's local time).
    timezone: str | None = None
    #: The chart's interval; it divides the day.
    interval_min: int = Field(30, ge=1, le=1440)
    thresholds: ThresholdsModel = ThresholdsModel()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("interval_min")
    @classmethod
    def _divides_the_day(cls, value: int) -> int:
        if 1440 % value:
            raise ValueError("must divide the day (1440 minutes): 5, 10, 15, 30, 60, ...")
        return value


class StoreModel(_Model):
    """``[store]``: where call records, agent state history and tickets are kept. The URL may
    instead come from the environment (``CTI_DATABASE_URL``), which wins."""

    url: str = "sqlite+aiosqlite:///cti.sqlite"
    #: After a hard kill, at most this much of the latest records can be missing.
    flush_interval_s: float = Field(1.0, gt=0)


class TicketsModel(_Model):
    """``[tickets]``: which calls become tickets, and when a new one merges into an open one."""

    #: A caller who hung up after waiting at least this long gets a callback ticket (kind
    #: ``abandoned``); 0: every abandoned call; set it to -1 to turn the trigger off.
    abandoned_after_s: float = Field(60.0, ge=-1)
    #: A ticket of the same kind for the same caller within this window updates the open one.
    merge_window_s: float = Field(86_400.0, ge=0)
    #: Wrap-up dispositions that open a follow-up ticket for the call.
    follow_up: list[str] = Field(default_factory=lambda: ["callback-needed", "escalate"])


class IvrModel(_Model):
    """``[ivr]``: the IVR flows callers meet first, and the data their lookups ask."""

    #: Flow files and map files (``docs/ivr.md``), relative to this file; each flow's numbers
    #: (``flow.numbers``, or a map's ``[numbers]``) enter it.
    flows: list[str] = Field(default_factory=list)
    #: ``[ivr.sources.NAME]``: the records of data source NAME by key (a key not listed is
    #: "not found"). ``customer`` is the store's customer table unless given here.
    sources: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)


class DaemonModel(_Model):
    """``[daemon]``: how the daemon runs."""

    #: On SIGTERM, how long to wait for the outbox to drain to the broker.
    shutdown_flush_s: float = Field(5.0, ge=0)


class FreeswitchModel(_Model):
    """``[freeswitch]``: the FreeSWITCH Event Socket the daemon takes calls from (README, "Run
    beside FreeSWITCH"). The password may come from ``CTI_FREESWITCH_PASSWORD``, which wins."""

    host: str = "127.0.0.1"
    port: int = Field(8021, ge=1, le=65535)
    password: str = Field("ClueCon", repr=False)  # FreeSWITCH's own default; never logged
    #: Dialed numbers the ACD owns; empty: every channel the dialplan parks is the ACD's.
    destinations: list[str] = Field(default_factory=list)
    context: str = "default"  # dialplan context for transfers to outside numbers
    music: str = "local_stream://moh"  # music on hold for queues whose music is "default"
    prompts: str = "/usr/share/freeswitch/sounds/cti"  # {prompts}/{name}.wav
    say_language: str = "en"  # mod_say's language for what an IVR speaks
    recordings: str = "/var/lib/freeswitch/recordings/cti"
    record_calls: bool = False  # record every answered call; the path goes in its record
    callback_endpoint: str = "sofia/gateway/pstn/{number}"
    trunk: str = "default"  # for channels without a cti_trunk variable
    #: Events buffered between the socket reader and the switchboard; beyond it they are
    #: dropped (counted) and the adapter resyncs with FreeSWITCH's channel list.
    event_queue: int = Field(10_000, ge=100)
    #: No frame for this long (FreeSWITCH sends HEARTBEAT every 20 s): the link is dead.
    heartbeat_timeout_s: float = Field(60.0, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)


class SipModel(_Model):
    """``[sip]``: the ACD as a SIP redirect server (``adapters/sip/redirect_server.py`` says
    what this mode cannot know). Agents' endpoints must be SIP URIs (``sip:1001@10.0.0.5``)."""

    host: str = "127.0.0.1"
    port: int = Field(5060, ge=0, le=65535)  # 0: any free port
    transport: Literal["udp", "tcp", "both"] = "udp"
    #: Final status per hang-up cause (``closed``, ``queue-full``, ``rejected``, ``no-route``,
    #: ``timeout``...); causes not listed keep the adapter's defaults.
    responses: dict[str, int] = Field(default_factory=dict)
    #: Re-send 182 Queued this often; a proxy gives up after ~3 minutes without one.
    provisional_refresh_s: float = Field(30.0, gt=0, le=60)
    #: Expected wait in the 182's reason phrase, per caller ahead.
    wait_per_position_s: float = Field(30.0, ge=0)

    @field_validator("responses")
    @classmethod
    def _final_statuses(cls, v: dict[str, int]) -> dict[str, int]:
        return _final_statuses(v)


def _final_statuses(v: dict[str, int]) -> dict[str, int]:
    bad = [f"{k}={s}" for k, s in v.items() if not 300 <= s <= 699]
    if bad:
        raise ValueError(f"final statuses are 300-699, not {', '.join(bad)}")
    return v


class KamailioModel(_Model):
    """``[kamailio]``: Kamailio in front of the ACD in evapi mode (docs/kamailio.md): the ACD
    connects to Kamailio's evapi socket, answers its routing requests and follows its dialog
    events. Agents' endpoints must be SIP URIs."""

    host: str = "127.0.0.1"  # Kamailio's evapi bind_addr
    port: int = Field(8448, ge=1, le=65535)
    #: Final status per hang-up cause, as in ``[sip]``; causes not listed keep the defaults.
    responses: dict[str, int] = Field(default_factory=dict)
    #: Kamailio's ring timer for an agent is the queue's ring_timeout_s less this, so that
    #: Kamailio, which can cancel the branch itself, normally ends an unanswered ring first.
    ring_margin_s: float = Field(1.0, ge=0)
    #: How long an agent's phone may take to answer the INVITE at all (Kamailio's fr_timer).
    provisional_timeout_s: float = Field(5.0, gt=0)
    #: Expected wait in the 182's reason phrase, per caller ahead.
    wait_per_position_s: float = Field(30.0, ge=0)
    #: Largest frame taken from Kamailio; a longer one resets the link. A routing request
    #: carries the INVITE's header block (up to 64 KiB) JSON-escaped, hence the room.
    max_message_bytes: int = Field(1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    reconnect_max_s: float = Field(30.0, gt=0)
    trunk: str = "default"

    @field_validator("responses")
    @classmethod
    def _final_statuses(cls, v: dict[str, int]) -> dict[str, int]:
        return _final_statuses(v)


class ConfigModel(_Model):
    site: str = "default"
    seed: int = 0
    default_queue: str | None = None
    blacklist: list[str] = Field(default_factory=list)
    vip_priority_boost: float = 5.0
    customer_lookup: bool = False
    lookup_timeout_s: float = Field(1.0, gt=0)
    numbers: dict[str, str] = Field(default_factory=dict)
    ring: RingModel = RingModel()
    trunks: dict[str, TrunkModel] = Field(default_factory=dict)
    queues: dict[str, QueueModel] = Field(min_length=1)
    agents: dict[str, AgentModel] = Field(default_factory=dict)
    bus: BusModel | None = None
    metrics: MetricsModel | None = None
    http: HttpModel | None = None
    wallboard: WallboardModel = WallboardModel()
    store: StoreModel | None = None
    tickets: TicketsModel = Field(default_factory=TicketsModel)
    daemon: DaemonModel = DaemonModel()
    freeswitch: FreeswitchModel | None = None
    sip: SipModel | None = None
    kamailio: KamailioModel | None = None
    ivr: IvrModel | None = None


def load_config(path: str | Path) -> SwitchboardConfig:
    """Read and validate a TOML configuration file."""
    path = Path(path)
    return parse_config(read_file(path, ConfigFileError), source=str(path))


def read_file(path: Path, error: type[ConfigFileError]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(str(path), "(file)", f"cannot read: {exc.strerror}") from exc


def validate_toml(
    text: str, model: type[M], *, source: str, error: type[ConfigFileError]
) -> M:
    """TOML text to a validated ``model``; the first problem becomes ``error`` naming the file,
    the entry as a dotted path, and what is wrong (how many more there are, too)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(source, "(syntax)", str(exc)) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        err = errors[0]
        entry = ".".join(str(part) for part in err["loc"]) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        msg = err["msg"].removeprefix("Value error, ")  # our own validators' messages
        raise error(source, entry, f"{msg}{more}") from exc


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a configuration file says: the switchboard's part and the daemon's."""

    switchboard: SwitchboardConfig
    bus: BusModel | None
    daemon: DaemonModel
    source: str
    metrics: MetricsModel | None = None
    store: StoreModel | None = None
    tickets: TicketsModel = field(default_factory=TicketsModel)
    freeswitch: FreeswitchModel | None = None
    sip: SipModel | None = None
    http: HttpModel | None = None
    wallboard: WallboardModel = field(default_factory=WallboardModel)
    kamailio: KamailioModel | None = None
    ivr: IvrModel | None = None


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read a configuration file for the daemon; secrets from the environment win."""
    path = Path(path)
    return parse_settings(read_file(path, ConfigFileError), source=str(path), environ=environ)


def parse_settings(
    text: str, *, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> Settings:
    env = os.environ if environ is None else environ
    model = validate_toml(text, ConfigModel, source=source, error=ConfigFileError)
    bus = model.bus
    if bus is not None and (env.get("CTI_BUS_PASSWORD") or env.get("CTI_BUS_USERNAME")):
        bus = bus.model_copy(update={
            "password": env.get("CTI_BUS_PASSWORD", bus.password),
            "username": env.get("CTI_BUS_USERNAME", bus.username),
        })
    store = model.store
    if env.get("CTI_DATABASE_URL"):
        store = (store or StoreModel()).model_copy(update={"url": env["CTI_DATABASE_URL"]})
    freeswitch = model.freeswitch
    pbxs = [name for name in ("freeswitch", "sip", "kamailio")
            if getattr(model, name) is not None]
    if len(pbxs) > 1:
        raise ConfigFileError(source, pbxs[1], "a daemon serves one PBX: [freeswitch], [sip] "
                              "or [kamailio] (Kamailio with uac_redirect in front of the "
                              "redirect server is [sip] alone)")
    if freeswitch is not None and env.get("CTI_FREESWITCH_PASSWORD"):
        freeswitch = freeswitch.model_copy(update={"password": env["CTI_FREESWITCH_PASSWORD"]})
    return Settings(_checked(model, source), bus, model.daemon, source, model.metrics, store,
                    model.tickets, freeswitch, model.sip, _http(model, source, env),
                    model.wallboard, model.kamailio, ivr=model.ivr)


#: Hosts that count as this machine: no token is asked of clients there.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _http(model: ConfigModel, source: str, env: Mapping[str, str]) -> HttpModel | None:
    """``[http]``, or ``[metrics]`` as its alias (the HTTP server took over ``/metrics``)."""
    http = model.http
    if model.metrics is not None:
        if http is not None:
            raise ConfigFileError(source, "metrics", "merged into [http], which serves "
                                  "/metrics now: move host and port there and remove [metrics]")
        http = HttpModel(host=model.metrics.host, port=model.metrics.port)
    if http is None:
        return None
    token = env.get("CTI_HTTP_TOKEN")
    if token:
        if len(token) < 16:  # as [http] token: too short to be worth guessing at
            raise ConfigFileError(source, "CTI_HTTP_TOKEN", "at least 16 characters")
        http = http.model_copy(update={"token": token})
    if http.token is None and http.host not in LOOPBACK_HOSTS \
            and not http.host.startswith("127."):
        entry = "http.token" if model.http is not None else "metrics.host"
        raise ConfigFileError(source, entry, f"the HTTP server listens on {http.host}, beyond "
                              "this machine: it needs a bearer token ([http] token, or "
                              "CTI_HTTP_TOKEN)")
    return http


def parse_config(text: str, *, source: str = "<config>") -> SwitchboardConfig:
    """Validate TOML text; ``source`` names it in error messages."""
    model = validate_toml(text, ConfigModel, source=source, error=ConfigFileError)
    return _checked(model, source)


def _checked(model: ConfigModel, source: str) -> SwitchboardConfig:
    try:
        config = _to_core(model, source)
        config.validate()
    except ConfigurationError as exc:
        raise ConfigFileError(source, exc.entry, exc.problem) from exc
    except acd.ConfigError as exc:
        raise ConfigFileError(source, exc.entry, exc.problem) from exc
    return config


def _to_core(model: ConfigModel, source: str) -> SwitchboardConfig:
    queues = tuple(queue_config(name, q) for name, q in model.queues.items())
    agents = tuple(
        AgentConfig(
            agent_id=agent_id, name=a.name, skills=dict(a.skills), queues=tuple(a.queues),
            endpoint=a.endpoint or f"user/{agent_id}",
        )
        for agent_id, a in model.agents.items()
    )
    return SwitchboardConfig(
        site=model.site,
        queues=queues,
        agents=agents,
        trunks=tuple(TrunkConfig(name, t.capacity) for name, t in model.trunks.items()),
        numbers=dict(model.numbers),
        default_queue=model.default_queue,
        blacklist=frozenset(model.blacklist),
        vip_priority_boost=model.vip_priority_boost,
        customer_lookup=model.customer_lookup,
        lookup_timeout_s=model.lookup_timeout_s,
        ring=ring_policy(model.ring),
        seed=model.seed,
        flows=_flows(model.ivr, source),
    )


def _flows(section: IvrModel | None, source: str) -> dict[str, ivr.Flow]:
    """The flows of ``[ivr] flows`` by dialed number; every problem of every file is named."""
    if section is None or not section.flows:
        return {}
    base = Path(source).parent
    try:
        return dict(ivr.load_flows(*(base / name for name in section.flows)).flows)
    except ivr.FlowError as exc:
        raise ConfigurationError("ivr.flows", "; ".join(map(str, exc.problems))) from exc


def ring_policy(ring: RingModel) -> RingPolicy:
    retry = dict(RingPolicy().retry_s)
    retry.update({LegFailure(cause): secs for cause, secs in ring.retry_s.items()})
    return RingPolicy(
        max_misses=ring.max_misses, retry_s=retry, reserve_timeout_s=ring.reserve_timeout_s
    )


def queue_config(name: str, q: QueueModel) -> QueueConfig:
    """The core queue configuration a validated ``[queues.NAME]`` table describes."""
    where = f"queues.{name}"
    if isinstance(q.skills, dict):
        stages: list[tuple[float, dict[str, int]]] = [(0.0, dict(q.skills))]
    else:
        stages = [(s.after, dict(s.require)) for s in q.skills]
    return QueueConfig(
        name=name,
        strategy=q.strategy,
        options=dict(q.options),
        skills=acd.SkillSchedule.parse(f"{where}.skills", stages),
        priority=q.priority,
        max_size=q.max_size,
        max_wait_s=q.max_wait_s,
        on_max_wait=Target.parse(f"{where}.on_max_wait", q.on_max_wait),
        on_full=Target.parse(f"{where}.on_full", q.on_full),
        on_closed=Target.parse(f"{where}.on_closed", q.on_closed),
        calendar=BusinessCalendar.parse(
            entry=where, timezone=q.timezone, hours=q.hours, holidays=q.holidays
        ),
        service_level_s=q.service_level_s,
        wrap_up_s=q.wrap_up_s,
        ring_timeout_s=q.ring_timeout_s,
        music=q.music,
    )
