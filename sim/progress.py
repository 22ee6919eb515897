"""A progress bar on stderr for long runs: one line redrawn in place, only on a terminal (so
logs and CI output stay clean), at most a few times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.monotonic()
        self._last = -1.0
        self._drawn_at = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1.0 and (now - self._drawn_at < 0.2 or fraction - self._last < 0.001):
            return
        self._last, self._drawn_at = fraction, now
        filled = int(self.width * fraction)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = now - self.started
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        tail = f"{elapsed:5.1f} s" if fraction >= 1.0 else f"eta {eta:5.1f} s"
        self.stream.write(f"\r{self.label} [{bar}] {100 * fraction:5.1f}% {tail}")
        if fraction >= 1.0:
            self.stream.write("\n")
        self.stream.flush()
