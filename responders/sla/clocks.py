"""Every service-level clock of an incident, computed from what is recorded: pure, no Elasticsearch.

- notify: from the incident's opening to the first notice sent to the client (its delivery receipt);
  only when one of the tenant's routes asks for this severity's "open" notice.
- acknowledge: from the opening to the first acknowledgement (a close without one stops it too).
- resolve: from the opening to the close. Time the client holds the incident (`hold` ... `resume`) does
  not count, nor the time between a close and a reopen; a reopened incident's clock runs on from where
  it stopped.
- regulator (GDPR art. 33): 72 hours, around the clock, from the moment the incident was flagged as a
  personal-data breach (or opened, for a tenant whose incidents all touch personal data) to the recorded
  regulator notification; cancelled when the incident is closed as a false positive or benign.

Targets are per severity (the incident's current one). A clock is `breached` as soon as its counted time
passes the target, whether it is still running or stopped late; `paused` while the client holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from responders.sla.calendar import AroundTheClock, Calendar, advance, calendar_for, counted, without
from schemas.incident import Incident, IncidentStatus, Verdict
from schemas.sla import Clock, ClockKind, ClockState, ServiceLevels

REGULATOR_WINDOW = timedelta(hours=72)
Interval = tuple[datetime, datetime | None]
HOLD, RESUME, CLOSE, REOPEN, ACK = "hold", "resume", "close", "reopen", "acknowledge"


@dataclass(frozen=True)
class Timeline:
    """The moments of one incident the clocks read."""

    opened: datetime
    acknowledged: datetime | None
    closed: datetime | None  # the last close, when the incident is closed now
    holds: list[Interval]  # the client held it: from `hold` to `resume` (or close), None = still held
    reopened_gaps: list[Interval]  # closed, then reopened: from the close to the reopen


def timeline(incident: Incident) -> Timeline:
    acknowledged: datetime | None = None
    holds: list[Interval] = []
    gaps: list[Interval] = []
    held: datetime | None = None
    closed_at: datetime | None = None
    for step in incident.history:
        if step.action in (ACK, CLOSE) and acknowledged is None:
            acknowledged = step.at
        if step.action == HOLD and held is None:
            held = step.at
        elif step.action in (RESUME, CLOSE) and held is not None:
            holds.append((held, step.at))
            held = None
        if step.action == CLOSE:
            closed_at = step.at
        elif step.action == REOPEN and closed_at is not None:
            gaps.append((closed_at, step.at))
            closed_at = None
    if held is not None:
        holds.append((held, None))
    closed = closed_at if incident.status == IncidentStatus.closed else None
    return Timeline(incident.opened_at or incident.first_seen, acknowledged, closed, holds, gaps)


def _measure(  # noqa: PLR0917 - one clock's nine inputs, each named at the two call sites
    incident: Incident,
    kind: ClockKind,
    calendar: Calendar,
    business: bool,
    start: datetime,
    target: timedelta,
    stop: datetime | None,
    pauses: list[Interval],
    now: datetime,
) -> Clock:
    def spans() -> Iterator[tuple[datetime, datetime]]:
        return without(calendar.spans(start), pauses)

    target_s = target.total_seconds()
    deadline = advance(spans(), target_s)
    elapsed = counted(spans(), stop or now)
    if elapsed > target_s:
        state = ClockState.breached
    elif stop is not None:
        state = ClockState.met
    elif any(end is None for _, end in pauses):
        state = ClockState.paused
    else:
        state = ClockState.running
    return Clock(
        tenant=incident.tenant,
        incident_id=incident.id,
        title=incident.title,
        severity=incident.severity,
        kind=kind,
        target_s=target_s,
        business_hours=business,
        start=start,
        deadline=deadline,
        stop=stop,
        state=state,
        elapsed_s=elapsed,
        left_s=target_s - elapsed,
    )


def incident_clocks(
    incident: Incident,
    levels: ServiceLevels,
    *,
    zone: str,
    notified: datetime | None,
    notify_applies: bool,
    now: datetime,
) -> list[Clock]:
    """The incident's clocks at `now`: `notified` is when its first client notice was sent (None: not yet),
    `notify_applies` whether any route of the tenant calls for one at this severity."""
    line = timeline(incident)
    targets = levels.targets.get(incident.severity)
    business = levels.hours == "business"
    calendar = calendar_for(business, levels.business_hours, zone)
    clocks = []
    stops = {
        ClockKind.notify: (notified, []),
        ClockKind.acknowledge: (line.acknowledged, []),
        ClockKind.resolve: (line.closed, line.holds + line.reopened_gaps),
    }
    for kind, (stop, pauses) in stops.items():
        within = targets.within(kind) if targets else None
        if within is None or (kind == ClockKind.notify and not notify_applies):
            continue
        clocks.append(_measure(incident, kind, calendar, business, line.opened, within, stop, pauses, now))
    regulator = regulator_clock(incident, now)
    return clocks + ([regulator] if regulator else [])


def regulator_clock(incident: Incident, now: datetime) -> Clock | None:
    """GDPR art. 33's 72 hours, from awareness (the deadline less 72 hours) to the regulator notification."""
    if incident.gdpr_deadline is None:
        return None
    start = incident.gdpr_deadline - REGULATOR_WINDOW
    clock = _measure(
        incident,
        ClockKind.regulator,
        AroundTheClock(),
        False,
        start,
        REGULATOR_WINDOW,
        incident.regulator_notified_at,
        [],
        now,
    )
    no_breach = incident.verdict in (Verdict.false_positive, Verdict.benign)
    if no_breach and incident.regulator_notified_at is None:
        return clock.model_copy(update={"state": ClockState.cancelled})
    return clock


URGENCY = {ClockState.breached: 0, ClockState.running: 1, ClockState.paused: 2}


def by_urgency(clocks: list[Clock]) -> list[Clock]:
    """Open clocks first by state (breached, running, paused), then by the least time left."""
    return sorted(clocks, key=lambda c: (URGENCY.get(c.state, 3), c.left_s))
