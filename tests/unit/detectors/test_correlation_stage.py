"""Correlation output through the detector stage: Sigma's `generate` and chained correlations decide
which matches become detections."""

from __future__ import annotations

from pathlib import Path

from test_reload import BASE, CORRELATION, batch, detections, make_stage, titles

SILENT = CORRELATION.replace(
    "  generate: true  # the base rule alerts on its own too (Sigma's default is false)\n", ""
)
OUTER = """\
title: Alpha Bursts Twice On One Host
id: 5a1e0000-0000-4000-8000-0000000000c9
status: test
correlation:
  type: event_count
  rules: [5a1e0000-0000-4000-8000-0000000000c0]
  group-by: [Computer]
  timespan: 1h
  condition: {gte: 2}
level: critical
"""


def test_generate_false_emits_the_correlation_only(tmp_path: Path) -> None:
    """The base rule feeds the correlation but gives no detection of its own."""
    assert "generate" not in SILENT
    (tmp_path / "base.yml").write_text(BASE)
    (tmp_path / "corr.yml").write_text(SILENT)
    stage, _ = make_stage(tmp_path)
    assert titles(detections(stage, batch(0, "alpha.exe", "alpha.exe", "alpha.exe"))) == [
        "Alpha Three Times On One Host"
    ]


def test_a_chained_correlation_is_the_only_alert_of_its_chain(tmp_path: Path) -> None:
    """Two bursts of three alphas: the inner correlation fires twice and feeds the outer one, which is
    the one detection: neither correlation says `generate: true`, so the base rule's matches only feed
    the inner one and the inner one's only feed the outer."""
    (tmp_path / "base.yml").write_text(BASE)
    (tmp_path / "corr.yml").write_text(SILENT)
    (tmp_path / "outer.yml").write_text(OUTER)
    stage, _ = make_stage(tmp_path)
    assert detections(stage, batch(0, "alpha.exe", "alpha.exe", "alpha.exe")) == []
    (outer,) = detections(stage, batch(3, "alpha.exe", "alpha.exe", "alpha.exe"))
    assert outer.rule.title == "Alpha Bursts Twice On One Host" and outer.kind == "correlation"
    assert outer.matched["value"] == 2 and outer.matched["group"] == {"Computer": "WS-1"}
