"""Each heuristic on its scenario: quiet on the benign background, firing on the attack, explaining why."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from heuristic_harness import engine_for, run
from heuristic_scenarios import ALL, Scenario

from detectors.heuristics import registry

SCENARIOS = {make.__name__: make for make in ALL}


def test_every_heuristic_has_a_scenario() -> None:
    """No registered heuristic goes without a background-plus-attack scenario."""
    assert set(registry.names()) <= {make().heuristic for make in ALL}


@pytest.mark.parametrize("make", ALL, ids=list(SCENARIOS))
def test_quiet_on_background(make: Callable[[], Scenario]) -> None:
    """The benign background alone gives no finding from any heuristic (false positives: 0)."""
    scenario = make()
    engine = engine_for(scenario)
    found = run(engine, scenario.events(with_attack=False))
    assert [f.explanation for f in found] == []
    assert engine.stats()["errors"] == {}


@pytest.mark.parametrize("make", ALL, ids=list(SCENARIOS))
def test_fires_on_attack(make: Callable[[], Scenario]) -> None:
    """Background plus attack: the scenario's heuristic fires on the attack's keys, nothing else fires."""
    scenario = make()
    found = run(engine_for(scenario), scenario.events())
    assert {f.heuristic for f in found} == {scenario.heuristic}, [f.explanation for f in found]
    assert {f.key for f in found} == scenario.expected_keys
    for finding in found:
        assert finding.tenant == "testco"
        assert finding.rule_id.startswith("socpipe-heuristic-")
        assert finding.explanation and finding.evidence
        assert any(t.startswith("attack.") for t in finding.tags)


def test_brute_force_explains_counts_and_reports_the_success() -> None:
    """Brute force names the count, window and threshold, and the success after it at a higher level."""
    scenario = SCENARIOS["brute_force"]()
    found = run(engine_for(scenario), scenario.events())
    by_rule = {(f.rule_id, f.key): f for f in found}
    account = by_rule["socpipe-heuristic-brute-force", "account:administrator"]
    assert account.explanation.startswith(
        "10 failed logons for account 'administrator' within 5m (threshold 10)"
    )
    assert account.evidence["sources"] == ["203.0.113.7"]
    success = by_rule["socpipe-heuristic-brute-force-success", "account:administrator"]
    assert "logged on successfully from 203.0.113.7" in success.explanation
    assert success.evidence["failures"] == 30
    assert success.level.rank > account.level.rank
    assert len(found) == 3  # account, source, success: each once (suppressed afterwards)


def test_password_spraying_names_the_accounts() -> None:
    """Spraying fires once at the threshold of distinct accounts and lists them."""
    scenario = SCENARIOS["password_spraying"]()
    [finding] = run(engine_for(scenario), scenario.events())
    assert finding.evidence["distinct_accounts"] == 10
    assert "10.0.9.99 failed to log on as 10 different accounts within 30m" in finding.explanation
    assert finding.entity.source_ip == "10.0.9.99"


def test_rare_lineage_reports_the_baseline() -> None:
    """The new pair fires once, with the size of the baseline it was never seen in."""
    scenario = SCENARIOS["rare_lineage"]()
    [finding] = run(engine_for(scenario), scenario.events())
    assert finding.evidence["prior_count"] == 0 and finding.evidence["baseline_total"] > 1000
    assert "winword.exe started powershell.exe on host ws-07.acme.local: this pair was never seen" in (
        finding.explanation
    )


def test_beaconing_reports_period_and_jitter() -> None:
    """The beacon's median interval (~60 s) and its small jitter are in the finding."""
    scenario = SCENARIOS["beaconing"]()
    [finding] = run(engine_for(scenario), scenario.events())
    assert 55 <= finding.evidence["median_interval_seconds"] <= 65
    assert finding.evidence["jitter"] <= 0.1
    assert "every 1m" in finding.explanation and "updater.exe" in finding.explanation


def test_first_time_events_outside_hours_are_escalated() -> None:
    """On a Saturday night the three first-time events fire one level higher and say why."""
    scenario = SCENARIOS["first_time"]()
    found = run(engine_for(scenario), scenario.events())
    levels = {f.rule_id: f.level.value for f in found}
    assert levels == {
        "socpipe-heuristic-first-time-admin": "critical",
        "socpipe-heuristic-first-time-service": "high",
        "socpipe-heuristic-log-cleared": "critical",
    }
    for finding in found:
        assert "outside the tenant's usual hours (07:00-19:00, mon/tue/wed/thu/fri)" in finding.explanation
        assert finding.evidence["outside_usual_hours"] is True


def test_entities_keep_the_host_as_the_event_spells_it() -> None:
    """State keys are case-insensitive, but the entity is the log's own spelling: a Sigma detection and a
    heuristic detection on the same event then title their shared incident the same way (CI once failed
    on `srv-acme-db` against `SRV-ACME-DB` when the heuristic happened to open the incident)."""
    scenario = SCENARIOS["first_time"]()
    for _, event in scenario.attack:
        event["Computer"] = event["Computer"].upper()
    found = run(engine_for(scenario), scenario.events())
    assert {f.key for f in found} == scenario.expected_keys  # keys still lower-cased
    assert {f.entity.host for f in found} == {"SRV-DB.ACME.LOCAL"}


@pytest.mark.parametrize("make", ALL, ids=list(SCENARIOS))
def test_every_heuristic_reports_the_host_as_spelled(make: Callable[[], Scenario]) -> None:
    """The same for every heuristic: with the attack's hosts upper-cased, it fires on the same keys and
    its entities carry the upper-case spelling."""
    scenario = make()
    for _, event in scenario.attack:
        for field in ("Computer", "host.name"):
            if isinstance(event.get(field), str):
                event[field] = event[field].upper()
    found = run(engine_for(scenario), scenario.events())
    assert found and {f.key for f in found} == scenario.expected_keys
    hosts = {f.entity.host for f in found if f.entity.host}
    assert hosts and all(h.isupper() for h in hosts), hosts
