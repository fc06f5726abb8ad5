"""HTTP receiver: POST batches of JSON (an array or an object) or NDJSON, authenticated per tenant.

    POST /v1/ingest?parser=json[&host=web1]              tenant from the API key
    POST /v1/tenants/{tenant}/ingest?parser=...          the key must belong to {tenant}, else 403
    Authorization: Bearer <key>   (or X-API-Key: <key>)

    GET  /healthz            200 when Kafka takes batches, 503 with the reason when not
    GET  /openapi.json       this API as OpenAPI 3.1 (http_openapi.py)

401 without a known key, 403 for another tenant's path, a parser the key may not use or a missing
client certificate (tenants that demand one, http_keys.py), 413 for a body over the limit (refused
before it is read), 408 for a body that does not arrive within `body_timeout_s`, 429 with Retry-After
when Kafka is behind (the sink's byte budget is spent) or the key already has `max_requests_per_key`
requests open (199 unfinished bodies on one key no longer hold 199 connections), 503 with Retry-After
at once while Kafka is unavailable (kafka_gate.py), 200 with counts only after Kafka acknowledged
every record; an empty batch is 200 with zero accepted. A body that is not JSON is dead-lettered whole
and answered 400. Idle keep-alive connections close after `idle_timeout_s`. Each refused request
counts once in `ingest_refused{reason=auth|oversize|backpressure|bad_request|unavailable|timeout}`.
With a time zone (`--timezone`, for tenants that POST RFC 3164 syslog lines), records of a parser that
reads local times carry it, as from the syslog and file shippers.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiohttp import web

from ingest.parsers import default_registry
from ingest.shippers.http_keys import ApiKeys, Grant, KeyFileError, digest
from ingest.shippers.http_openapi import openapi
from ingest.shippers.kafka_gate import KafkaGate
from ingest.shippers.network_sink import BudgetExceededError, Message, Outcome
from ingest.shippers.records import Origin
from ingest.shippers.shipper_metrics import ShipperMetrics
from ingest.shippers.tls import fingerprint
from socpipe.logging import get_logger

__all__ = ["ApiKeys", "Grant", "HttpOptions", "KeyFileError", "Receiver", "digest", "serve_http"]

log = get_logger(__name__)

NDJSON_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/json-seq",
    "text/plain",
}


@dataclass(frozen=True)
class HttpOptions:
    source: str
    max_body_bytes: int = 10 * 1024 * 1024
    max_records: int = 50_000
    default_parser: str = "json"
    timezone: str | None = None  # the source's IANA zone, for records whose parser reads local times
    budget_wait_s: float = 2.0
    ack_timeout_s: float = 10.0  # then 503: the client retries rather than hangs
    body_timeout_s: float = 30.0  # the whole body must arrive within this (slow senders get 408)
    idle_timeout_s: float = 15.0  # a keep-alive connection with no request is closed after this
    max_requests_per_key: int = 8  # requests of one API key open at once; more get 429
    retry_after_s: int = 5  # Retry-After of a 503 while Kafka is unavailable


def _presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("X-API-Key") or None


# HTTP status of a refused request -> the `reason` label of ingest_refused.
_REFUSALS = {400: "bad_request", 401: "auth", 403: "auth", 408: "timeout", 413: "oversize",
             429: "backpressure", 503: "unavailable"}  # fmt: skip


def _error(status: int, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers or None)


def _peer_certificate(request: web.Request) -> bytes | None:
    """The DER of the client certificate the connection presented (TLS with a client CA), if any."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    return ssl_object.getpeercert(binary_form=True) if isinstance(ssl_object, ssl.SSLObject) else None


def _split(body: bytes, content_type: str) -> list[bytes]:
    """The batch's records: NDJSON lines as they are, JSON array items re-encoded one per record."""
    if content_type in NDJSON_TYPES:
        return [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]
    value = orjson.loads(body)  # JSONDecodeError for non-JSON, non-UTF-8 or hostile nesting
    items = value if isinstance(value, list) else [value]
    return [orjson.dumps(item) for item in items]


class Receiver:
    def __init__(
        self, keys: ApiKeys, gate: KafkaGate, options: HttpOptions, metrics: ShipperMetrics | None = None
    ) -> None:
        self.keys, self.gate, self.options = keys, gate, options
        # Refusals count from the start, before the gate has a sink (Kafka down at start).
        self.metrics = metrics or (gate.sink.metrics if gate.sink is not None else ShipperMetrics())
        self.registry = default_registry()
        self.bound_port: int | None = None
        self._open: Counter[str] = Counter()  # requests open per key digest

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.options.max_body_bytes)
        app.router.add_post("/v1/ingest", self.ingest)
        app.router.add_post("/v1/tenants/{tenant}/ingest", self.ingest)
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/openapi.json", self.describe)
        return app

    def _refuse(self, status: int, reason: str, **headers: str) -> web.Response:
        """An error answer for a request turned away with nothing written, counted by its reason."""
        self.metrics.refused(self.options.source, _REFUSALS.get(status, str(status)))
        return _error(status, reason, **headers)

    def _unavailable(self, reason: str) -> web.Response:
        return self._refuse(503, reason, **{"Retry-After": str(self.options.retry_after_s)})

    async def health(self, request: web.Request) -> web.Response:
        ready = self.gate.ready
        body: dict[str, object] = {"ok": ready, "ready": ready}
        if self.gate.sink is not None:
            body["queued_bytes"] = self.gate.sink.queued_bytes
        if not ready:
            body["reason"] = self.gate.reason()
        return web.json_response(body, status=200 if ready else 503)

    async def describe(self, request: web.Request) -> web.Response:
        return web.json_response(openapi(self.options, self.registry.names()))

    def _authorise(self, request: web.Request) -> tuple[Origin, str] | web.Response:
        """The request's origin (tenant from the key, parser) and key digest, or the 4xx that refuses it."""
        key = _presented_key(request)
        grant = self.keys.lookup(key) if key else None
        if grant is None or key is None:
            return self._refuse(401, "missing or unknown API key", **{"WWW-Authenticate": "Bearer"})
        wanted = request.match_info.get("tenant")
        if wanted is not None and wanted != grant.tenant:
            return self._refuse(403, f"this API key does not belong to tenant {wanted!r}")
        parser = request.query.get("parser", self.options.default_parser)
        refused = self._grant_refuses(request, grant, parser)
        if refused is not None:
            return refused
        if (request.content_length or 0) > self.options.max_body_bytes:
            return self._refuse(413, f"body over {self.options.max_body_bytes} bytes")
        # Only a parser that reads local times gets the zone: other records stay as older stages read them.
        timezone = self.options.timezone if self.registry.get(parser).local_times else None
        return Origin(grant.tenant, self.options.source, parser, timezone=timezone), digest(key)

    def _grant_refuses(self, request: web.Request, grant: Grant, parser: str) -> web.Response | None:
        """The 400/403 for a parser or a connection the key may not use, or None."""
        if grant.client_certs is not None:
            der = _peer_certificate(request)
            if der is None or fingerprint(der) not in grant.client_certs:
                return self._refuse(403, "this API key must come with a client certificate of its tenant")
        if parser not in self.registry:
            return self._refuse(
                400, f"unknown parser {parser!r}; registered: {', '.join(self.registry.names())}"
            )
        if grant.parsers is not None and parser not in grant.parsers:
            return self._refuse(403, f"this API key may not use parser {parser!r}")
        return None

    async def ingest(self, request: web.Request) -> web.Response:
        authorised = self._authorise(request)
        if isinstance(authorised, web.Response):
            return authorised
        origin, key = authorised
        if self._open[key] >= self.options.max_requests_per_key:
            return self._refuse(
                429, f"this API key has {self._open[key]} requests open already; retry later",
                **{"Retry-After": "1"},
            )  # fmt: skip
        self._open[key] += 1
        try:
            return await self._ingest(request, origin)
        finally:
            self._open[key] -= 1
            if not self._open[key]:
                del self._open[key]

    async def _ingest(self, request: web.Request, origin: Origin) -> web.Response:
        if not self.gate.ready:  # before reading the body: the client learns it at once
            return self._unavailable(f"{self.gate.reason()}; nothing was written, retry later")
        body = await self._read_body(request)
        if isinstance(body, web.Response):
            return body
        received, peer = datetime.now(UTC), request.remote
        host = request.query.get("host") or peer
        if not body.strip():
            return web.json_response({"accepted": 0, "dead_lettered": 0})
        try:
            records = _split(body, request.content_type)
        except orjson.JSONDecodeError as exc:
            reason = f"body is not valid JSON: {exc}"
            bad = [Message(origin, body, received, peer=peer, host=host, refusal=(reason, "JSONDecodeError"))]
            await self._submit(bad)  # kept as a dead letter: answered 400, counted as one
            return _error(400, f"{reason}; use Content-Type application/x-ndjson for NDJSON")
        if len(records) > self.options.max_records:
            return self._refuse(
                413, f"{len(records)} records in one request, over {self.options.max_records}"
            )
        messages = [
            Message(origin, r, received, peer=peer, host=host, line=n) for n, r in enumerate(records, 1)
        ]
        return await self._submit(messages)

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        """The body, or 413 (over the limit), or 408 (not there within body_timeout_s; connection closed)."""
        try:
            return await asyncio.wait_for(request.read(), self.options.body_timeout_s)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, f"body over {self.options.max_body_bytes} bytes")
        except TimeoutError:
            response = self._refuse(408, f"the body did not arrive within {self.options.body_timeout_s} s")
            response.force_close()
            await response.prepare(request)  # sent now, then the connection is cut: aiohttp would
            await response.write_eof()  # otherwise linger, reading the rest of the body
            if request.transport is not None:
                request.transport.close()
            return response

    async def _submit(self, messages: list[Message]) -> web.Response:
        sink = self.gate.sink
        if sink is None or not self.gate.ready:
            return self._unavailable(f"{self.gate.reason()}; nothing was written, retry later")
        try:
            future = await sink.submit_async(messages, timeout_s=self.options.budget_wait_s)
        except BudgetExceededError:
            return self._refuse(429, "Kafka is behind; retry later", **{"Retry-After": "1"})
        except RuntimeError as exc:
            return self._unavailable(str(exc))
        try:
            outcome = await self._acknowledged(future)
        except Exception as exc:  # delivery failed, timed out, or Kafka went away: the client must retry
            log.error("http batch not acknowledged", error=str(exc))
            return self._unavailable("Kafka did not acknowledge the batch; retry")
        return web.json_response({"accepted": outcome.shipped, "dead_lettered": outcome.dead_letters})

    async def _acknowledged(self, future: Future[Outcome]) -> Outcome:
        """The batch's outcome; TimeoutError after `ack_timeout_s`, or as soon as Kafka is not ready."""
        waiting = asyncio.wrap_future(future)
        deadline = time.monotonic() + self.options.ack_timeout_s
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=0.25)
            if done:
                return waiting.result()
            if not self.gate.ready or time.monotonic() > deadline:
                waiting.cancel()  # the sink may still deliver it: at least once, as the client retries
                raise TimeoutError(
                    f"not acknowledged: {self.gate.reason() if not self.gate.ready else 'timeout'}"
                )


async def serve_http(
    receiver: Receiver,
    host: str,
    port: int,
    stop: asyncio.Event,
    started: asyncio.Event | None = None,
    *,
    tls: ssl.SSLContext | None = None,
) -> int:
    """Serve until `stop` is set; returns the bound port (port 0 picks one), set before `started`.

    Listens at once, whether or not Kafka is up: the gate connects in the background (kafka_gate.py)."""
    runner = web.AppRunner(receiver.app(), access_log=None, keepalive_timeout=receiver.options.idle_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    await site.start()
    bound = int(runner.addresses[0][1])
    receiver.bound_port = bound
    log.info("http receiver listening", host=host, port=bound, tls=tls is not None)
    if started is not None:
        started.set()
    try:
        await receiver.gate.run(stop)
    finally:
        await runner.cleanup()
    return bound
