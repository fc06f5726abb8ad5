"""`socpipe events prune`: delete each tenant's events indices past its retention, by the name's day.

An index of day D is deleted when D is more than `retention_days` before today (UTC): with 30 days,
today's index and the 30 before it stay. Retention is the tenant's (`events_index.retention_days`,
default 30, also for a tenant that turned its index off or is no longer listed: its indices age out
rather than vanish at once). The day comes from the index name, never from ILM (the local node has
none) nor from the documents; an index whose name is not `<prefix>-events-<tenant>-YYYY.MM.DD` for some
tenant is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from elasticsearch import Elasticsearch

from responders.events.names import events_pattern, index_day
from schemas.tenant import EventsIndex, Tenant
from socpipe.settings import Settings


@dataclass(frozen=True)
class Expired:
    index: str
    tenant: str
    day: date
    retention_days: int


def expired_indices(
    names: list[str], settings: Settings, tenants: Mapping[str, Tenant], today: date
) -> list[Expired]:
    """The indices among `names` past their tenant's retention, oldest first."""
    out: list[Expired] = []
    prefix = events_pattern(settings).removesuffix("*")
    for name in names:
        if not name.startswith(prefix):
            continue
        tenant = _tenant_of(name[len(prefix) :])
        if tenant is None:
            continue
        day = index_day(settings, tenant, name)
        if day is None:
            continue
        config = tenants[tenant].events_index if tenant in tenants else EventsIndex()
        if day < today - timedelta(days=config.retention_days):
            out.append(Expired(name, tenant, day, config.retention_days))
    return sorted(out, key=lambda e: (e.day, e.index))


def _tenant_of(rest: str) -> str | None:
    """`acme-2026.01.31` -> `acme` (the day is the last dash-separated part)."""
    tenant, _, _day = rest.rpartition("-")
    return tenant or None


def list_events_indices(es: Elasticsearch, settings: Settings) -> list[str]:
    found = es.cat.indices(index=events_pattern(settings), h="index", format="json", expand_wildcards="all")
    rows = cast(list[dict[str, Any]], found.body)  # format=json: one object a row (typed as text too)
    return sorted(str(row["index"]) for row in rows)


def prune(
    es: Elasticsearch, settings: Settings, tenants: Mapping[str, Tenant], today: date, *, dry_run: bool
) -> list[Expired]:
    """Delete (unless `dry_run`) and return the expired indices."""
    expired = expired_indices(list_events_indices(es, settings), settings, tenants, today)
    if not dry_run:
        for chunk in range(0, len(expired), 50):  # a URL of bounded length
            names = ",".join(e.index for e in expired[chunk : chunk + 50])
            es.indices.delete(index=names, ignore_unavailable=True)
    return expired
