"""A month's report inputs, read from Elasticsearch, and the report files written from them.

The clocks are measured as they stand when the report is made (`as_of`): an incident of the month
still open then is counted as open (or breached), not as met.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from responders.config import ResponderConfig
from responders.evidence.documents import notice_from_doc
from responders.evidence.verify import verify_live
from responders.notices.notifier import SLA_BREACH
from responders.report.charts import client_compliance, tenant_charts
from responders.report.figures import EvidenceSummary, Month, TenantReport, tenant_report
from responders.report.html import provider_html, tenant_html
from responders.report.pdf import provider_pdf, tenant_pdf
from responders.report.provider import ProviderReport, provider_report
from responders.sla.reader import PAGE, ClockReader
from schemas.incident import Incident
from schemas.notice import Notice
from socpipe.es import tenant_indices
from socpipe.settings import Settings


@dataclass
class Written:
    html: Path
    pdf: Path


class ReportReader:
    def __init__(self, es: Elasticsearch, settings: Settings, config: ResponderConfig) -> None:
        self.es = es
        self.settings = settings
        self.config = config
        self.clocks = ClockReader(es, settings, config)

    def _range(self, field: str, month: Month) -> dict[str, Any]:
        return {"range": {field: {"gte": month.start.isoformat(), "lt": month.end.isoformat()}}}

    def incidents(self, tenant: str, month: Month) -> list[Incident]:
        """Opened within the month (incidents from before `opened_at` was recorded: first seen in it)."""
        legacy = {
            "bool": {
                "must_not": {"exists": {"field": "incident.opened_at"}},
                "filter": self._range("incident.first_seen", month),
            }
        }
        query = {
            "bool": {"should": [self._range("incident.opened_at", month), legacy], "minimum_should_match": 1}
        }
        return self.clocks.incidents(tenant, query)

    def notices(self, tenant: str, month: Month) -> list[Notice]:
        """The client's notices of the month (claimed or sent in it); escalations to the provider aside."""
        hits = self.es.search(
            index=tenant_indices(self.settings, tenant).notices,
            query={
                "bool": {
                    "filter": self._range("@timestamp", month),
                    "must_not": {"prefix": {"notice.incident_state": SLA_BREACH}},
                }
            },
            size=PAGE,
            sort=[{"@timestamp": "asc"}],
            ignore_unavailable=True,
            allow_no_indices=True,
        )["hits"]["hits"]
        return [notice_from_doc(h["_source"]) for h in hits]

    def rules(self, tenant: str, month: Month) -> tuple[dict[str, int], dict[str, str]]:
        """Detections per rule in the month, and each rule's title."""
        index = tenant_indices(self.settings, tenant).detections
        self.es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
        response = self.es.search(
            index=index,
            size=0,
            query=self._range("detection.detected_at", month),
            aggs={
                "rules": {
                    "terms": {"field": "detection.rule.id", "size": 10},
                    "aggs": {"title": {"top_hits": {"size": 1, "_source": ["detection.rule.title"]}}},
                }
            },
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        buckets = response.get("aggregations", {}).get("rules", {}).get("buckets", [])
        counts = {b["key"]: b["doc_count"] for b in buckets}
        titles = {
            b["key"]: b["title"]["hits"]["hits"][0]["_source"]["detection"]["rule"]["title"] for b in buckets
        }
        return counts, titles

    def evidence(self, tenant: str, month: Month) -> EvidenceSummary:
        """The whole chain verified now; the month's record count and its last record's hash."""
        index = tenant_indices(self.settings, tenant).evidence
        if not self.es.indices.exists(index=index):
            return EvidenceSummary(ok=True, checked=0, period_records=0)
        verified = verify_live(self.es, self.settings, tenant)
        in_month = self._range("evidence.recorded_at", month)
        count = self.es.count(index=index, query=in_month)["count"]
        last = self.es.search(
            index=index,
            size=1,
            sort=[{"evidence.sequence": "desc"}],
            query={"range": {"evidence.recorded_at": {"lt": month.end.isoformat()}}},
        )["hits"]["hits"]
        head = last[0]["_source"]["evidence"] if last else None
        return EvidenceSummary(
            ok=verified.ok,
            checked=verified.checked,
            problem=str(verified.first_break) if verified.first_break else None,
            period_records=int(count),
            period_head_sequence=head["sequence"] if head else None,
            period_head_hash=head["content_hash"] if head else None,
        )

    def tenant_report(self, tenant: str, label: str, as_of: datetime) -> tuple[TenantReport, list[Incident]]:
        config = self.config.tenant(tenant)
        month = Month.parse(label, config.timezone)
        incidents = self.incidents(tenant, month)
        counts, titles = self.rules(tenant, month)
        report = tenant_report(
            tenant=tenant,
            name=config.name,
            provider=self.config.provider.name,
            month=month,
            as_of=as_of,
            hours=self.config.levels(tenant).hours,
            incidents=incidents,
            clocks=self.clocks.clocks(tenant, incidents, as_of),
            notices=self.notices(tenant, month),
            rule_detections=counts,
            rule_titles=titles,
            evidence=self.evidence(tenant, month),
        )
        return report, incidents


def write_tenant(report: TenantReport, out: Path) -> Written:
    out.mkdir(parents=True, exist_ok=True)
    charts = tenant_charts(report)
    stem = out / f"{report.tenant}-{report.month.label}"
    written = Written(stem.with_suffix(".html"), stem.with_suffix(".pdf"))
    written.html.write_text(tenant_html(report, charts), encoding="utf-8")
    written.pdf.write_bytes(tenant_pdf(report, charts))
    return written


def write_provider(report: ProviderReport, out: Path) -> Written:
    out.mkdir(parents=True, exist_ok=True)
    charts = {"clients": client_compliance(report)}
    stem = out / f"provider-{report.month.label}"
    written = Written(stem.with_suffix(".html"), stem.with_suffix(".pdf"))
    written.html.write_text(provider_html(report, charts), encoding="utf-8")
    written.pdf.write_bytes(provider_pdf(report, charts))
    return written


def provider_month(
    reader: ReportReader, tenants: list[str], label: str, as_of: datetime
) -> tuple[ProviderReport, list[TenantReport]]:
    """Every client's month, and the provider's report over them (months in UTC for the provider)."""
    reports, incidents = [], []
    for tenant in tenants:
        report, theirs = reader.tenant_report(tenant, label, as_of)
        reports.append(report)
        incidents += theirs
    month = Month.parse(label, "UTC")
    return provider_report(reader.config.provider.name, month, as_of, reports, incidents), reports
