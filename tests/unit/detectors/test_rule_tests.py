"""Every shipped rule has test cases beside it, and they all pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detectors.build import build_engine
from detectors.rule_tests import SUFFIX, run_rule_tests
from socpipe.paths import rules_dir
from socpipe.settings import load_settings

SIGMA_DIR = rules_dir() / "sigma"


def test_every_shipped_rule_has_tests() -> None:
    """A rule without positive and negative cases beside it does not ship."""
    for rule in sorted(SIGMA_DIR.rglob("*.yml")):
        tests = rule.with_name(rule.stem + SUFFIX)
        assert tests.is_file(), f"{rule} has no {tests.name}"
        cases = json.loads(tests.read_text())
        assert any(c["fire"] for c in cases), f"{tests.name}: no case where the rule must fire"
        assert any(not c["fire"] for c in cases), f"{tests.name}: no case where it must stay quiet"


def test_shipped_rule_tests_pass() -> None:
    """Each case fires exactly the rules it names."""
    results = run_rule_tests(build_engine(load_settings()), [SIGMA_DIR])
    assert results
    failures = [
        f"{r.path}: {r.name}: expected {r.expected}, fired {r.fired}" for r in results if not r.passed
    ]
    assert not failures, "\n".join(failures)


def test_a_wrong_expectation_is_reported(tmp_path: Path) -> None:
    """The runner can fail: a case expecting the wrong rule is reported as failed."""
    bad = tmp_path / f"x{SUFFIX}"
    bad.write_text(json.dumps([{"name": "n", "event": {"EventID": 1102, "Channel": "Security"}, "fire": []}]))
    [result] = run_rule_tests(build_engine(load_settings()), [bad])
    assert not result.passed and result.fired == ["9c2d4e5f-6a7b-4c8d-9e0f-1a2b3c4d0c04"]


@pytest.mark.parametrize("path", sorted(SIGMA_DIR.rglob(f"*{SUFFIX}")), ids=lambda p: p.name)
def test_rule_test_files_are_valid(path: Path) -> None:
    """Each test file parses and names rule ids that exist."""
    ids = {
        line.split(":", 1)[1].strip()
        for r in SIGMA_DIR.rglob("*.yml")
        for line in r.read_text().splitlines()
        if line.startswith("id:")
    }
    for case in json.loads(path.read_text()):
        assert set(case["fire"]) <= ids, f"{path.name}: {case['name']} names an unknown rule"
