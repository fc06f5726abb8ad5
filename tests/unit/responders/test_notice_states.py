"""Which notices an incident's state calls for: thresholds, escalation, acknowledgement, closing."""

from __future__ import annotations

from datetime import UTC, datetime

from responders.notices.channels import CHANNELS
from responders.notices.notifier import notice_states, superseded_now
from schemas.incident import Incident, TriageAction
from schemas.notice import Notice
from schemas.tenant import NoticeRoute

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _incident(severity: str, initial: str | None = None, **changes: object) -> Incident:
    return Incident(
        id="i",
        tenant="t",
        title="x",
        severity=severity,
        initial_severity=initial or severity,
        group_key="k",
        first_seen=NOW,
        last_seen=NOW,
        updated_at=NOW,
        **changes,  # type: ignore[arg-type]
    )


def test_below_the_tenants_threshold_nothing_is_sent() -> None:
    """min_severity is the tenant's threshold, per route."""
    route = NoticeRoute(channel="email", destination="a@b.c", min_severity="high")
    assert notice_states(_incident("medium"), route) == []
    assert notice_states(_incident("high"), route) == ["open"]


def test_escalation_above_the_opening_severity_is_its_own_notice() -> None:
    """Each severity reached above the one it opened with (and the threshold) is one notice."""
    route = NoticeRoute(channel="email", destination="a@b.c", min_severity="medium")
    assert notice_states(_incident("critical", "high"), route) == ["open", "escalate:critical"]
    assert notice_states(_incident("high", "high"), route) == ["open"]


def test_acknowledge_and_close_only_when_the_route_asks() -> None:
    """Default routes get open, escalate and close; acknowledge is opt-in."""
    ack = TriageAction(action="acknowledge", actor="ann", at=NOW)
    closed = _incident("high", status="closed", verdict="true_positive", history=[ack])
    default = NoticeRoute(channel="email", destination="a@b.c")
    chatty = NoticeRoute(
        channel="webhook",
        destination="https://x",
        secret_env="S",
        notify_on=["open", "escalate", "acknowledge", "close"],
    )
    assert notice_states(closed, default) == ["open", "close"]
    assert notice_states(closed, chatty) == ["open", "acknowledge", "close"]


def test_every_channel_a_route_can_name_is_registered() -> None:
    """The registry holds exactly the channels the tenant schema allows."""
    allowed = set(NoticeRoute.model_fields["channel"].annotation.__args__)  # type: ignore[union-attr]
    assert set(CHANNELS) == allowed


def _notice(state: str, incident: str = "i", destination: str = "a@b.c") -> Notice:
    return Notice(
        id=f"{incident}/{state}/{destination}",
        tenant="t",
        incident_id=incident,
        incident_state=state,
        channel="email",
        destination=destination,
        subject="",
    )


def test_an_escalation_claimed_with_its_open_notice_is_superseded() -> None:
    """Open and escalate claimed in one round for one incident and destination: the open notice already
    announces the severity, so the escalation is superseded (one change, one message)."""
    claimed = [_notice("open"), _notice("escalate:critical")]
    assert superseded_now(claimed) == {"i/escalate:critical/a@b.c"}


def test_an_escalation_after_the_open_notice_is_not_superseded() -> None:
    """An escalation claimed without its open notice (sent in an earlier round) is sent; an open notice of
    another incident or to another destination supersedes nothing; nor does open supersede acknowledge."""
    assert superseded_now([_notice("escalate:critical")]) == set()
    assert superseded_now([_notice("open", incident="j"), _notice("escalate:high")]) == set()
    assert superseded_now([_notice("open", destination="x@y.z"), _notice("escalate:high")]) == set()
    assert superseded_now([_notice("open"), _notice("acknowledge"), _notice("close")]) == set()
