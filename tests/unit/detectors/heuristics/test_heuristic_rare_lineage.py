"""Rare lineage specifics: allow-listed pairs still teach the baseline; only new pairs after maturity fire."""

from __future__ import annotations

from heuristic_scenarios import at, process

from detectors.heuristics.rare_lineage import RareLineage, RareLineageConfig

CMD = "C:\\Windows\\System32\\cmd.exe"
CONHOST = "C:\\Windows\\System32\\conhost.exe"


def test_allow_listed_pairs_count_in_the_baseline_but_never_fire() -> None:
    """Three cmd>conhost starts (allowed) make a baseline of 3; then cmd>mshta fires, cmd>conhost never."""
    heuristic = RareLineage(
        RareLineageConfig(min_baseline=3, learning_period=0, allow={"processes": ["*>conhost.exe"]})
    )
    found = []
    for i in range(3):
        ts, event = process(at(minutes=i), "ws-01", CMD, CONHOST, "alice")
        found += heuristic.feed(event, "acme", ts)
    assert found == [] and heuristic.total == 3
    ts, event = process(at(minutes=5), "ws-01", "C:\\Windows\\System32\\svchost.exe", CONHOST, "alice")
    assert heuristic.feed(event, "acme", ts) == []  # new pair, but allowed
    ts, event = process(at(minutes=6), "ws-01", CMD, "C:\\Windows\\System32\\mshta.exe", "alice")
    [finding] = heuristic.feed(event, "acme", ts)
    assert finding.evidence["baseline_total"] == 4 and "attack.t1218" in finding.tags


def test_nothing_fires_while_the_baseline_is_young() -> None:
    """Before `min_baseline` starts and `learning_period`, new pairs are learned silently."""
    heuristic = RareLineage(RareLineageConfig(min_baseline=10, learning_period="1h"))
    found = []
    for i in range(20):
        ts, event = process(at(minutes=i), "ws-01", CMD, f"C:\\Tools\\tool{i}.exe", "alice")
        found += heuristic.feed(event, "acme", ts)
    assert found == []  # 20 starts but only 19 minutes
    ts, event = process(at(minutes=61), "ws-01", CMD, "C:\\Tools\\new.exe", "alice")
    assert len(heuristic.feed(event, "acme", ts)) == 1
