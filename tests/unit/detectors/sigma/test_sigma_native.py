"""Which prefilter and matchers the engine runs (detectors/sigma/native.py): the compiled copy of
prefilter.py (matchers.py) only when it was built from the source as it is now, the pure-Python module
otherwise or when asked."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import pytest
from sigma_helpers import compiled_module, compiled_prefilter, rule_yaml

from detectors.sigma import matchers, native, prefilter

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


def test_the_install_compiled_the_current_matchers(make_engine: Any) -> None:
    """matchers.py is compiled too, and the rules' closures are then the compiled copy's."""
    compiled = compiled_module(native.MATCHERS)
    assert native.source_digest(native.MATCHERS) == compiled.SOURCE_SHA256
    assert native.matchers_module() is compiled
    engine = make_engine(rule_yaml("sel:\n  Image|endswith: '\\a.exe'\n  User: x\ncondition: sel"))
    assert engine.match(
        {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "c:\\A.exe", "User": "X"}
    )
    assert type(engine.rules[0].node.fn).__module__ == native.native_name(native.MATCHERS)


def test_pure_python_matchers_when_asked_or_stale(monkeypatch: pytest.MonkeyPatch, make_engine: Any) -> None:
    monkeypatch.setenv(native.PURE_ENV, "1")
    assert native.matchers_module() is matchers
    engine = make_engine(rule_yaml("sel:\n  Image|endswith: '\\a.exe'\n  User: x\ncondition: sel"))
    assert engine.rules[0].node.fn.__module__ == matchers.__name__
    monkeypatch.delenv(native.PURE_ENV)
    stale = ModuleType(native.native_name(native.MATCHERS))
    stale.SOURCE_SHA256 = "0" * 64  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, native.native_name(native.MATCHERS), stale)
    assert native.matchers_module() is matchers
