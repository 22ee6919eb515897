"""Fixtures shared by the test files: a real Mosquitto on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker for one test, stopped (by its pid) afterwards."""
    m = Mosquitto(tmp_path)
    m.start()
    try:
        yield m
    finally:
        m.stop()
