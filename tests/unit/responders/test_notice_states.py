"""Which notices an incident's state calls for: thresholds, escalation, acknowledgement, closing."""

from __future__ import annotations

from datetime import UTC, datetime

from responders.notices.channels import CHANNELS, build_channels
from responders.notices.notifier import notice_states, superseded_now
from schemas.incident import Incident, TriageAction
from schemas.notice import Notice
from schemas.tenant import NoticeRoute
from socpipe.settings import load_settings

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


def test_every_registered_channel_is_reachable() -> None:
    """Each registered channel builds a sender, checks its routes' destinations and knows its secret:
    what the configuration and the notifier reach it for, by the name a route writes."""
    senders = build_channels(load_settings())
    assert set(senders) == set(CHANNELS) == {"email", "webhook"}
    for name, kind in CHANNELS.items():
        assert callable(senders[name].send)
        assert kind.route_problems(NoticeRoute(channel=name, destination="")) != []
    good = {"email": "soc@acme.example", "webhook": "https://acme.example/hook"}
    assert CHANNELS.get("email").route_problems(NoticeRoute(channel="email", destination=good["email"])) == []
    hook = NoticeRoute(channel="webhook", destination=good["webhook"], secret_env="SOCPIPE_TEST_UNSET_SECRET")
    assert CHANNELS.get("webhook").route_problems(hook) == []
    assert CHANNELS.get("webhook").missing_secret(hook) == "SOCPIPE_TEST_UNSET_SECRET"


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
