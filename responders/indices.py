"""Elasticsearch layout of the responders: index templates with ECS-aligned mappings, per-tenant indices.

For each tenant T (prefix P, `socpipe` by default):

| index | holds (document id) | read by |
| --- | --- | --- |
| `P-incidents-T` | incidents (the deterministic incident id) | analysts; the client's space |
| `P-detections-T` | detections, with the incident each joined (detection id) | analysts; the client's space |
| `P-notices-T` | notices: status, attempts, delivery receipt (notice id) | analysts; the client's space |
| `P-evidence-T` | the hash chain, append-only (`T-<sequence>`, op_type=create) | auditors; client's space |
| `P-restricted-T` | restricted detections whole, with the indicator's provenance (restricted.py) | analysts |
| `P-state-T` | the responder's bookkeeping: group heads, chain head, evidence keys | the responder |

and the alias `P-tenant-T` over the four client-visible ones (one name to search all of a client's data).
Names are exact per tenant: a role must name them (or the alias) exactly, never with a wildcard such as
`P-*-acme`, which would also match a tenant called `x-acme`.

Every document keeps socpipe's own model under its kind's name (`incident.*`, `detection.*`, `notice.*`,
`evidence.*`) and copies what ECS has a field for to the ECS names (`@timestamp`, `organization.id`,
`event.*`, `host.name`, `user.name`, `source.ip`, `rule.*`, `threat.*`), so Kibana's and Elastic's own
content work on them. Mappings are strict: a field nobody mapped is refused, not guessed.

A detection document carries the event behind it: `detection.event` is the normalised ECS event (nested,
as on events.ecs; at most 16 KiB, `truncated: true` inside when cut down to its triage fields, see
detectors/event_context.py), redacted by the tenant's `sensitive_fields` (responders/redaction.py). It is
mapped `{"type": "object", "enabled": false}`: kept in `_source` and shown by Kibana, never indexed, so
no field of any source can break the strict mapping. A correlation's `detection.related` holds the
count of its contributing events and the ids of the first ten (`related.count`, `related.event_ids`),
which are the `_id`s of those events in the tenant's events index.

Events indices (`P-events-T-YYYY.MM.DD`, daily, provider-side and outside the tenant alias: they are not
redacted) are made by `socpipe events index`; their template is in responders/events/template.py.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

from socpipe.es import IndexKind, tenant_indices
from socpipe.settings import Settings

KINDS: tuple[IndexKind, ...] = ("incidents", "detections", "notices", "evidence", "restricted", "state")
CLIENT_KINDS: tuple[IndexKind, ...] = ("incidents", "detections", "notices", "evidence")

KW: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
DATE: dict[str, Any] = {"type": "date"}
LONG: dict[str, Any] = {"type": "long"}
TEXT_KW: dict[str, Any] = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}}
OFF: dict[str, Any] = {"type": "object", "enabled": False}


def _obj(**properties: Any) -> dict[str, Any]:
    return {"properties": properties}


ENTITY = _obj(host=KW, user=KW, source_ip=KW)

ECS = {
    "@timestamp": DATE,
    "organization": _obj(id=KW, name=KW),
    "event": _obj(kind=KW, severity=LONG, start=DATE, end=DATE, created=DATE, action=KW, outcome=KW),
    "host": _obj(name=KW),
    "user": _obj(name=KW),
    "source": _obj(ip={"type": "ip"}),
    "rule": _obj(id=KW, name=KW),
    "threat": _obj(framework=KW, technique=_obj(id=KW)),
    "message": {"type": "text"},
}

MAPPINGS: dict[str, dict[str, Any]] = {
    "incidents": {
        **ECS,
        "incident": _obj(
            id=KW,
            tenant=KW,
            title=TEXT_KW,
            status=KW,
            severity=KW,
            initial_severity=KW,
            group_key=KW,
            rule_ids=KW,
            entity=ENTITY,
            techniques=KW,
            first_seen=DATE,
            last_seen=DATE,
            detection_count={"type": "integer"},
            detection_ids=KW,
            assignee=KW,
            verdict=KW,
            personal_data={"type": "boolean"},
            gdpr_deadline=DATE,
            regulator_notified_at=DATE,
            regulator_reference=KW,
            opened_at=DATE,
            history=_obj(action=KW, actor=KW, at=DATE, reason={"type": "text"}),
            updated_at=DATE,
            version=LONG,
        ),
    },
    "detections": {
        **ECS,
        "detection": _obj(
            id=KW,
            tenant=KW,
            kind=KW,
            rule=_obj(id=KW, title=TEXT_KW, level=KW, author=KW, tags=KW, logsource=OFF),
            event_time=DATE,
            detected_at=DATE,
            matched=OFF,
            entity=ENTITY,
            event_ref=_obj(
                event_id=KW,
                topic=KW,
                partition={"type": "integer"},
                offset=LONG,
                path=KW,
                line=LONG,
                received_at=DATE,
            ),
            explanation={"type": "text"},
            event=OFF,
            related=_obj(count={"type": "integer"}, event_ids=KW),
        ),
        "incident": _obj(id=KW),
    },
    "notices": {
        **ECS,
        "notice": _obj(
            id=KW,
            tenant=KW,
            incident_id=KW,
            incident_state=KW,
            channel=KW,
            destination=KW,
            subject=TEXT_KW,
            status=KW,
            attempts={"type": "integer"},
            sent_at=DATE,
            receipt=KW,
            error={"type": "text"},
            first_tried_at=DATE,
            retry_at=DATE,
        ),
        "claim": _obj(owner=KW, at=DATE),
        "incident": _obj(id=KW),
    },
    "evidence": {
        **ECS,
        "evidence": _obj(
            tenant=KW,
            sequence=LONG,
            record_type=KW,
            subject_id=KW,
            occurred_at=DATE,
            controls=KW,
            details=OFF,
            evidence_key=KW,
            recorded_at=DATE,
            previous_hash=KW,
            content_hash=KW,
        ),
    },
}
# Restricted detections (restricted.py) are detections: the same strict mapping, in a provider-only index.
MAPPINGS["restricted"] = MAPPINGS["detections"]


def _template(settings: Settings, kind: str) -> dict[str, Any]:
    if kind == "state":
        mappings: dict[str, Any] = {"dynamic": False, "properties": {"kind": KW}}
    else:
        mappings = {"dynamic": "strict", "properties": MAPPINGS[kind]}
    return {
        "index_patterns": [f"{settings.index_prefix}-{kind}-*"],
        "priority": 500,
        "template": {
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "refresh_interval": "1s"},
            "mappings": mappings,
        },
        "_meta": {"managed_by": "socpipe", "description": f"socpipe {kind}, one index per tenant"},
    }


def ensure_templates(es: Elasticsearch, settings: Settings) -> None:
    """Create or update the index templates (idempotent)."""
    for kind in KINDS:
        es.indices.put_index_template(name=f"{settings.index_prefix}-{kind}", **_template(settings, kind))


def ensure_tenant(es: Elasticsearch, settings: Settings, tenant: str) -> None:
    """Create a tenant's indices (from the templates) and its alias; a second call changes nothing.

    An index that exists already gets the fields added to its kind's mapping since it was made (new
    fields only: ES refuses changes to existing ones), so strict mappings never refuse a new field.
    It reads first and writes only what is missing: each write is a cluster-state update, which waits in
    the master's queue; on a busy cluster that held a responder's first batch of each tenant for seconds.
    """
    names = {kind: tenant_indices(settings, tenant).of(kind) for kind in KINDS}
    alias = tenant_indices(settings, tenant).alias
    existing = es.indices.get(index=",".join(names.values()), ignore_unavailable=True, allow_no_indices=True)
    for kind, index in names.items():
        if index not in existing:
            try:
                es.indices.create(index=index)
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
        elif kind in MAPPINGS and not _maps_all(existing[index].get("mappings", {}), MAPPINGS[kind]):
            es.indices.put_mapping(index=index, properties=MAPPINGS[kind])
    unaliased = [
        kind for kind in CLIENT_KINDS if alias not in existing.get(names[kind], {}).get("aliases", {})
    ]
    if unaliased:
        es.indices.update_aliases(actions=[{"add": {"index": names[k], "alias": alias}} for k in unaliased])


def _maps_all(mapping: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether an index's mapping has every field of `wanted` (properties, nested objects' too)."""
    have = mapping.get("properties", {})
    for name, spec in wanted.items():
        if name not in have:
            return False
        if "properties" in spec and not _maps_all(have[name], spec["properties"]):
            return False
    return True
