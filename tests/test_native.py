"""The compiled build's bookkeeping (``cti.native``): what runs compiled, what is stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cti import native


def test_every_module_to_compile_exists() -> None:
    root = Path(native.__file__).resolve().parent.parent
    missing = [path for path in native.NATIVE if not (root / path).is_file()]
    assert missing == []


def test_compiled_lists_only_modules_of_the_build() -> None:
    names = {p.removesuffix(".py").replace("/", ".") for p in native.NATIVE}
    assert set(native.compiled()) <= names


def test_ci_runs_the_compiled_build() -> None:
    # .ci/run builds with CTI_COMPILE=1: the suite must then run against what ships.
    if not os.environ.get("CI"):
        pytest.skip("only CI is required to run the compiled build")
    assert native.compiled() == [p.removesuffix(".py").replace("/", ".") for p in native.NATIVE]


def test_an_extension_older_than_its_source_is_stale(tmp_path: Path) -> None:
    source = tmp_path / native.NATIVE[0]
    source.parent.mkdir(parents=True)
    source.write_text("x = 1\n")
    ext = source.parent / f"{source.stem}.cpython-311-x86_64-linux-gnu.so"
    ext.write_bytes(b"")
    os.utime(ext, (1_000, 1_000))
    os.utime(source, (2_000, 2_000))
    assert native.stale(tmp_path) == [str(ext.relative_to(tmp_path))]
    os.utime(ext, (3_000, 3_000))
    assert native.stale(tmp_path) == []
