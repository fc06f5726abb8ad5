"""HTTP receiver: POST batches of JSON (an array or an object) or NDJSON, authenticated per tenant.

    POST /v1/ingest?parser=json[&host=web1]              tenant from the API key
    POST /v1/tenants/{tenant}/ingest?parser=...          the key must belong to {tenant}, else 403
    Authorization: Bearer <key>   (or X-API-Key: <key>)

401 without a known key, 403 for another tenant's path or a parser the key may not use, 413 for a
body over the limit (refused before it is read), 429 with Retry-After when Kafka is behind (the
sink's byte budget is spent), 200 with counts only after Kafka acknowledged every record. A body
that is not JSON is dead-lettered whole and answered 400. Each refused request counts once in
`ingest_refused{reason=auth|oversize|backpressure|bad_request|unavailable}`. With a time zone
(`--timezone`, for tenants that POST RFC 3164 syslog lines), records of a parser that reads local
times carry it, as from the syslog and file shippers.

API keys live in a YAML file, stored as `sha256:<hex digest>` (or, for development, in clear):

    tenants:
      acme:
        keys: ["sha256:9f86d08..."]
        parsers: [json, cloudtrail]     # optional: the parsers this tenant's keys may name
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.parsers import default_registry
from ingest.shippers.network_sink import BudgetExceededError, Message, NetworkSink
from ingest.shippers.records import Origin
from schemas.common import TenantId
from socpipe.errors import ConfigurationError
from socpipe.logging import get_logger

log = get_logger(__name__)

NDJSON_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/json-seq",
    "text/plain",
}


class KeyFileError(ConfigurationError, ValueError):
    """The API key file is unreadable or wrong; the message lists every problem with its place."""

    def __init__(self, problems: str) -> None:
        super().__init__(problems, title="invalid API key file (--keys, SOCPIPE_INGEST_HTTP_KEYS)")


class _TenantKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[str] = Field(min_length=1)
    parsers: list[str] | None = None


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenants: dict[TenantId, _TenantKeys]


@dataclass(frozen=True)
class Grant:
    tenant: str
    parsers: frozenset[str] | None  # None: any registered parser


def digest(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, grants: dict[str, Grant]) -> None:
        self._by_digest = grants

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            parsed = _KeyFile.model_validate(doc)
        except (OSError, yaml.YAMLError) as exc:
            raise KeyFileError(f"{path}: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise KeyFileError(f"{path}: {problems}") from None
        return cls.from_config(parsed.tenants, where=str(path))

    @classmethod
    def from_config(cls, tenants: dict[str, Any], where: str = "keys") -> ApiKeys:
        registry = default_registry()
        grants: dict[str, Grant] = {}
        problems: list[str] = []
        for tenant, entry in tenants.items():
            spec = entry if isinstance(entry, _TenantKeys) else _TenantKeys.model_validate(entry)
            unknown = [p for p in spec.parsers or () if p not in registry]
            if unknown:
                problems.append(
                    f"tenants.{tenant}.parsers: unknown {unknown}; registered: {registry.names()}"
                )
            for n, key in enumerate(spec.keys):
                hashed = key if key.startswith("sha256:") else digest(key)
                if hashed in grants:
                    problems.append(
                        f"tenants.{tenant}.keys[{n}]: the same key is already {grants[hashed].tenant}'s"
                    )
                grants[hashed] = Grant(tenant, frozenset(spec.parsers) if spec.parsers else None)
        if problems:
            raise KeyFileError(f"{where}: " + "; ".join(problems))
        return cls(grants)

    def lookup(self, key: str) -> Grant | None:
        return self._by_digest.get(digest(key))


@dataclass(frozen=True)
class HttpOptions:
    source: str
    max_body_bytes: int = 10 * 1024 * 1024
    max_records: int = 50_000
    default_parser: str = "json"
    timezone: str | None = None  # the source's IANA zone, for records whose parser reads local times
    budget_wait_s: float = 2.0
    ack_timeout_s: float = 60.0


def _presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("X-API-Key") or None


# HTTP status of a refused request -> the `reason` label of ingest_refused.
_REFUSALS = {400: "bad_request", 401: "auth", 403: "auth", 413: "oversize", 429: "backpressure",
             503: "unavailable"}  # fmt: skip


def _error(status: int, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers or None)


def _split(body: bytes, content_type: str) -> list[bytes]:
    """The batch's records: NDJSON lines as they are, JSON array items re-encoded one per record."""
    if content_type in NDJSON_TYPES:
        return [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]
    value = orjson.loads(body)  # JSONDecodeError for non-JSON, non-UTF-8 or hostile nesting
    items = value if isinstance(value, list) else [value]
    return [orjson.dumps(item) for item in items]


class Receiver:
    def __init__(self, keys: ApiKeys, sink: NetworkSink, options: HttpOptions) -> None:
        self.keys, self.sink, self.options = keys, sink, options
        self.registry = default_registry()
        self.bound_port: int | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.options.max_body_bytes)
        app.router.add_post("/v1/ingest", self.ingest)
        app.router.add_post("/v1/tenants/{tenant}/ingest", self.ingest)
        app.router.add_get("/healthz", self.health)
        return app

    def _refuse(self, status: int, reason: str, **headers: str) -> web.Response:
        """An error answer for a request turned away with nothing written, counted by its reason."""
        self.sink.metrics.refused(self.options.source, _REFUSALS.get(status, str(status)))
        return _error(status, reason, **headers)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": self.sink.failed is None, "queued_bytes": self.sink.queued_bytes})

    def _authorise(self, request: web.Request) -> Origin | web.Response:
        """The request's origin (tenant from the key, parser), or the 4xx that refuses it."""
        key = _presented_key(request)
        grant = self.keys.lookup(key) if key else None
        if grant is None:
            return self._refuse(401, "missing or unknown API key", **{"WWW-Authenticate": "Bearer"})
        wanted = request.match_info.get("tenant")
        if wanted is not None and wanted != grant.tenant:
            return self._refuse(403, f"this API key does not belong to tenant {wanted!r}")
        parser = request.query.get("parser", self.options.default_parser)
        if parser not in self.registry:
            return self._refuse(
                400, f"unknown parser {parser!r}; registered: {', '.join(self.registry.names())}"
            )
        if grant.parsers is not None and parser not in grant.parsers:
            return self._refuse(403, f"this API key may not use parser {parser!r}")
        if (request.content_length or 0) > self.options.max_body_bytes:
            return self._refuse(413, f"body over {self.options.max_body_bytes} bytes")
        # Only a parser that reads local times gets the zone: other records stay as older stages read them.
        timezone = self.options.timezone if self.registry.get(parser).local_times else None
        return Origin(grant.tenant, self.options.source, parser, timezone=timezone)

    async def ingest(self, request: web.Request) -> web.Response:
        origin = self._authorise(request)
        if isinstance(origin, web.Response):
            return origin
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, f"body over {self.options.max_body_bytes} bytes")
        received, peer = datetime.now(UTC), request.remote
        host = request.query.get("host") or peer
        try:
            records = _split(body, request.content_type)
        except orjson.JSONDecodeError as exc:
            reason = f"body is not valid JSON: {exc}"
            bad = [Message(origin, body, received, peer=peer, host=host, refusal=(reason, "JSONDecodeError"))]
            message = f"{reason}; use Content-Type application/x-ndjson for NDJSON"
            if not body.strip():
                return self._refuse(400, message)
            await self._submit(bad)  # kept as a dead letter: answered 400, counted as one
            return _error(400, message)
        if len(records) > self.options.max_records:
            return self._refuse(
                413, f"{len(records)} records in one request, over {self.options.max_records}"
            )
        messages = [
            Message(origin, r, received, peer=peer, host=host, line=n) for n, r in enumerate(records, 1)
        ]
        return await self._submit(messages)

    async def _submit(self, messages: list[Message]) -> web.Response:
        try:
            future = await self.sink.submit_async(messages, timeout_s=self.options.budget_wait_s)
        except BudgetExceededError:
            return self._refuse(429, "Kafka is behind; retry later", **{"Retry-After": "1"})
        except RuntimeError as exc:
            return self._refuse(503, str(exc))
        try:
            outcome = await asyncio.wait_for(asyncio.wrap_future(future), self.options.ack_timeout_s)
        except Exception as exc:  # delivery failed or timed out: the client must retry
            log.error("http batch not acknowledged", error=str(exc))
            return self._refuse(503, "Kafka did not acknowledge the batch; retry")
        return web.json_response({"accepted": outcome.shipped, "dead_lettered": outcome.dead_letters})


async def serve_http(
    receiver: Receiver, host: str, port: int, stop: asyncio.Event, started: asyncio.Event | None = None
) -> int:
    """Serve until `stop` is set; returns the bound port (port 0 picks one), set before `started`."""
    runner = web.AppRunner(receiver.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1])
    receiver.bound_port = bound
    log.info("http receiver listening", host=host, port=bound)
    if started is not None:
        started.set()
    try:
        await receiver.sink.wait_until_stopped(stop)
    finally:
        await runner.cleanup()
    return bound
