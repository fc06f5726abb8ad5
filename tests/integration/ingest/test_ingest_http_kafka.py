"""The HTTP receiver against real Kafka: per-tenant API keys, 401/403/413/429, JSON and NDJSON batches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import httpx
import pytest
from ingest_helpers import dead_letters, events, raw_records, run_normalise, serving

from ingest.shippers.http import ApiKeys, HttpOptions, Receiver, digest, serve_http
from ingest.shippers.kafka_gate import KafkaGate
from ingest.shippers.network_sink import NetworkSink
from ingest.shippers.records import RawSink, ingest_producer_settings
from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka

KEYS = ApiKeys.from_config({
    "acme": {"keys": ["acme-key"]},
    "globex": {"keys": [digest("globex-key")], "parsers": ["json", "cloudtrail"]},
})  # fmt: skip


@contextmanager
def _server(
    settings: Settings, *, budget: int = 64 << 20, start_sink: bool = True, **options: object
) -> Iterator[tuple[str, NetworkSink]]:
    """The receiver on its own event loop thread, on a free port; yields its URL and its sink."""
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    sink = NetworkSink(
        RawSink(bus.publisher(**ingest_producer_settings()), bus.topics), max_queued_bytes=budget
    )
    if start_sink:
        sink.start()
    options = {"source": "http:test", **options}
    receiver = Receiver(KEYS, KafkaGate.of(sink), HttpOptions(**options))  # type: ignore[arg-type]
    try:
        with serving(lambda stop, ready: serve_http(receiver, "127.0.0.1", 0, stop, ready)):
            yield f"http://127.0.0.1:{receiver.bound_port}", sink
    finally:
        if start_sink:
            sink.close()
        sink.sink.publisher.close()


NDJSON = "application/x-ndjson"


def _post(url: str, body: bytes, content_type: str = NDJSON, **headers: str) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": content_type, **headers}, timeout=15)


def test_batches_are_shipped_under_the_keys_tenant(settings: Settings) -> None:
    """NDJSON and JSON-array batches are acknowledged after Kafka has them; the tenant is the key's,
    whatever the records claim; each record keeps its place in the batch."""
    trail = b'[{"eventTime": "2026-11-30T08:00:00Z", "eventName": "ConsoleLogin"}]'
    with _server(settings) as (url, _):
        ndjson = b'{"message": "one", "tenant": "globex"}\n{"message": "two"}\n'
        r1 = _post(f"{url}/v1/ingest", ndjson, Authorization="Bearer acme-key")
        r2 = _post(f"{url}/v1/tenants/globex/ingest?parser=cloudtrail&host=aws", trail, "application/json",
                   **{"X-API-Key": "globex-key"})  # fmt: skip
    assert (r1.status_code, r1.json()) == (200, {"accepted": 2, "dead_lettered": 0})
    assert (r2.status_code, r2.json()) == (200, {"accepted": 1, "dead_lettered": 0})
    raws = sorted(raw_records(settings, at_least=3), key=lambda r: (r.tenant, r.line or 0))
    assert [(r.tenant, r.parser, r.line) for r in raws] == [
        ("acme", "json", 1), ("acme", "json", 2), ("globex", "cloudtrail", 1),
    ]  # fmt: skip
    assert raws[2].host_hint == "aws" and raws[0].host_hint == "127.0.0.1"
    run_normalise(settings)
    assert sorted(e.tenant for e in events(settings, at_least=3)) == ["acme", "acme", "globex"]


def test_wrong_missing_and_misused_keys_are_refused(settings: Settings) -> None:
    """No key or an unknown key: 401. Another tenant's key on a tenant's path, or a parser the key may
    not use: 403. Nothing of a refused request reaches Kafka."""
    body = b'{"message": "x"}\n'
    globex = {"X-API-Key": "globex-key"}
    with _server(settings) as (url, _):
        assert _post(f"{url}/v1/ingest", body).status_code == 401
        wrong = _post(f"{url}/v1/ingest", body, Authorization="Bearer nope")
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
        other = _post(f"{url}/v1/tenants/acme/ingest", body, **globex)
        assert other.status_code == 403 and "does not belong to tenant 'acme'" in other.json()["error"]
        assert _post(f"{url}/v1/ingest?parser=syslog", body, **globex).status_code == 403
        assert _post(f"{url}/v1/tenants/acme/ingest", body, **{"X-API-Key": "acme-key"}).status_code == 200
    assert [r.tenant for r in raw_records(settings, at_least=1)] == ["acme"]


def test_oversized_malformed_and_non_utf8_bodies(settings: Settings) -> None:
    """Over the body limit: 413 before reading. Not JSON: 400 and a dead letter. A non-UTF-8 NDJSON
    line: the rest is shipped and that line is dead-lettered."""
    acme = {"X-API-Key": "acme-key"}
    with _server(settings, max_body_bytes=4096) as (url, _):
        big = _post(f"{url}/v1/ingest", b"[" + b"1," * 5000 + b"1]", "application/json", **acme)
        assert big.status_code == 413
        bad = _post(f"{url}/v1/ingest", b'{"unterminated": ', "application/json", **acme)
        assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
        mixed = _post(f"{url}/v1/ingest", b'{"a": 1}\n\xff\xfe\n', **acme)
        assert mixed.json() == {"accepted": 1, "dead_lettered": 1}
    letters = sorted(dead_letters(settings, at_least=2), key=lambda d: d.error_type)
    assert [(d.error_type, d.tenant, d.stage) for d in letters] == [
        ("JSONDecodeError", "acme", "ingest"), ("UnicodeDecodeError", "acme", "ingest"),
    ]  # fmt: skip
    assert letters[0].original == b'{"unterminated": ' and letters[1].position.line == 2


def test_429_when_kafka_is_behind(settings: Settings) -> None:
    """While earlier batches wait for Kafka's acknowledgement (here: the sink is not draining) and the
    byte budget is spent, a new request is answered 429 with Retry-After instead of being buffered."""
    acme = {"X-API-Key": "acme-key"}
    server = _server(settings, budget=1 << 20, start_sink=False, budget_wait_s=0.3, ack_timeout_s=3)
    with server as (url, sink), ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, f"{url}/v1/ingest", b'{"x": "' + b"a" * 900_000 + b'"}\n', **acme)
        while sink.queued_bytes == 0:  # the first batch now holds most of the budget
            time.sleep(0.05)
        second = _post(f"{url}/v1/ingest", b'{"x": "' + b"b" * 300_000 + b'"}\n', **acme)
        assert second.status_code == 429 and second.headers["Retry-After"] == "1"
        assert first.result().status_code == 503, "never acknowledged: the client is told to retry"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"[]", "application/json"), (b"", NDJSON), (b"\n\n  \n", NDJSON), (b"", "application/json")],
)
def test_an_empty_batch_is_200_with_nothing_accepted(
    settings: Settings, body: bytes, content_type: str
) -> None:
    """`[]`, an empty NDJSON body, only blank lines (was a 500 IndexError): 200, zero accepted."""
    with _server(settings) as (url, _):
        answer = _post(f"{url}/v1/ingest", body, content_type, Authorization="Bearer acme-key")
    assert (answer.status_code, answer.json()) == (200, {"accepted": 0, "dead_lettered": 0})


def test_a_receiver_zone_applies_to_syslog_requests_only(settings: Settings) -> None:
    """`--timezone Europe/Paris`: a tenant's POSTed RFC 3164 lines carry the zone and their 10:00 is
    Paris time after normalise; a JSON request to the same receiver carries no zone."""
    lines = b"<13>Jan 15 10:00:00 fw1 app: one\n<13>Jan 15 10:00:00 fw1 app: two\n"
    with _server(settings, default_parser="syslog", timezone="Europe/Paris") as (url, _):
        r1 = _post(f"{url}/v1/ingest", lines, "text/plain", Authorization="Bearer acme-key")
        r2 = _post(f"{url}/v1/ingest?parser=json", b'{"message": "three"}', Authorization="Bearer acme-key")
    assert (r1.status_code, r1.json()) == (200, {"accepted": 2, "dead_lettered": 0})
    assert r2.status_code == 200
    raws = sorted((r.parser, r.timezone or "") for r in raw_records(settings, at_least=3))
    assert raws == [("json", ""), ("syslog", "Europe/Paris"), ("syslog", "Europe/Paris")]
    run_normalise(settings)
    stamps = {e.payload.message: e.payload.timestamp for e in events(settings, at_least=3)}
    assert {stamps["one"].hour, stamps["two"].hour} == {9}  # January: Paris 10:00 is 09:00Z
    assert stamps["one"].astimezone(ZoneInfo("Europe/Paris")).hour == 10
