"""``mypyc_attr`` for the compiled build, without a dependency at run time.

mypyc (``cti/native.py``) reads the decorator from ``mypy_extensions`` while it compiles; at run
time it is a no-op here, so that ``acd`` needs nothing beyond the standard library. It lives in
a module that is never compiled: mypyc would treat the run-time branch as unreachable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

__all__ = ["mypyc_attr"]

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr
else:

    def mypyc_attr(*args: object, **kwargs: object) -> Callable[[type], type]:
        return lambda cls: cls
