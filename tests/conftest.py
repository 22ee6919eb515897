"""Fixtures shared by the test files: a real Mosquitto on a free loopback port. And a check
before anything runs that no compiled extension is older than its source (``cti.native``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import Mosquitto

from cti import native


def pytest_sessionstart(session: pytest.Session) -> None:
    old = native.stale()
    if old:
        raise pytest.UsageError(
            "compiled extensions older than their source (the tests would run the old code): "
            + ", ".join(old)
            + "; rebuild with `pip install -e .` or delete them"
        )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker for one test, stopped (by its pid) afterwards."""
    m = Mosquitto(tmp_path)
    m.start()
    try:
        yield m
    finally:
        m.stop()
