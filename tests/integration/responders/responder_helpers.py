"""Helpers of the responders' integration tests (a module of its own: test modules import it)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from schemas.detection import Detection, Entity, EventRef, RuleRef
from schemas.envelope import Envelope
from socpipe.bus import Inbound
from socpipe.es import IndexKind, tenant_indices
from socpipe.settings import Settings

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
RED_SECRET = "whsec_cmVkLXRlbmFudC1zZWNyZXQtMzItYnl0ZXMtbG9uZyE="
BLUE_SECRET = "whsec_Ymx1ZS10ZW5hbnQtc2VjcmV0LTMyLWJ5dGVzLWxvbmch"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpSink:
    """What the local SMTP server received; `fail_next` makes it answer the next DATA with a code."""

    port: int
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)

    def to(self, address: str) -> list[Message]:
        return [m for m, rcpt in zip(self.messages, self.recipients, strict=True) if address in rcpt]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookSink:
    """What the local HTTP receiver got; `responses[path]` are status codes to answer first (then 200)."""

    port: int
    requests: list[Received] = field(default_factory=list)
    responses: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


def write_tenants(path: Path, webhooks: WebhookSink) -> Path:
    path.write_text(
        "tenants:\n"
        "  - id: red\n"
        "    name: Red Org\n"
        "    personal_data: true\n"
        "    sensitive_fields: [user]\n"
        "    routes:\n"
        "      - {channel: email, destination: soc@red.example, min_severity: high}\n"
        f"      - {{channel: webhook, destination: '{webhooks.url('/red')}', min_severity: medium,\n"
        "         secret_env: SOCPIPE_TEST_WHSEC_RED, notify_on: [open, escalate, acknowledge, close]}\n"
        "  - id: blue\n"
        "    name: Blue Org\n"
        "    routes:\n"
        "      - {channel: email, destination: alerts@blue.example, min_severity: medium}\n"
        f"      - {{channel: webhook, destination: '{webhooks.url('/blue')}', min_severity: low,\n"
        "         secret_env: SOCPIPE_TEST_WHSEC_BLUE}\n"
    )
    return path


def detection(
    n: int,
    tenant: str = "red",
    *,
    rule: str = "rule-a",
    level: str = "high",
    host: str = "ws-1",
    user: str = "alice",
    minutes: float | None = None,
    tags: tuple[str, ...] = ("attack.t1059.001",),
) -> Detection:
    return Detection(
        id=Detection.make_id(tenant, rule, f"evt-{n}"),
        tenant=tenant,
        rule=RuleRef(id=rule, title=f"Rule {rule}", level=level, tags=list(tags)),  # type: ignore[arg-type]
        event_time=T0 + timedelta(minutes=n if minutes is None else minutes),
        entity=Entity(host=host, user=user, source_ip="192.0.2.10"),
        event_ref=EventRef(event_id=f"evt-{n}", topic="events.ecs", partition=0, offset=n),
    )


def envelope_bytes(d: Detection) -> bytes:
    return (
        Envelope[Detection](kind="detection", tenant=d.tenant, id=d.id, payload=d).model_dump_json().encode()
    )


def inbound(detections: list[Detection], start_offset: int = 0) -> list[Inbound]:
    return [
        Inbound(
            topic="detections",
            partition=0,
            offset=start_offset + i,
            value=envelope_bytes(d),
            key=d.tenant.encode(),
        )
        for i, d in enumerate(detections)
    ]


def count(
    es: Elasticsearch, settings: Settings, kind: IndexKind, tenant: str, query: dict[str, Any] | None = None
) -> int:
    index = tenant_indices(settings, tenant).of(kind)
    es.indices.refresh(index=index)
    return int(es.count(index=index, query=query or {"match_all": {}})["count"])


def sources(es: Elasticsearch, settings: Settings, kind: IndexKind, tenant: str) -> list[dict[str, Any]]:
    index = tenant_indices(settings, tenant).of(kind)
    es.indices.refresh(index=index)
    return [h["_source"] for h in es.search(index=index, size=1000)["hits"]["hits"]]
