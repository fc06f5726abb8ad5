"""Service-level clocks of one incident on every path: met, breached, paused, reopened, regulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from responders.sla.clocks import by_urgency, incident_clocks
from responders.triage import apply_action
from schemas.common import Severity
from schemas.incident import Incident, Verdict
from schemas.sla import Clock, ClockKind, ClockState, ServiceLevels, Targets

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
LEVELS = ServiceLevels(
    targets={
        Severity.high: Targets(notify_within="1h", acknowledge_within="2h", resolve_within="8h"),
    }
)


def _incident(severity: str = "high") -> Incident:
    return Incident(
        id="i1",
        tenant="t",
        title="x",
        severity=severity,
        group_key="k",
        first_seen=T0 - 5 * H,  # the events are older: clocks start when socpipe opened it
        last_seen=T0,
        opened_at=T0,
        updated_at=T0,
    )


def _clocks(incident: Incident, now: datetime, **kwargs: object) -> dict[ClockKind, Clock]:
    options: dict[str, object] = {"zone": "UTC", "notified": None, "notify_applies": True} | kwargs
    return {c.kind: c for c in incident_clocks(incident, LEVELS, now=now, **options)}  # type: ignore[arg-type]


def test_met_clocks_stop_at_the_receipt_the_acknowledgement_and_the_close() -> None:
    """Notified after 30 min, acknowledged after 1h, closed after 6h: all met, each stopped where recorded."""
    i = apply_action(_incident(), "acknowledge", "ann", T0 + H)
    i = apply_action(i, "close", "ann", T0 + 6 * H, verdict=Verdict.true_positive, reason="contained")
    clocks = _clocks(i, T0 + 10 * H, notified=T0 + timedelta(minutes=30))
    assert {k: c.state for k, c in clocks.items()} == {
        ClockKind.notify: ClockState.met,
        ClockKind.acknowledge: ClockState.met,
        ClockKind.resolve: ClockState.met,
    }
    assert clocks[ClockKind.notify].stop == T0 + timedelta(minutes=30)
    assert clocks[ClockKind.acknowledge].elapsed_s == 3600 and clocks[ClockKind.acknowledge].left_s == 3600
    assert clocks[ClockKind.resolve].deadline == T0 + 8 * H and clocks[ClockKind.resolve].stop == T0 + 6 * H


def test_breached_while_running_and_breached_when_stopped_late() -> None:
    """Nobody acknowledged within 2h: breached while still running; a close after 9h is a late stop."""
    running = _clocks(_incident(), T0 + 3 * H)
    assert running[ClockKind.acknowledge].state == ClockState.breached
    assert running[ClockKind.acknowledge].stop is None and running[ClockKind.acknowledge].left_s == -3600
    assert running[ClockKind.notify].state == ClockState.breached
    assert running[ClockKind.resolve].state == ClockState.running
    late = apply_action(_incident(), "acknowledge", "ann", T0 + H)
    late = apply_action(late, "close", "ann", T0 + 9 * H, verdict=Verdict.benign, reason="ok")
    assert _clocks(late, T0 + 20 * H)[ClockKind.resolve].state == ClockState.breached


def test_client_hold_pauses_the_resolve_clock_and_moves_its_deadline() -> None:
    """Held from 1h to 4h: paused meanwhile (no deadline); after the resume the deadline is 3h later.
    The acknowledge clock is the provider's own: a hold does not pause it."""
    i = apply_action(_incident(), "acknowledge", "ann", T0 + timedelta(minutes=10))
    i = apply_action(i, "hold", "ann", T0 + H, reason="waiting for the client's firewall logs")
    held = _clocks(i, T0 + 20 * H)
    assert held[ClockKind.resolve].state == ClockState.paused and held[ClockKind.resolve].deadline is None
    assert held[ClockKind.resolve].elapsed_s == 3600
    i = apply_action(i, "resume", "ann", T0 + 4 * H)
    resumed = _clocks(i, T0 + 10 * H)
    assert resumed[ClockKind.resolve].state == ClockState.running
    assert resumed[ClockKind.resolve].deadline == T0 + 11 * H
    assert resumed[ClockKind.resolve].elapsed_s == 7 * 3600


def test_reopened_incident_runs_on_from_where_its_resolve_clock_stopped() -> None:
    """Closed at 5h, reopened at 30h: the closed time does not count; at 32h 7h are counted, 1h left."""
    i = apply_action(_incident(), "acknowledge", "ann", T0 + H)
    i = apply_action(i, "close", "ann", T0 + 5 * H, verdict=Verdict.true_positive, reason="done")
    assert _clocks(i, T0 + 6 * H)[ClockKind.resolve].state == ClockState.met
    i = apply_action(i, "reopen", "bob", T0 + 30 * H, reason="the attacker is back")
    resolve = _clocks(i, T0 + 32 * H)[ClockKind.resolve]
    assert resolve.state == ClockState.running and resolve.stop is None
    assert resolve.elapsed_s == 7 * 3600 and resolve.deadline == T0 + 33 * H
    assert _clocks(i, T0 + 34 * H)[ClockKind.resolve].state == ClockState.breached


def test_business_hours_clock_does_not_run_over_the_weekend() -> None:
    """Business hours 09-17 Europe/Berlin: opened Friday 16:00 CET (15:00 UTC), 2h to acknowledge:
    the deadline is Monday 10:00 CET, and on Sunday it is still running with 1h left."""
    levels = ServiceLevels.model_validate(
        {"hours": "business", "targets": {"high": {"acknowledge_within": "2h"}}}
    )
    friday = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
    i = _incident().model_copy(update={"opened_at": friday})
    [ack] = incident_clocks(
        i, levels, zone="Europe/Berlin", notified=None, notify_applies=True, now=friday + 2 * 24 * H
    )
    assert ack.state == ClockState.running and ack.left_s == 3600
    assert ack.deadline == datetime(2026, 11, 9, 9, 0, tzinfo=UTC)


def test_regulator_clock_from_flag_to_notification() -> None:
    """Flagged at 2h: 72 hours from then; stopped by the regulator notification; overdue without one;
    cancelled when closed as a false positive."""
    flagged = apply_action(_incident(), "flag_personal_data", "ann", T0 + 2 * H, reason="HR records")
    running = _clocks(flagged, T0 + 10 * H)[ClockKind.regulator]
    assert running.start == T0 + 2 * H and running.deadline == T0 + 74 * H and running.state == "running"
    assert _clocks(flagged, T0 + 75 * H)[ClockKind.regulator].state == ClockState.breached
    told = apply_action(flagged, "notify_regulator", "dpo", T0 + 50 * H, reference="BfDI-2026-0042")
    done = _clocks(told, T0 + 80 * H)[ClockKind.regulator]
    assert done.state == ClockState.met and done.stop == T0 + 50 * H
    assert told.regulator_reference == "BfDI-2026-0042"
    fp = apply_action(flagged, "close", "ann", T0 + 3 * H, verdict=Verdict.false_positive, reason="test")
    assert _clocks(fp, T0 + 100 * H)[ClockKind.regulator].state == ClockState.cancelled


def test_no_clock_without_a_target_or_a_route_for_the_notice() -> None:
    """A severity without targets has no clocks; no route asking for the notice means no notify clock."""
    assert _clocks(_incident("low"), T0 + H) == {}
    assert ClockKind.notify not in _clocks(_incident(), T0 + H, notify_applies=False)


def test_tenant_override_replaces_what_it_names() -> None:
    """A tenant's hours and the severities it lists win; the other severities keep the default."""
    default = ServiceLevels.model_validate(
        {"targets": {"high": {"acknowledge_within": "2h"}, "low": {"acknowledge_within": "1d"}}}
    )
    override = ServiceLevels.model_validate(
        {"hours": "business", "targets": {"high": {"acknowledge_within": "1h"}}}
    )
    merged = default.merged(override)
    assert merged.hours == "business"
    assert merged.targets[Severity.high].acknowledge_within == H
    assert merged.targets[Severity.low].acknowledge_within == 24 * H
    assert default.merged(ServiceLevels.model_validate({"targets": {}})).hours == "24x7"


def test_urgency_puts_breached_first_then_least_time_left() -> None:
    clocks = list(_clocks(_incident(), T0 + 90 * timedelta(minutes=1)).values())
    assert [c.kind for c in by_urgency(clocks)] == [
        ClockKind.notify,
        ClockKind.acknowledge,
        ClockKind.resolve,
    ]
