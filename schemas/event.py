"""The ECS-shaped event: what parsers produce and detectors read.

Field names follow the Elastic Common Schema so that Kibana and Elastic's own content work on them.
`original` keeps the source record's own field names (EventID, Image, CommandLine ...), flat, so
Sigma rules written against the source's names still match after normalisation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import TenantId, deterministic_id


class _Ecs(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class EventFields(_Ecs):
    kind: str = "event"
    category: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    action: str | None = None
    code: str | None = None
    provider: str | None = None
    module: str | None = None
    dataset: str | None = None
    outcome: str | None = None
    created: datetime | None = None
    ingested: datetime | None = None
    original: str | None = None


class Host(_Ecs):
    name: str | None = None
    hostname: str | None = None
    ip: list[str] = Field(default_factory=list)


class ParentProcess(_Ecs):
    pid: int | None = None
    executable: str | None = None
    name: str | None = None
    command_line: str | None = None


class Process(_Ecs):
    pid: int | None = None
    executable: str | None = None
    name: str | None = None
    command_line: str | None = None
    parent: ParentProcess | None = None


class User(_Ecs):
    name: str | None = None
    domain: str | None = None
    id: str | None = None


class Endpoint(_Ecs):
    ip: str | None = None
    port: int | None = None
    domain: str | None = None
    bytes: int | None = None


class Network(_Ecs):
    transport: str | None = None
    protocol: str | None = None
    direction: str | None = None
    community_id: str | None = None


class Url(_Ecs):
    original: str | None = None
    path: str | None = None
    query: str | None = None
    domain: str | None = None


class HttpRequest(_Ecs):
    method: str | None = None
    referrer: str | None = None


class HttpResponse(_Ecs):
    status_code: int | None = None
    bytes: int | None = None


class Http(_Ecs):
    version: str | None = None
    request: HttpRequest | None = None
    response: HttpResponse | None = None


class UserAgent(_Ecs):
    original: str | None = None


class DnsQuestion(_Ecs):
    name: str | None = None
    type: str | None = None


class Dns(_Ecs):
    question: DnsQuestion | None = None
    response_code: str | None = None


class FileFields(_Ecs):
    path: str | None = None
    name: str | None = None


class CloudAccount(_Ecs):
    id: str | None = None


class CloudService(_Ecs):
    name: str | None = None


class Cloud(_Ecs):
    provider: str | None = None
    region: str | None = None
    account: CloudAccount | None = None
    service: CloudService | None = None


class Rule(_Ecs):
    """The rule of the source's own detector (a Suricata signature), not a socpipe rule."""

    id: str | None = None
    name: str | None = None
    category: str | None = None


class LogFields(_Ecs):
    """Where the record came from: file and offset, syslog facility, the shipper's name."""

    file_path: str | None = Field(default=None, alias="file.path")
    offset: int | None = None
    logger: str | None = None


class Ingest(BaseModel):
    """socpipe's own provenance: set by the shipper from its configuration, never from log content."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The shipper and input, e.g. 'file:/var/log/x.log' or 'http'.")
    parser: str
    received_at: datetime


HOST_NAME_FIELDS = ("host.name", "Computer", "Hostname", "host.hostname")
"""Where a flat event (`EcsEvent.flat()`) names its host, first found wins: the ECS name, then the Windows
and syslog originals. The one list that detections' entities and the heuristics' host keys both read."""


class EcsEvent(_Ecs):
    timestamp: datetime = Field(alias="@timestamp")
    tenant: TenantId
    event: EventFields = Field(default_factory=EventFields)
    host: Host | None = None
    process: Process | None = None
    user: User | None = None
    source: Endpoint | None = None
    destination: Endpoint | None = None
    log: LogFields | None = None
    message: str | None = None
    network: Network | None = None
    url: Url | None = None
    http: Http | None = None
    user_agent: UserAgent | None = None
    dns: Dns | None = None
    file: FileFields | None = None
    cloud: Cloud | None = None
    rule: Rule | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    ingest: Ingest
    original: dict[str, Any] = Field(default_factory=dict)

    def event_id(self) -> str:
        """Deterministic id: the same source record ingested twice gets the same id."""
        return deterministic_id(
            self.tenant,
            self.ingest.source,
            self.log.offset if self.log else None,
            self.timestamp.isoformat(),
            sorted(self.original.items(), key=lambda kv: kv[0]).__repr__(),
        )

    def flat(self) -> dict[str, Any]:
        """The view detectors match on: original field names plus ECS dotted names.

        Original names win on a clash: a Sigma rule written for `Image` means the source's field.
        """
        flat: dict[str, Any] = {}
        dumped = self.model_dump(
            mode="json", by_alias=True, exclude={"original", "ingest"}, exclude_none=True
        )
        _flatten(dumped, "", flat)
        flat.update(self.original)
        return flat

    def entity_host(self) -> str | None:
        return self.host.name if self.host else None


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{path}.{key}" if path else key, out)
    elif value is not None and value != []:
        out[path] = value
