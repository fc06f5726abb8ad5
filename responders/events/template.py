"""The events indices' template: ECS mappings for what analysts pivot on, nothing else indexed.

Mapped (searchable, aggregatable): `@timestamp`, `organization.id` (the tenant), host, user, process and
its parent, source and destination, `event.*`, `winlog.event_id`, and a few more an analyst filters a
timeline by (url, dns question, file path, message). `dynamic: false` for the rest: every other field
stays in `_source` (shown in Discover) without costing index space or risking a mapping conflict, and
`ignore_malformed` keeps a document whose `source.ip` is not an address rather than refusing it.
`best_compression`: these indices are written once and read rarely, so disk beats CPU on reads.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from responders.events.names import events_pattern
from responders.indices import DATE, KW, LONG, TEXT_KW, _obj  # the one way to write the mappings
from socpipe.settings import Settings

IP: dict[str, Any] = {"type": "ip"}

_PROCESS_FIELDS: dict[str, Any] = {
    "pid": LONG,
    "name": KW,
    "executable": KW,
    "command_line": TEXT_KW,
    "args": KW,
    "entity_id": KW,
}
_ENDPOINT = _obj(ip=IP, port=LONG, domain=KW, bytes=LONG)

MAPPINGS: dict[str, Any] = {
    "@timestamp": DATE,
    "tenant": KW,
    "organization": _obj(id=KW),
    "message": {"type": "text"},
    "event": _obj(
        kind=KW,
        category=KW,
        type=KW,
        action=KW,
        code=KW,
        provider=KW,
        module=KW,
        dataset=KW,
        outcome=KW,
        created=DATE,
        ingested=DATE,
    ),
    "host": _obj(name=KW, hostname=KW, ip=IP),
    "user": _obj(name=KW, domain=KW, id=KW),
    "process": _obj(**_PROCESS_FIELDS, parent=_obj(**_PROCESS_FIELDS)),
    "source": _ENDPOINT,
    "destination": _ENDPOINT,
    "network": _obj(transport=KW, protocol=KW, direction=KW),
    "url": _obj(original=KW, domain=KW, path=KW),
    "dns": _obj(question=_obj(name=KW, type=KW)),
    "file": _obj(path=KW, name=KW),
    "winlog": _obj(event_id=KW, channel=KW),
    "ingest": _obj(source=KW, parser=KW, received_at=DATE),
}


def template_body(settings: Settings) -> dict[str, Any]:
    return {
        "index_patterns": [events_pattern(settings)],
        "priority": 500,
        "template": {
            "settings": {
                "number_of_shards": 1,
                "auto_expand_replicas": "0-1",
                "refresh_interval": "5s",
                "codec": "best_compression",
                "mapping": {"ignore_malformed": True},
            },
            "mappings": {"dynamic": False, "properties": MAPPINGS},
        },
        "_meta": {"managed_by": "socpipe", "description": "socpipe events, one index a tenant and day"},
    }


def ensure_events_template(es: Elasticsearch, settings: Settings) -> None:
    """Create or update the template (idempotent); indices are created by the first write of their day."""
    es.indices.put_index_template(name=f"{settings.index_prefix}-events", **template_body(settings))
