"""The HTTP receiver's API as an OpenAPI 3.1 description, served at GET /openapi.json.

Built from the receiver's options, so the limits it states are the ones this receiver enforces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.shippers.http import HttpOptions

_COUNTS = {
    "type": "object",
    "properties": {"accepted": {"type": "integer"}, "dead_lettered": {"type": "integer"}},
    "required": ["accepted", "dead_lettered"],
}
_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def _answer(description: str, schema: dict[str, Any] = _ERROR, retry: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if retry:
        out["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return out


def openapi(options: HttpOptions, parsers: list[str]) -> dict[str, Any]:
    """The description of this receiver's API."""
    body = {
        "required": True,
        "description": (
            f"A JSON array of records, one JSON object, or NDJSON (one record a line). At most "
            f"{options.max_body_bytes} bytes and {options.max_records} records; an empty batch is "
            "answered 200 with zero accepted."
        ),
        "content": {
            "application/json": {"schema": {"oneOf": [{"type": "array"}, {"type": "object"}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
    query = [
        {"name": "parser", "in": "query", "schema": {"type": "string", "enum": parsers,
         "default": options.default_parser}, "description": "How normalise reads the records."},
        {"name": "host", "in": "query", "schema": {"type": "string"},
         "description": "Host the records are from (keeps one host's records in order); default: the peer."},
    ]  # fmt: skip
    responses = {
        "200": _answer("Kafka acknowledged every record (or the batch was empty).", _COUNTS),
        "400": _answer("Not JSON (kept as a dead letter), or an unknown parser."),
        "401": _answer("No API key, or an unknown one."),
        "403": _answer("Another tenant's key, a parser it may not use, or no client certificate."),
        "408": _answer(f"The body did not arrive within {options.body_timeout_s} s."),
        "413": _answer("Body or record count over the limit."),
        "429": _answer("Kafka is behind, or this key has too many requests open: retry later.", retry=True),
        "503": _answer("Kafka is unavailable: nothing was written, retry later.", retry=True),
    }  # fmt: skip
    ingest = {
        "summary": "Ship a batch of log records",
        "parameters": query,
        "requestBody": body,
        "responses": responses,
        "security": [{"bearer": []}, {"apiKey": []}],
    }
    tenant = {"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "socpipe HTTP receiver",
            "version": "1",
            "description": (
                "Tenants POST their logs; the tenant is always the API key's. Requests per key at once: "
                f"{options.max_requests_per_key}; idle connections close after {options.idle_timeout_s} s."
            ),
        },
        "paths": {
            "/v1/ingest": {"post": ingest},
            "/v1/tenants/{tenant}/ingest": {
                "post": {**ingest, "parameters": [tenant, *query], "summary": "Ship a batch (tenant checked)"}
            },
            "/healthz": {
                "get": {
                    "summary": "Readiness: 200 when Kafka takes batches, 503 (with the reason) when not",
                    "security": [],
                    "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
                }
            },
            "/openapi.json": {"get": {"summary": "This description", "security": [], "responses": {}}},
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        },
    }
