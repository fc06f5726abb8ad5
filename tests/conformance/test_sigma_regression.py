"""SigmaHQ regression samples: with ALL corpus rules loaded, each sample's rule fires enough times.

../shared/corpus/sigma-regression/manifest.json lists, per sample, a rule id and an events file on
which that rule must fire at least `expected_match_count` times (once where null). The flat events
and the nested `raw/` copies (flattened by the Windows ingest parser) must both pass, with the compiled
prefilter and with the pure-Python one (detectors/sigma/native.py). Without the corpus the suite skips
locally and fails in CI (CI=true).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from detectors.sigma import Engine, load_rules, prefilter
from detectors.sigma.naive import naive_match
from detectors.sigma.native import NO_NATIVE_ENV, PURE_ENV, compiled
from ingest.parsers.windows import flatten_windows_event
from socpipe.paths import corpus_dir

pytestmark = pytest.mark.corpus
CORPUS = corpus_dir()


def _manifest() -> list[dict[str, Any]]:
    if CORPUS is None:
        return []
    return json.loads((CORPUS / "sigma-regression" / "manifest.json").read_text())["samples"]  # type: ignore[no-any-return]


SAMPLES = _manifest()


def _need_corpus() -> Path:
    if CORPUS is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the corpus is missing: set SOCPIPE_CORPUS or provide ../shared/corpus")
        pytest.skip("corpus not found (../shared/corpus or SOCPIPE_CORPUS)")
    return CORPUS


@pytest.fixture(scope="module")
def engine() -> Engine:
    corpus = _need_corpus()
    sigma = corpus / "sigma"
    ruleset = load_rules([sigma / d for d in ("rules", "rules-threat-hunting", "rules-emerging-threats")])
    engine = Engine(ruleset)
    native = compiled()
    if not os.environ.get(NO_NATIVE_ENV):  # the install compiled the prefilter (hatch_build.py)
        assert native is not None, "the compiled prefilter is missing or stale: bash scripts/bootstrap.sh"
        assert engine._bucket_type is native.Bucket
    return engine


@pytest.fixture(scope="module")
def pure_engine(engine: Engine) -> Engine:
    """The same rules on the pure-Python prefilter, which an install without a C compiler runs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PURE_ENV, "1")
        pure = Engine(engine.ruleset)
    assert pure._bucket_type is prefilter.Bucket
    return pure


@pytest.fixture(params=["compiled", "pure"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine test runs on both prefilters."""
    return request.getfixturevalue("engine" if request.param == "compiled" else "pure_engine")  # type: ignore[no-any-return]


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_present() -> None:
    """The corpus is there (fails in CI without it) and lists the 87 samples."""
    _need_corpus()
    assert len(SAMPLES) == 87


def test_all_corpus_rules_load(engine: Engine) -> None:
    """At least 99% of the corpus rules load; every other one is listed with a reason."""
    report = engine.ruleset.report
    total = report.loaded + len(report.failed)
    assert report.loaded >= 0.99 * total, report.summary()
    assert all(p.reason for p in report.failed)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["rule_id"][:8] for s in SAMPLES])
@pytest.mark.parametrize("layout", ["events_file", "raw_events_file"])
def test_regression_sample(any_engine: Engine, sample: dict[str, Any], layout: str) -> None:
    """The sample's rule fires at least `expected_match_count` times (flat and nested events)."""
    corpus = _need_corpus()
    events = _read(corpus / "sigma-regression" / sample[layout])
    if layout == "raw_events_file":
        events = [flatten_windows_event(e) for e in events]
    hits = sum(1 for ev in events for m in any_engine.match(ev) if m.rule.id == sample["rule_id"])
    need = sample["expected_match_count"] or 1
    assert hits >= need, f"{sample['rule_title']} ({sample['rule_path']}): {hits} < {need}"


def test_engine_agrees_with_naive_evaluator_on_every_sample_event(any_engine: Engine) -> None:
    """Index, EventID narrowing and prefilter never change the result: same rules as trying every rule."""
    corpus = _need_corpus()
    for sample in SAMPLES:
        for event in _read(corpus / "sigma-regression" / sample["events_file"]):
            fast = sorted(m.rule.id for m in any_engine.match(event))
            assert fast == sorted(naive_match(any_engine.ruleset, event)), sample["events_file"]
