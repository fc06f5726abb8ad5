"""Which prefilter the engine runs (detectors/sigma/native.py): the compiled copy of prefilter.py only
when it was built from the source as it is now, the pure-Python module otherwise or when asked."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import pytest
from sigma_helpers import compiled_prefilter, rule_yaml

from detectors.sigma import native, prefilter

NATIVE = "detectors.sigma._prefilter_native"


def test_the_install_compiled_the_current_prefilter() -> None:
    """bootstrap.sh (pip install -e .) compiled prefilter.py with mypyc (hatch_build.py), and the copy
    is of the source as it is: the engine runs it."""
    compiled = compiled_prefilter()
    assert native.source_digest() == compiled.SOURCE_SHA256
    assert native.prefilter_module() is compiled


def test_pure_python_when_asked(monkeypatch: pytest.MonkeyPatch, make_engine: Any) -> None:
    monkeypatch.setenv(native.PURE_ENV, "1")
    assert native.prefilter_module() is prefilter
    engine = make_engine(rule_yaml("sel:\n  Image|endswith: '\\a.exe'\ncondition: sel"))
    assert engine._bucket_type is prefilter.Bucket


def test_a_copy_compiled_from_another_source_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """prefilter.py edited since the last install: the engine runs the source, not the old copy."""
    stale = ModuleType(NATIVE)
    stale.SOURCE_SHA256 = "0" * 64  # type: ignore[attr-defined]
    stale.Bucket = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, NATIVE, stale)
    monkeypatch.delenv(native.PURE_ENV, raising=False)
    assert native.compiled() is None
    assert native.prefilter_module() is prefilter


def test_pure_python_when_nothing_was_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """An install without a C compiler has no compiled copy: the import fails, the source runs."""
    monkeypatch.setitem(sys.modules, NATIVE, None)  # import then raises ImportError
    monkeypatch.delenv(native.PURE_ENV, raising=False)
    assert native.prefilter_module() is prefilter
