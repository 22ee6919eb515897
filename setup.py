"""Build hook: compile the call path with mypyc (everything else stays in pyproject.toml).

The modules in ``cti.native.NATIVE`` are the ones every call goes through: the switchboard and
its machines, the router and its indexes, and the simulator's virtual-time loop. mypyc compiles
them from the same type-checked source to C extensions, which run the simulator and the
daemon's routing several times faster (``benchmarks/sim_speed.py``); the behaviour is the
source's, and the test suite runs against the compiled build in CI.

Every install compiles (pyproject.toml puts mypy and pydantic, which mypy reads while it
compiles, in the build environment). ``CTI_COMPILE=0`` builds pure Python; ``CTI_COMPILE=1``
insists on the compiled build, as CI does. Unset, a build environment without mypy
(``--no-build-isolation`` in a bare environment) falls back to pure Python with a warning.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import setup

#: The modules to compile (``cti/native.py``, read by path: the package is not importable yet).
NATIVE = runpy.run_path(str(Path(__file__).parent / "cti" / "native.py"))["NATIVE"]


def _extensions() -> list[object]:
    wanted = os.environ.get("CTI_COMPILE", "")
    if wanted == "0":
        return []
    try:
        from mypyc.build import mypycify  # noqa: PLC0415 - only a compiled build needs it
    except ImportError as exc:
        if wanted == "1":
            raise SystemExit(
                "CTI_COMPILE=1 but mypyc (mypy) is not in the build environment"
            ) from exc
        print("cti-server: mypy not found, building pure Python", file=sys.stderr)
        return []
    return list(mypycify(list(NATIVE), opt_level="3", debug_level="1", group_name="cti_native"))


setup(ext_modules=_extensions())
