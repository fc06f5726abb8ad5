"""`socpipe intel load | list | stats | test VALUE | hunt`: the operator's view of threat intelligence.

Every command reads the configured feeds (rules/intel.yaml or SOCPIPE_INTEL_FILE), or only the feed
files given as arguments (STIX bundle, MISP JSON, CSV or text list, recognised by their content).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.options import check_tenant

if TYPE_CHECKING:
    from detectors.intel.feeds import FeedSet, Loaded
    from detectors.intel.matcher import IndicatorMatcher
    from detectors.intel.reload import IntelHolder
    from socpipe.settings import Settings

FEEDS = click.argument("feeds", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))


def _feed_set(feeds: tuple[Path, ...]) -> FeedSet:
    from detectors.intel.build import intel_path
    from detectors.intel.config import load_config
    from detectors.intel.copies import SavedCopies, copies_dir
    from detectors.intel.feeds import FeedSet, feeds_from_paths
    from socpipe.settings import get_settings

    if feeds:
        return FeedSet(feeds_from_paths(feeds))
    settings = get_settings()
    path = intel_path(settings)
    if path is None:
        raise click.ClickException(
            "no feeds: give feed files, or configure them in rules/intel.yaml (or SOCPIPE_INTEL_FILE)"
        )
    try:
        return FeedSet(load_config(path), SavedCopies(copies_dir(settings)))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _load(feeds: tuple[Path, ...]) -> tuple[IndicatorMatcher, Loaded]:
    feed_set = _feed_set(feeds)
    try:
        return feed_set.build()
    except ValueError as exc:  # FeedError: names the feed
        raise click.ClickException(str(exc)) from None


def _holder(feed_set: FeedSet) -> IntelHolder:
    """The feeds loaded into a holder that refreshes them (`hunt --watch`)."""
    from detectors.intel.reload import IntelHolder

    try:
        return IntelHolder(feed_set)
    except ValueError as exc:  # FeedError: names the feed
        raise click.ClickException(str(exc)) from None


@click.group("intel")
def intel() -> None:
    """Threat-intelligence feeds: what is loaded, what a value matches, retro-hunts."""


@intel.command("load")
@FEEDS
def load(feeds: tuple[Path, ...]) -> None:
    """Read every feed and report per feed what loaded, per kind, and what was skipped and why; exit
    status 1 when a feed could not be fetched (its last good copy, or nothing, stands in)."""
    matcher, loaded = _load(feeds)
    for name, report in loaded.reports.items():
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds.items())) or "nothing"
        skipped = ", ".join(f"{n} {why}" for why, n in report.skipped.most_common())
        click.echo(
            f"{name}: {report.loaded} indicators ({kinds})" + (f"; skipped {skipped}" if skipped else "")
        )
        for example in report.examples[:5]:
            click.echo(f"  skipped: {example}")
    for name, why in loaded.stale.items():
        click.echo(f"{name}: NOT refreshed, last good copy kept: {why}")
    for name, why in loaded.missing.items():
        click.echo(f"{name}: NOT loaded, no copy of it yet: {why}")
    expired = matcher.global_index.expired + sum(i.expired for i in matcher.tenants.values())
    click.echo(f"{len(matcher)} indicators indexed ({expired} expired left out) in {loaded.seconds:.2f} s")
    if loaded.stale or loaded.missing:
        raise click.exceptions.Exit(1)  # a feed is not current: say so to scripts too


@intel.command("list")
@FEEDS
@click.option("--kind", help="Only this kind (ip, domain, url, md5, sha1, sha256, email).")
@click.option("--tenant", callback=check_tenant, help="Only global indicators and this tenant's own.")
@click.option("--limit", default=50, show_default=True, help="At most this many lines (0: all).")
def list_(feeds: tuple[Path, ...], kind: str | None, tenant: str | None, limit: int) -> None:
    """The loaded indicators with their provenance, one a line."""
    from detectors.intel.feeds import iter_indicators
    from detectors.intel.model import iso

    matcher, _ = _load(feeds)
    shown = 0
    for scope, ind in iter_indicators(matcher):
        if (kind and ind.kind != kind) or (tenant and scope not in ("global", tenant)):
            continue
        p = ind.provenance
        click.echo(
            f"{scope}\t{ind.kind}\t{ind.value}\t{p.source}\tTLP:{p.tlp.upper()}\t"
            f"confidence={p.confidence}\tvalid_until={iso(ind.valid_until) or '-'}\t{','.join(p.labels)}"
        )
        shown += 1
        if limit and shown >= limit:
            break


@intel.command("stats")
@FEEDS
def stats(feeds: tuple[Path, ...]) -> None:
    """How many indicators per scope (global, each tenant) and kind, and per feed."""
    matcher, loaded = _load(feeds)
    scopes = {"global": matcher.global_index, **dict(sorted(matcher.tenants.items()))}
    for scope, index in scopes.items():
        counts = ", ".join(f"{k} {n}" for k, n in sorted(index.counts().items())) or "none"
        click.echo(f"{scope}: {len(index)} ({counts}); {index.expired} expired left out")
    for name, report in loaded.reports.items():
        click.echo(f"feed {name}: {report.loaded} loaded, {sum(report.skipped.values())} skipped")
    for tenant, allow in sorted(matcher.allow.items()):
        click.echo(f"allow-list {tenant}: {len(allow)} entries")


@intel.command("test")
@click.argument("value")
@click.option(
    "--tenant",
    default="default",
    show_default=True,
    callback=check_tenant,
    help="Match as this tenant (its feeds, allow-list).",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Feed file to look in (repeatable); default: the configured feeds.",
)
def test(value: str, tenant: str, feeds: tuple[Path, ...]) -> None:
    """What VALUE (an address, domain, URL, hash or email) matches; exit 1 when nothing does."""
    from detectors.intel import values
    from detectors.intel.index import lookup
    from detectors.intel.model import iso

    try:
        kind, normal = values.guess(value)
    except values.BadValueError as exc:
        raise click.ClickException(str(exc)) from None
    matcher, _ = _load(feeds)
    allow = matcher.allow.get(tenant)
    now = time.time()
    found = 0
    for index in matcher.indexes(tenant):
        for ind in lookup(index, kind, normal):
            p = ind.provenance
            state = "expired" if ind.expired(now) else "matches"
            if allow is not None and (lookup(allow, kind, normal) or lookup(allow, ind.kind, ind.value)):
                state = f"allow-listed for {tenant}"
            found += state == "matches"
            click.echo(
                f"{state}: {ind.kind} {ind.value} from {p.source} TLP:{p.tlp.upper()} "
                f"confidence={p.confidence} "
                f"labels={','.join(p.labels) or '-'} first_seen={iso(ind.first_seen) or '-'} "
                f"valid_until={iso(ind.valid_until) or '-'} id={ind.id()}"
            )
    if not found:
        click.echo(f"{kind} {normal}: no indicator matches for tenant {tenant}")
        raise SystemExit(1)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A duration in the one grammar (`7d`, `12h`, `30m`, `2w`) before now, or an ISO 8601 time."""
    from schemas.durations import parse_timedelta

    now = now or datetime.now(UTC)
    try:
        return now - parse_timedelta(text.strip())
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give a duration such as 7d or 12h, or an ISO 8601 time", param_hint="--since"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@intel.command("hunt")
@FEEDS
@click.option("--since", default="7d", show_default=True, help="From this long ago (7d, 12h) or an ISO time.")
@click.option("--tenant", "tenants", multiple=True, help="Only these tenants (repeatable); default all.")
@click.option(
    "--watch", is_flag=True, help="Stay running: hunt again whenever a feed refresh brings new indicators."
)
def hunt(feeds: tuple[Path, ...], since: str, tenants: tuple[str, ...], watch: bool) -> None:
    """Search the events still held in Kafka for the indicators; matches become retrospective detections."""
    from kafka.errors import KafkaError

    from detectors.intel.hunt import Hunter
    from socpipe.settings import get_settings

    settings = get_settings()
    start = parse_since(since)
    if not watch:
        matcher, _ = _load(feeds)
    else:  # one load: the watcher hunts what its refreshes bring beyond these indicators
        feed_set = _feed_set(feeds)
        if not feed_set.config.refresh_s:
            raise click.UsageError(
                "--watch needs feeds that refresh: set refresh_s above 0 in the intel configuration"
            )
        holder = _holder(feed_set)
        matcher = holder.current
    _kafka_answers(settings)
    try:
        _report(Hunter(settings, matcher, tenants=tenants).run(start))
        if watch:
            _watch(holder, since, tenants)
    except KafkaError as exc:
        raise click.ClickException(
            f"Kafka at {settings.kafka_bootstrap_servers}: {exc}; start it or set KAFKA_BOOTSTRAP_SERVERS"
        ) from None


def _kafka_answers(settings: Settings) -> None:
    """Fail in seconds, in one line, when Kafka is not there (the client's own wait is 30 s, and noisy)."""
    from socpipe.bus import check_kafka

    check_kafka(settings)


def _report(result: object) -> None:
    from detectors.intel.hunt import HuntResult

    assert isinstance(result, HuntResult)
    if result.already_done:
        click.echo(f"hunt {result.hunt_id}: already done for these indicators; nothing to do")
        return
    tenants = ", ".join(f"{t} {n}" for t, n in sorted(result.by_tenant.items())) or "none"
    resumed = " (resumed from its checkpoint)" if result.resumed else ""
    click.echo(
        f"hunt {result.hunt_id}{resumed}: {result.events} events searched, "
        f"{result.detections} retrospective detections ({tenants})"
    )


def _watch(holder: IntelHolder, since: str, tenants: tuple[str, ...]) -> None:
    """Refresh the feeds on their schedule; hunt each refresh's new indicators over the window, until
    SIGTERM or Ctrl-C. A watcher outlives outages: a hunt waits for Kafka, then resumes from its
    checkpoint."""
    from detectors.intel.hunt import Hunter, only_new
    from socpipe.outage import Stopped, wait_out
    from socpipe.settings import get_settings
    from socpipe.worker import stop_on_signals

    stop = stop_on_signals()
    click.echo(f"watching the feeds (refresh every {holder.feeds.config.refresh_s:g} s); Ctrl-C stops")
    previous = holder.current
    try:
        while not stop.wait(1.0):
            fresh = holder.take()
            if fresh is None:
                continue
            new = only_new(previous, fresh)
            previous = fresh
            if new is None:
                continue
            click.echo(f"{len(new)} new indicators: hunting")
            start = parse_since(since)
            result = wait_out(
                lambda: Hunter(get_settings(), new, tenants=tenants).run(start),  # noqa: B023
                waiting_for="kafka, to hunt the new indicators",
                stop=stop,
            )
            _report(result)
    except Stopped:
        pass
    click.echo("stopped")
