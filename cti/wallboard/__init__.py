"""The wallboard page: plain HTML, CSS and JavaScript, served by the daemon (``cti.web``) as
they are (no build step, nothing fetched from elsewhere at run time)."""

from pathlib import Path

__all__ = ["STATIC"]

#: The page's files.
STATIC = Path(__file__).resolve().parent / "static"
