"""The data sources IVR flows ask (``LookupData``), answered off the hot path.

``customer`` is the store's customer table, keyed by phone number (the record's fields:
``customer_id``, ``name``, ``vip``, ``account_manager`` and the imported columns); any other
source is a fixture table of the configuration, ``[ivr.sources.NAME]``, whose keys are the
looked-up values. A source that is neither fails with a log line naming it, and the flow takes
its ``fallback`` branch. Answers go back to the switchboard as events (``DataLookupDone``,
``DataLookupFailed``), never synchronously from inside the step that asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.core import DataLookupDone, DataLookupFailed, Event, LookupData
from cti.store.customers import lookup_customer

__all__ = ["DataSources"]

log = logging.getLogger("cti.ivr")

#: The source the store answers.
CUSTOMER = "customer"


class DataSources:
    def __init__(
        self,
        tables: Mapping[str, Mapping[str, Mapping[str, Any]]],
        engine: AsyncEngine | None,
        answer: Callable[[Event], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        """``answer`` submits an event to the switchboard; ``spawn`` runs a coroutine under the
        daemon's tasks."""
        self.tables = tables
        self.engine = engine
        self._answer = answer
        self._spawn = spawn
        #: Sources asked for that nothing answers, each logged once (a flow asks on every call).
        self._missing: set[str] = set()

    def look_up(self, cmd: LookupData) -> None:
        loop = asyncio.get_running_loop()
        table = self.tables.get(cmd.source)
        if table is not None:
            record = table.get(cmd.key)
            loop.call_soon(self._answer, DataLookupDone(cmd.call_id, cmd.request, record))
        elif cmd.source == CUSTOMER and self.engine is not None:
            self._spawn(self._customer(cmd, self.engine))
        else:
            if cmd.source not in self._missing:
                self._missing.add(cmd.source)
                log.warning("IVR lookup of source %r (call %s): no such source; give it as "
                            "[ivr.sources.%s] (or a [store] for 'customer'); the flow takes "
                            "its fallback", cmd.source, cmd.call_id, cmd.source)
            loop.call_soon(self._answer, DataLookupFailed(cmd.call_id, cmd.request,
                                                         f"unknown source {cmd.source!r}"))

    async def _customer(self, cmd: LookupData, engine: AsyncEngine) -> None:
        try:
            found = await lookup_customer(engine, cmd.key)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("IVR customer lookup for call %s failed: %s", cmd.call_id, exc)
            self._answer(DataLookupFailed(cmd.call_id, cmd.request, str(exc)))
            return
        record = None if found is None else {
            **found.data, "customer_id": found.customer_id, "name": found.name,
            "vip": found.vip, "account_manager": found.account_manager,
        }
        self._answer(DataLookupDone(cmd.call_id, cmd.request, record))
