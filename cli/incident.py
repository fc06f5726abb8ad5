"""`socpipe incident list | show | ack | assign | escalate | hold | resume | close | reopen | flag |
notify-regulator`: analyst triage from the command line.

Every state change records who (`--actor`, default $SOCPIPE_ACTOR or the login name), when and why
(`--reason`) in the incident's history and as a compliance evidence record, and sends the client the
notices the new state calls for.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
import orjson

from cli.options import tenant_option
from socpipe.settings import get_settings

if TYPE_CHECKING:
    from responders.triage import Triage, TriageResult
    from schemas.incident import Incident


def _default_actor() -> str:
    return os.environ.get("SOCPIPE_ACTOR") or getpass.getuser()


@contextmanager
def _triage() -> Iterator[Triage]:
    from responders.triage import TriageError
    from responders.worker import Responders
    from socpipe.es import check_elasticsearch

    settings = get_settings()
    check_elasticsearch(settings)
    responders = Responders(settings, check=False)
    try:
        yield responders.triage()
    except TriageError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        responders.close()


incident_tenant = tenant_option(help="Only this tenant's incidents (default: all).")
actor_option = click.option(
    "--actor",
    default=_default_actor,
    show_default="$SOCPIPE_ACTOR or login name",
    help="Who does it (recorded).",
)
reason_option = click.option("--reason", default=None, help="Why (recorded).")
json_option = click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")


def _age(at: datetime) -> str:
    minutes = int((datetime.now(UTC) - at).total_seconds() // 60)
    return (
        f"{minutes}m" if minutes < 120 else f"{minutes // 60}h" if minutes < 2880 else f"{minutes // 1440}d"
    )


def _line(i: Incident) -> str:
    gdpr = ""
    if i.gdpr_deadline and i.status != "closed" and not i.regulator_notified_at:
        left = (i.gdpr_deadline - datetime.now(UTC)).total_seconds() / 3600
        gdpr = f"  GDPR art.33 due in {left:.0f}h" if left > 0 else f"  GDPR art.33 OVERDUE by {-left:.0f}h"
    return (
        f"{i.id}  {i.tenant:<12} {i.severity.value:<13} {i.status.value:<12} {i.detection_count:>5}  "
        f"{_age(i.last_seen):>5}  {i.assignee or '-':<12} {i.title}{gdpr}"
    )


def _echo(incident: Incident, as_json: bool) -> None:
    click.echo(orjson.dumps(incident.model_dump(mode="json")).decode() if as_json else _line(incident))


@click.group("incident")
def incident() -> None:
    """Triage incidents: list, show, acknowledge, assign, escalate, hold, close with a verdict, reopen."""


@incident.command("list")
@incident_tenant
@click.option(
    "--status",
    multiple=True,
    type=click.Choice(["open", "acknowledged", "closed"]),
    help="Repeatable; default: open and acknowledged.",
)
@click.option(
    "--min-severity",
    type=click.Choice(["informational", "low", "medium", "high", "critical"]),
    help="Only incidents at least this severe.",
)
@click.option("--assignee", default=None, help="Only incidents assigned to this analyst.")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="At most this many."
)
@json_option
def list_cmd(
    tenant: str | None,
    status: tuple[str, ...],
    min_severity: str | None,
    assignee: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Incidents, most severe and most recent first."""
    from schemas.common import Severity

    with _triage() as triage:
        found = triage.list(
            tenant,
            status=list(status) or ["open", "acknowledged"],
            min_severity=Severity(min_severity) if min_severity else None,
            assignee=assignee,
            size=limit,
        )
    if not as_json:
        click.echo(
            f"{'id':<32}  {'tenant':<12} {'severity':<13} {'status':<12} {'dets':>5}  {'last':>5}  "
            f"{'assignee':<12} title"
        )
    for i in found:
        _echo(i, as_json)


@incident.command("show")
@click.argument("incident_id")
@incident_tenant
@json_option
def show(incident_id: str, tenant: str | None, as_json: bool) -> None:
    """One incident: what, where, when, the detections behind it and its history; and, whole, the
    restricted intel detections (TLP:RED / AMBER+STRICT indicators) the client sees only as a match."""
    from responders.restricted import provider_details

    with _triage() as triage:
        i = triage.find(incident_id, tenant).incident
        restricted = [provider_details(d) for d in triage.restricted(i)]
    if as_json:  # the incident's own fields, and the restricted detections beside them
        shown = {**i.model_dump(mode="json"), "restricted_detections": restricted}
        click.echo(orjson.dumps(shown, default=str).decode())
        return
    fields: dict[str, Any] = {
        "id": i.id,
        "tenant": i.tenant,
        "title": i.title,
        "status": i.status.value,
        "severity": i.severity.value,
        "verdict": i.verdict.value if i.verdict else "-",
        "assignee": i.assignee or "-",
        "group": i.group_key,
        "host": i.entity.host or "-",
        "user": i.entity.user or "-",
        "source ip": i.entity.source_ip or "-",
        "rules": ", ".join(i.rule_ids),
        "att&ck": ", ".join(i.techniques) or "-",
        "first seen": i.first_seen.isoformat(),
        "last seen": i.last_seen.isoformat(),
        "detections": f"{i.detection_count}: "
        + ", ".join(i.detection_ids[:20])
        + (" ..." if i.detection_count > 20 else ""),
        "personal data": f"yes, GDPR art.33 deadline {i.gdpr_deadline.isoformat()}"
        + (
            f", regulator notified {i.regulator_notified_at.isoformat()} ({i.regulator_reference})"
            if i.regulator_notified_at
            else ""
        )
        if i.gdpr_deadline
        else "no",
        "version": i.version,
    }
    for name, value in fields.items():
        click.echo(f"{name + ':':<15}{value}")
    click.echo("history:")
    for h in i.history:
        click.echo(f"  {h.at.isoformat()}  {h.actor:<16} {h.action:<20} {h.reason or ''}")
    if restricted:  # the provider's CLI: the client's space shows these only as "an indicator matched"
        click.echo("restricted detections (TLP:RED / AMBER+STRICT indicators, provider only):")
        for details in restricted:
            click.echo("  " + "  ".join(f"{k}: {v}" for k, v in details.items() if v not in (None, False)))


def _done(result: TriageResult) -> None:
    notices = result.notices
    click.echo(
        f"{result.incident.id}: {result.incident.status.value} (version {result.incident.version}); "
        f"notices sent {len(notices.sent)}, failed {len(notices.failed)}"
    )
    for failed in notices.failed:
        click.echo(f"  notice to {failed.destination} failed: {failed.error}", err=True)


@incident.command("ack")
@click.argument("incident_id")
@incident_tenant
@actor_option
@reason_option
def ack(incident_id: str, tenant: str | None, actor: str, reason: str | None) -> None:
    """Acknowledge: an analyst is on it."""
    with _triage() as triage:
        _done(triage.act(incident_id, "acknowledge", actor, tenant=tenant, reason=reason))


@incident.command("assign")
@click.argument("incident_id")
@click.option("--to", "assignee", required=True, help="The analyst who owns it now.")
@incident_tenant
@actor_option
@reason_option
def assign(incident_id: str, assignee: str, tenant: str | None, actor: str, reason: str | None) -> None:
    """Assign to an analyst."""
    with _triage() as triage:
        _done(triage.act(incident_id, "assign", actor, tenant=tenant, reason=reason, assignee=assignee))


@incident.command("escalate")
@click.argument("incident_id")
@click.option(
    "--severity",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default=None,
    help="Raise to this severity (default: one step up).",
)
@click.option("--reason", required=True, help="Why (recorded, and required to escalate).")
@incident_tenant
@actor_option
def escalate(incident_id: str, severity: str | None, reason: str, tenant: str | None, actor: str) -> None:
    """Escalate: raise the severity; the client gets the escalation notice its routes ask for."""
    from schemas.common import Severity

    with _triage() as triage:
        _done(
            triage.act(
                incident_id,
                "escalate",
                actor,
                tenant=tenant,
                reason=reason,
                severity=Severity(severity) if severity else None,
            )
        )


@incident.command("close")
@click.argument("incident_id")
@click.option(
    "--verdict",
    required=True,
    type=click.Choice(["true_positive", "false_positive", "benign"]),
    help="What it was: a real attack, a false alarm, or real but harmless.",
)
@click.option("--reason", required=True, help="Why (recorded, and required to close).")
@incident_tenant
@actor_option
def close(incident_id: str, verdict: str, reason: str, tenant: str | None, actor: str) -> None:
    """Close with a verdict."""
    from schemas.incident import Verdict

    with _triage() as triage:
        _done(triage.act(incident_id, "close", actor, tenant=tenant, reason=reason, verdict=Verdict(verdict)))


@incident.command("flag")
@click.argument("incident_id")
@click.option(
    "--personal-data-breach",
    "--personal-data",
    "personal_data",
    is_flag=True,
    required=True,
    help="A personal-data breach (GDPR art. 33); --personal-data is the older name.",
)
@incident_tenant
@actor_option
@reason_option
def flag(incident_id: str, personal_data: bool, tenant: str | None, actor: str, reason: str | None) -> None:
    """Flag as a personal-data breach: GDPR art. 33's 72-hour clock starts now (awareness)."""
    with _triage() as triage:
        _done(triage.act(incident_id, "flag_personal_data", actor, tenant=tenant, reason=reason))


@incident.command("notify-regulator")
@click.argument("incident_id")
@click.option("--reference", required=True, help="The supervisory authority's case reference.")
@incident_tenant
@actor_option
@reason_option
def notify_regulator(
    incident_id: str, reference: str, tenant: str | None, actor: str, reason: str | None
) -> None:
    """Record that the regulator was notified: stops the GDPR art. 33 clock."""
    with _triage() as triage:
        _done(
            triage.act(
                incident_id, "notify_regulator", actor, tenant=tenant, reason=reason, reference=reference
            )
        )


@incident.command("hold")
@click.argument("incident_id")
@click.option("--reason", required=True, help="What the client is asked for (recorded, required).")
@incident_tenant
@actor_option
def hold(incident_id: str, reason: str, tenant: str | None, actor: str) -> None:
    """The client holds it (we wait for their answer): its resolve clock pauses until `resume`."""
    with _triage() as triage:
        _done(triage.act(incident_id, "hold", actor, tenant=tenant, reason=reason))


@incident.command("resume")
@click.argument("incident_id")
@incident_tenant
@actor_option
@reason_option
def resume(incident_id: str, tenant: str | None, actor: str, reason: str | None) -> None:
    """The client answered: the resolve clock runs again."""
    with _triage() as triage:
        _done(triage.act(incident_id, "resume", actor, tenant=tenant, reason=reason))


@incident.command("reopen")
@click.argument("incident_id")
@click.option("--reason", required=True, help="Why (recorded, required).")
@incident_tenant
@actor_option
def reopen(incident_id: str, reason: str, tenant: str | None, actor: str) -> None:
    """Reopen a closed incident: its resolve clock runs on from where it stopped."""
    with _triage() as triage:
        _done(triage.act(incident_id, "reopen", actor, tenant=tenant, reason=reason))
