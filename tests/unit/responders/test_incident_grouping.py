"""Grouping detections into incidents: keys, windows, ids and what a detection changes in an incident."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from responders import grouping
from responders.config import Grouping
from schemas.common import Severity
from schemas.detection import Detection
from schemas.tenant import Tenant

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # the builder's time origin
ALL = Grouping(keys=("rule", "host", "user", "source_ip"), window=timedelta(hours=1), max_detections=3)
HOST = Grouping(keys=("host",), window=timedelta(hours=1), max_detections=1000)


def _open(d: Detection, g: Grouping, tenant: Tenant | None = None) -> grouping.Incident:
    key = grouping.group_key(d, g)
    incident = grouping.open_incident(
        d, key, grouping.incident_id(d.tenant, key, 0), tenant or Tenant(id=d.tenant, name="x"), T0
    )
    grouping.add_detection(incident, d, T0)
    return incident


def test_group_key_uses_only_the_configured_keys(make_detection: Callable[..., Detection]) -> None:
    """Keys are readable, case-insensitive on names, and ignore what is not configured."""
    a = make_detection(1, host="WS-1", user="Alice")
    b = make_detection(2, host="ws-1", user="bob", rule="rule-2")
    assert grouping.group_key(a, ALL) == "rule=rule-1|host=ws-1|user=alice|source_ip="
    assert grouping.group_key(a, HOST) == grouping.group_key(b, HOST) == "host=ws-1"
    assert grouping.group_key(a, ALL) != grouping.group_key(b, ALL)


def test_incident_ids_are_deterministic_per_tenant_group_and_generation() -> None:
    """Same inputs, same id; another tenant, group or generation, another id."""
    assert grouping.incident_id("a", "host=x", 0) == grouping.incident_id("a", "host=x", 0)
    ids = {grouping.incident_id(t, k, g) for t in "ab" for k in ("host=x", "host=y") for g in (0, 1)}
    assert len(ids) == 8


def test_add_detection_folds_count_times_rules_techniques_and_highest_severity(
    make_detection: Callable[..., Detection],
) -> None:
    """A repeated detection updates count, first/last seen, detections, ATT&CK techniques and severity."""
    first = make_detection(10, level="medium", tags=("attack.t1059.001",))
    incident = _open(first, HOST)
    later = make_detection(
        20, rule="rule-2", level="critical", tags=("attack.t1003.001", "attack.credential-access")
    )
    earlier = make_detection(5, level="low", tags=())
    assert grouping.add_detection(incident, later, T0)
    assert grouping.add_detection(incident, earlier, T0)
    assert incident.detection_count == 3
    assert incident.first_seen == earlier.event_time and incident.last_seen == later.event_time
    assert incident.techniques == ["T1003.001", "T1059.001"]
    assert incident.severity == Severity.critical and incident.initial_severity == Severity.medium
    assert incident.rule_ids == ["rule-1", "rule-2"] and incident.title == "2 rules on ws-1"


def test_the_same_detection_twice_changes_nothing(make_detection: Callable[..., Detection]) -> None:
    """Replays are harmless in memory too."""
    d = make_detection(1)
    incident = _open(d, ALL)
    before = incident.model_dump()
    assert not grouping.add_detection(incident, d, T0 + timedelta(hours=5))
    assert incident.model_dump() == before


def test_fits_within_the_window_of_first_or_last_seen_unless_closed_or_full(
    make_detection: Callable[..., Detection],
) -> None:
    """Inside [first - window, last + window] joins; outside, closed or full opens a new incident."""
    incident = _open(make_detection(0), ALL)
    assert grouping.fits(incident, make_detection(1, minutes=59), ALL)
    assert grouping.fits(incident, make_detection(2, minutes=-59), ALL)
    assert not grouping.fits(incident, make_detection(3, minutes=61), ALL)
    for n in (1, 2):
        grouping.add_detection(incident, make_detection(n, minutes=n), T0)
    assert not grouping.fits(incident, make_detection(4, minutes=10), ALL)  # full: max_detections=3
    roomy = _open(make_detection(0), HOST)
    roomy.status = "closed"  # type: ignore[assignment]
    assert not grouping.fits(roomy, make_detection(5, minutes=1), HOST)


def test_personal_data_tenant_starts_the_gdpr_clock(make_detection: Callable[..., Detection]) -> None:
    """Incidents of a tenant flagged for personal data get a deadline 72 hours after they are opened."""
    incident = _open(make_detection(1), ALL, Tenant(id="acme", name="A", personal_data=True))
    assert incident.personal_data and incident.gdpr_deadline == T0 + timedelta(hours=72)
    assert _open(make_detection(1), ALL).gdpr_deadline is None
