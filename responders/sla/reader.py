"""The clocks of a tenant's incidents, read from Elasticsearch: incidents, and their first client notices.

Shared by the breach watch (watch.py), `socpipe sla status` and the monthly report, so all three measure
the same thing the same way (clocks.py does the measuring; this only reads).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from responders.config import ResponderConfig
from responders.evidence.documents import incident_from_doc
from responders.notices.notifier import SLA_BREACH, notice_states
from responders.sla.clocks import incident_clocks
from schemas.incident import Incident
from schemas.notice import NoticeStatus
from schemas.sla import Clock
from socpipe.es import tenant_indices
from socpipe.settings import Settings

PAGE = 10_000  # incidents per tenant and read: the open ones, or one month's (a report)


class ClockReader:
    def __init__(self, es: Elasticsearch, settings: Settings, config: ResponderConfig) -> None:
        self.es = es
        self.settings = settings
        self.config = config

    def tenants(self) -> list[str]:
        """Configured tenants, and any other with an incident index (default service levels apply)."""
        every = tenant_indices(self.settings, None).incidents
        prefix = every.removesuffix("*")
        found = self.es.indices.get_alias(index=every, allow_no_indices=True, ignore_unavailable=True)
        return sorted({*self.config.tenants, *(name.removeprefix(prefix) for name in found)})

    def incidents(self, tenant: str, query: dict[str, Any]) -> list[Incident]:
        index = tenant_indices(self.settings, tenant).incidents
        self.es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
        hits = self.es.search(
            index=index, query=query, size=PAGE, ignore_unavailable=True, allow_no_indices=True
        )["hits"]["hits"]
        return [incident_from_doc(h["_source"]) for h in hits]

    def live(self, tenant: str, now: datetime, recent: timedelta) -> list[Incident]:
        """Incidents with a clock that may still run: not closed, a regulator clock not stopped, or
        touched within `recent` (a clock that stopped late since the last look is a breach too)."""
        return self.incidents(
            tenant,
            {
                "bool": {
                    "should": [
                        {"bool": {"must_not": {"term": {"incident.status": "closed"}}}},
                        {
                            "bool": {
                                "filter": {"exists": {"field": "incident.gdpr_deadline"}},
                                "must_not": {"exists": {"field": "incident.regulator_notified_at"}},
                            }
                        },
                        {"range": {"incident.updated_at": {"gte": (now - recent).isoformat()}}},
                    ],
                    "minimum_should_match": 1,
                }
            },
        )

    def first_notices(self, tenant: str, incident_ids: list[str]) -> dict[str, datetime]:
        """When each incident's first client notice was delivered (escalations to the provider aside)."""
        if not incident_ids:
            return {}
        index = tenant_indices(self.settings, tenant).notices
        self.es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
        aggs = self.es.search(
            index=index,
            size=0,
            query={
                "bool": {
                    "filter": [
                        {"terms": {"notice.incident_id": incident_ids}},
                        {"term": {"notice.status": NoticeStatus.sent.value}},
                    ],
                    "must_not": {"prefix": {"notice.incident_state": SLA_BREACH}},
                }
            },
            aggs={
                "by": {
                    "terms": {"field": "notice.incident_id", "size": len(incident_ids)},
                    "aggs": {"first": {"min": {"field": "notice.sent_at"}}},
                }
            },
            ignore_unavailable=True,
            allow_no_indices=True,
        ).get("aggregations", {})
        return {
            b["key"]: datetime.fromisoformat(b["first"]["value_as_string"])
            for b in aggs.get("by", {}).get("buckets", [])
            if b["first"].get("value_as_string")
        }

    def clocks(self, tenant: str, incidents: list[Incident], now: datetime) -> list[Clock]:
        """Every clock of these incidents (all of one tenant) at `now`."""
        levels = self.config.levels(tenant)
        config = self.config.tenant(tenant)
        notified = self.first_notices(tenant, [i.id for i in incidents])
        return [
            clock
            for incident in incidents
            for clock in incident_clocks(
                incident,
                levels,
                zone=config.timezone,
                notified=notified.get(incident.id),
                notify_applies=any("open" in notice_states(incident, r) for r in config.routes),
                now=now,
            )
        ]
