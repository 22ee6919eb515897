"""DESIGN.md §3: the pure core (acd, ivr, cti.core) imports no I/O and no shells."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "asyncio", "socket", "selectors", "ssl", "sqlalchemy", "aiosqlite", "aiomqtt", "paho",
    "uvloop", "prometheus_client", "msgpack", "adapters", "sim", "benchmarks",
}
# What each pure package may import from this project.
ALLOWED_OWN = {"acd": {"acd"}, "ivr": {"ivr"}, "cti/core": {"acd", "ivr", "cti"}}
OWN = {"acd", "ivr", "cti", "adapters", "sim", "benchmarks"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED_OWN))
def test_pure_packages_import_no_io(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            own_ok = top not in OWN or top in ALLOWED_OWN[package]
            core_only = top != "cti" or module.startswith("cti.core")
            if top in FORBIDDEN or not own_ok or not core_only:
                bad.append(f"{path.relative_to(ROOT)}:{line}: import {module}")
    assert bad == [], "\n".join(bad)


def test_acd_needs_only_the_standard_library() -> None:
    # Compared with what was loaded before (site hooks such as editable-install finders).
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import acd\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        # mypyc's shared library of the compiled modules (setup.py) is ours, not a dependency.
        "new = {m for m in new if not m.endswith('__mypyc')}\n"
        "print(','.join(sorted(new - set(sys.stdlib_module_names) - {'acd'})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_core_does_not_pull_in_io_at_run_time() -> None:
    code = (
        "import sys, cti.core\n"
        f"print(','.join(sorted(m for m in {sorted(FORBIDDEN)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
