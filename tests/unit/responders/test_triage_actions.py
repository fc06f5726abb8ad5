"""Triage actions on an incident: allowed transitions, and who, when and why recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from responders.triage import TriageError, apply_action
from schemas.incident import Incident, IncidentStatus, Verdict

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _incident() -> Incident:
    return Incident(
        id="i",
        tenant="t",
        title="x",
        severity="high",
        group_key="k",
        first_seen=NOW,
        last_seen=NOW,
        updated_at=NOW,
        version=3,
    )


def test_ack_assign_close_record_actor_time_reason_and_bump_the_version() -> None:
    """Each action appends to the history and increments the version; the input is not modified."""
    original = _incident()
    acked = apply_action(original, "acknowledge", "ann", NOW, reason="looking")
    assigned = apply_action(acked, "assign", "ann", NOW, assignee="bob")
    closed = apply_action(
        assigned, "close", "bob", NOW, verdict=Verdict.false_positive, reason="admin script"
    )
    assert original.history == [] and original.status == IncidentStatus.open
    assert closed.status == IncidentStatus.closed and closed.verdict == Verdict.false_positive
    assert closed.assignee == "bob" and closed.version == 6
    assert [(h.action, h.actor, h.reason) for h in closed.history] == [
        ("acknowledge", "ann", "looking"),
        ("assign", "ann", "to bob"),
        ("close", "bob", "admin script"),
    ]


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        ("close", {"reason": "x"}, "needs a verdict"),
        ("close", {"verdict": Verdict.benign}, "needs a reason"),
        ("assign", {}, "needs an assignee"),
        ("dance", {}, "unknown action"),
    ],
)
def test_incomplete_actions_are_refused(action: str, kwargs: dict[str, object], message: str) -> None:
    """Closing needs a verdict and a reason, assigning an assignee."""
    with pytest.raises(TriageError, match=message):
        apply_action(_incident(), action, "ann", NOW, **kwargs)  # type: ignore[arg-type]


def test_closed_incidents_stay_closed_and_actor_is_required() -> None:
    """No acknowledging, assigning or closing a closed incident; an action without actor is refused."""
    closed = apply_action(_incident(), "close", "ann", NOW, verdict=Verdict.benign, reason="ok")
    for action, kwargs in [
        ("acknowledge", {}),
        ("assign", {"assignee": "b"}),
        ("close", {"verdict": Verdict.benign, "reason": "x"}),
    ]:
        with pytest.raises(TriageError):
            apply_action(closed, action, "ann", NOW, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TriageError, match="who did it"):
        apply_action(_incident(), "acknowledge", " ", NOW)


def test_flagging_personal_data_starts_the_72_hour_clock() -> None:
    """GDPR art. 33: the deadline is 72 hours after the analyst became aware."""
    flagged = apply_action(_incident(), "flag_personal_data", "ann", NOW, reason="customer emails")
    assert flagged.personal_data and flagged.gdpr_deadline == NOW + timedelta(hours=72)


def test_service_level_actions_refuse_what_does_not_apply() -> None:
    """hold needs a reason and an open incident not held; resume needs a hold; reopen a closed incident
    and a reason; notify_regulator a flagged incident, a reference, and only once."""
    with pytest.raises(TriageError, match="reason"):
        apply_action(_incident(), "hold", "ann", NOW)
    held = apply_action(_incident(), "hold", "ann", NOW, reason="asked the client")
    with pytest.raises(TriageError, match="on hold"):
        apply_action(held, "hold", "ann", NOW, reason="again")
    with pytest.raises(TriageError, match="not on hold"):
        apply_action(_incident(), "resume", "ann", NOW)
    with pytest.raises(TriageError, match="only a closed one"):
        apply_action(_incident(), "reopen", "ann", NOW, reason="back")
    closed = apply_action(_incident(), "close", "ann", NOW, verdict=Verdict.benign, reason="ok")
    reopened = apply_action(closed, "reopen", "ann", NOW, reason="back")
    assert reopened.status == IncidentStatus.open and reopened.verdict is None
    with pytest.raises(TriageError, match="not flagged"):
        apply_action(_incident(), "notify_regulator", "dpo", NOW, reference="X-1")
    flagged = apply_action(_incident(), "flag_personal_data", "ann", NOW)
    with pytest.raises(TriageError, match="--reference"):
        apply_action(flagged, "notify_regulator", "dpo", NOW, reference=" ")
    told = apply_action(flagged, "notify_regulator", "dpo", NOW, reference="X-1")
    assert told.regulator_notified_at == NOW and told.history[-1].reason == "reference X-1"
    with pytest.raises(TriageError, match="already notified"):
        apply_action(told, "notify_regulator", "dpo", NOW, reference="X-2")


def test_escalate_raises_the_severity_one_step_or_to_the_one_asked_for() -> None:
    """Escalating a high incident: to critical by default; asked for a lower or equal severity, or with
    no reason, or on a closed incident: refused."""
    escalated = apply_action(_incident(), "escalate", "ann", NOW, reason="domain admin involved")
    assert escalated.severity == "critical" and escalated.version == 4
    assert [(h.action, h.reason) for h in escalated.history] == [
        ("escalate", "to critical: domain admin involved")
    ]
    for kwargs, message in [
        ({"reason": "x", "severity": "medium"}, "already high"),
        ({}, "needs a reason"),
    ]:
        with pytest.raises(TriageError, match=message):
            apply_action(_incident(), "escalate", "ann", NOW, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TriageError, match="already critical"):
        apply_action(escalated, "escalate", "ann", NOW, reason="x")
    closed = apply_action(_incident(), "close", "ann", NOW, verdict=Verdict.benign, reason="ok")
    with pytest.raises(TriageError, match="closed"):
        apply_action(closed, "escalate", "ann", NOW, reason="x")
