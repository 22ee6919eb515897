"""cti.core: the switchboard. Sans-IO and synchronous: time is an argument, events go in,
commands and notifications come out. The daemon, the simulator and the benchmarks all drive
this same code."""

from cti.core.agent import Agent, AgentInput, AgentState, AgentStatistics
from cti.core.calendar import BusinessCalendar
from cti.core.call import Call, CallInput, CallState, Disposition
from cti.core.commands import (
    Announce,
    CancelOffer,
    CollectDigits,
    Command,
    ConnectAgent,
    HangUp,
    LookupCustomer,
    LookupData,
    ParkWithMusic,
    PbxCommand,
    Play,
    PlayPrompt,
    PromptFile,
    Record,
    Redirect,
    SayValue,
    SetHold,
)
from cti.core.config import (
    AgentConfig,
    QueueConfig,
    RingPolicy,
    SwitchboardConfig,
    Target,
    TargetKind,
    TrunkConfig,
)
from cti.core.errors import (
    ConfigurationError,
    CtiError,
    InvalidTransition,
    LocalProtocolError,
    RemoteProtocolError,
)
from cti.core.events import (
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegRinging,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    CallArrived,
    CallHungUp,
    CustomerLookupDone,
    DataLookupDone,
    DataLookupFailed,
    DigitsEntered,
    DigitsTimedOut,
    Event,
    ForceQueue,
    HoldCall,
    LegFailure,
    PromptDone,
    RecordingDone,
    RecordingStarted,
    TransferCall,
    WrapUpDone,
)
from cti.core.notifications import (
    AgentStateChanged,
    CallEnded,
    Notification,
    QueueStats,
    ScreenPop,
    TicketCreated,
    TicketUpdated,
)
from cti.core.queue import Queue, QueueInput, QueueState, QueueStatistics
from cti.core.records import EMPTY, CallRecord, CustomerRecord, Phase
from cti.core.statistics import SwitchboardStatistics
from cti.core.switchboard import Output, Switchboard
from cti.core.trunk import Trunk, TrunkInput, TrunkState, TrunkStatistics

__all__ = [
    "EMPTY", "Agent", "Announce", "CollectDigits", "DataLookupDone", "DataLookupFailed",
    "DigitsEntered", "DigitsTimedOut", "LookupData", "PlayPrompt", "PromptDone", "PromptFile",
    "SayValue", "AgentConfig", "AgentInput", "AgentLegAnswered", "AgentLegFailed",
    "AgentLegRinging", "AgentLogin", "AgentLogout", "AgentNotReady", "AgentReady", "AgentState",
    "AgentStateChanged", "AgentStatistics", "BusinessCalendar", "Call", "CallArrived",
    "CallEnded", "CallHungUp", "CallInput", "CallRecord", "CallState", "CancelOffer", "Command",
    "ConfigurationError", "ConnectAgent", "CtiError", "CustomerLookupDone", "CustomerRecord",
    "Disposition", "Event", "ForceQueue", "HangUp", "HoldCall", "InvalidTransition", "LegFailure",
    "LocalProtocolError", "LookupCustomer", "Notification", "Output", "ParkWithMusic",
    "PbxCommand", "Phase", "Play", "Queue", "QueueConfig", "QueueInput", "QueueState",
    "QueueStatistics", "QueueStats", "Record", "RecordingDone", "RecordingStarted", "Redirect",
    "RemoteProtocolError",
    "RingPolicy", "ScreenPop", "SetHold", "Switchboard", "SwitchboardConfig",
    "SwitchboardStatistics", "Target", "TargetKind", "TicketCreated", "TicketUpdated",
    "TransferCall", "Trunk",
    "TrunkConfig", "TrunkInput", "TrunkState", "TrunkStatistics", "WrapUpDone",
]
