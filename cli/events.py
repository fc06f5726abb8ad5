"""`socpipe events index | prune`: each tenant's events index, for host and user timelines.

`index` is a worker like the others (its own consumer group on events.ecs, the one worker loop);
`prune` is a one-shot command for a scheduler (cron, a Kubernetes CronJob), daily.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from cli.worker_commands import stage_command
from socpipe.settings import Settings, get_settings
from socpipe.worker import Stage


def _build(settings: Settings) -> Stage:
    from responders.config import load_tenants
    from responders.events.stage import EventsIndexStage
    from responders.events.template import ensure_events_template
    from socpipe.es import es_client

    tenants = load_tenants(settings)  # a ConfigurationError is told by cli/main.py, exit 2
    es = es_client(settings)
    ensure_events_template(es, settings)  # while Elasticsearch is away this fails and is retried
    on = sorted(t.id for t in tenants.values() if t.events_index.enabled)
    if not on:
        click.echo("events index: no tenant has events_index.enabled in the tenants file; nothing to index")
    return EventsIndexStage(es, settings, tenants)


events = stage_command(
    "events",
    _build,
    lambda s: s.events_index_group,
    lambda s: s.topics.ecs,
    run_name="index",
)
events.help = "Each tenant's own events index (daily indices, opt-in per tenant in the tenants file)."
events.commands[
    "index"
].help = "Run an events indexer in its consumer group: events.ecs into <prefix>-events-<tenant>-YYYY.MM.DD."


@events.command("prune")
@click.option("--dry-run", is_flag=True, help="List the indices that would be deleted; delete nothing.")
def prune_cmd(dry_run: bool) -> None:
    """Delete each tenant's events indices older than its retention_days (by the index name's day)."""
    from responders.config import load_tenants
    from responders.events.prune import prune
    from socpipe.es import check_elasticsearch, es_client

    settings = get_settings()
    tenants = load_tenants(settings)
    check_elasticsearch(settings)
    today = datetime.now(UTC).date()
    expired = prune(es_client(settings), settings, tenants, today, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for e in expired:
        click.echo(f"{verb} {e.index} (tenant {e.tenant}, {e.day}, retention {e.retention_days} days)")
    click.echo(f"{verb} {len(expired)} events indices")
