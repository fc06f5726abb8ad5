"""Whole-rule memoisation (rule_memo.py): a memoised rule answers exactly like its matcher tree."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from sigma_helpers import SYSMON, compiled_module, rule_yaml

from detectors.sigma import Engine, rule_memo
from detectors.sigma.conditions import MISSING
from detectors.sigma.native import MATCHERS, PURE_ENV
from detectors.sigma.rule_memo import memoize_rule, read_names, rule_memo_state

MakeEngine = Callable[..., Engine]

SIGNED_DLL = """
sel:
  Signed: true
  SignatureStatus: Valid
meta:
  Description: ['-', '']
  Company: ['-', '']
  Product: ['-', '']
  FileVersion: ['-', '']
  OriginalFileName: ['-', '']
filter_path:
  ImageLoaded|startswith: ['C:\\\\Windows\\\\System32\\\\', 'C:\\\\Program Files\\\\']
filter_sig:
  Signature|startswith: Microsoft
condition: sel and meta and not 1 of filter_*
"""


def test_a_compiled_tree_is_not_memoised(make_engine: MakeEngine) -> None:
    """With the compiled matchers (the install's default) the tree itself is the rule's matcher: it
    costs less than the memo's key."""
    compiled_module(MATCHERS)
    engine = make_engine(rule_yaml(SIGNED_DLL, logsource="product: windows\n  category: image_load"))
    (rule,) = engine.rules
    tree = rule.node.fn  # built on first use
    assert rule.fn is tree


def test_a_costly_field_rule_matches_like_its_tree(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule like SigmaHQ's signed-DLL one is memoised when its tree runs as Python; over events
    differing in type (True, 1, 1.0, "true"), case, unicode and missing fields, asked twice (the second
    time from the memo), it answers like the unmemoised tree every time."""
    monkeypatch.setenv(PURE_ENV, "1")
    engine = make_engine(rule_yaml(SIGNED_DLL, logsource="product: windows\n  category: image_load"))
    (rule,) = engine.rules
    tree = rule.node.fn
    assert rule.fn is not tree  # memoised
    events: list[dict[str, Any]] = []
    for signed, status, image, meta in itertools.product(
        (True, 1, 1.0, "true", "TRUE", "1", None),
        ("Valid", "VALID", "valid ", "Vàlid"),
        ("C:\\Windows\\System32\\a.dll", "c:\\windows\\system32\\A.DLL", "C:\\Users\\Jürgen\\b.dll", None),
        ("-", "", "Ünknown", None),
    ):
        ev: dict[str, Any] = {
            "Channel": SYSMON,
            "EventID": 7,
            "SignatureStatus": status,
            "Signature": "Vendor",
        }
        if signed is not None:
            ev["Signed"] = signed
        if image is not None:
            ev["ImageLoaded"] = image
        if meta is not None:
            ev.update(Description=meta, Company=meta, Product=meta, FileVersion=meta, OriginalFileName=meta)
        events.append(ev)
    expected = [tree(ev) for ev in events]
    assert any(expected) and not all(expected)
    for _ in range(2):
        assert [rule.fn(ev) for ev in events] == expected
        assert [bool(engine.match(ev)) for ev in events] == expected
    assert rule_memo_state(rule.fn)["hits"] > 0


def test_keys_keep_types_apart() -> None:
    """True == 1 == 1.0 and hash alike in Python; a memo keyed by value alone would answer for one
    with another's result."""
    memo_fn = memoize_rule(lambda e: type(e.get("a")) is bool, (("a",),))
    for _ in range(3):
        assert [memo_fn({"a": v}) for v in (True, 1, "1", True, 1)] == [True, False, False, True, False]


def test_missing_and_null_are_different_keys() -> None:
    """With aliases, a null first name is present (the matcher reads it), a missing one is not."""

    def first_present(e: Mapping[str, Any]) -> bool:
        v = e.get("a", MISSING)
        return (v if v is not MISSING else e.get("b")) == "x"

    memo_fn = memoize_rule(first_present, (("a", "b"),))
    for _ in range(2):
        assert memo_fn({"b": "x"}) is True
        assert memo_fn({"a": None, "b": "x"}) is False
        assert memo_fn({"a": "x", "b": "y"}) is True
        assert memo_fn({"a": "y", "b": "x"}) is False  # first name present: b is not read


def test_floats_and_lists_are_evaluated_directly() -> None:
    calls: list[Any] = []

    def fn(e: Mapping[str, Any]) -> bool:
        calls.append(e["a"])
        return type(e["a"]) is list or str(e["a"]).startswith("-")

    memo_fn = memoize_rule(fn, (("a",),))
    assert [memo_fn({"a": v}) for v in (0.0, -0.0, 0.0, -0.0)] == [False, True, False, True]
    assert memo_fn({"a": ["-x"]}) is True and memo_fn({"a": ["-x"]}) is True
    assert len(calls) == 6  # nothing answered from the memo
    assert rule_memo_state(memo_fn)["lookups"] == 0


def test_a_memo_that_does_not_pay_switches_itself_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_memo, "TRIAL", 10)
    memo_fn = memoize_rule(lambda e: e["a"].endswith("7"), (("a",),))
    answers = [memo_fn({"a": f"unique {i}"}) for i in range(30)]
    assert answers == [str(i).endswith("7") for i in range(30)]
    assert rule_memo_state(memo_fn) == {"lookups": 10, "hits": 0, "on": False}
    repeated = memoize_rule(lambda e: e["a"] == "x", (("a",),))
    for i in range(30):
        assert repeated({"a": "x" if i % 2 else "y"}) is bool(i % 2)
    assert rule_memo_state(repeated)["on"] is True


def test_read_names_refuses_keywords_and_field_references() -> None:
    field = ("field", "Image", ("Image", "process.executable"), (("s", False, ("x",)),))
    both = ("and", (field, ("null", "User", ("User",)), field))
    assert read_names(both) == (("Image", "process.executable"), ("User",))
    assert read_names(("or", (field, ("keyword", (("s", False, ("x",)),))))) is None
    assert read_names(("not", ("ref", "A", ("A",), ("B",), False, False))) is None
