"""Hostile input, generated (hypothesis), through every receiver and the normalise stage: each ends as
shipped records or dead letters with a reason, never an exception, and never under another tenant.

The receivers run on an in-memory publisher here (hundreds of examples); their Kafka paths have their
integration tests. Parsers alone are covered by test_ingest_parsers_properties.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_fakes import RecordingPublisher

from ingest.normalise import NormaliseStage
from ingest.parsers import default_registry
from ingest.shippers.http import ApiKeys, HttpOptions, Receiver
from ingest.shippers.kafka_gate import KafkaGate
from ingest.shippers.network_sink import NetworkSink
from ingest.shippers.records import Origin, RawSink
from ingest.shippers.syslog import SyslogFramer, _message
from schemas.deadletter import DeadLetter
from schemas.raw import RawRecord
from schemas.topics import Topics
from socpipe.bus import Inbound, Outbound

TOPICS = Topics.with_prefix("")
HOSTILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that look like what receivers get: syslog-ish lines, JSON fragments, octet counts, garbage.
fragments = st.sampled_from([
    b"<13>", b"<999>", b"99999999 ", b"12 ", b"\n", b"\r\n", b"\x00", b"\xff\xfe", b'{"tenant": "globex"}',
    b'{"organization": {"id": "globex"}}', b"[", b"]", b"{", b'"', b"\\u0000", b"\xe2\x80\xa8", b" ",
    b"Nov 30 08:00:00 host app: ", b'[{"a": 1}, 2, "x", null]', b"1e999999", b"[[[[[[[[[[",
])  # fmt: skip
hostile_bytes = st.lists(fragments | st.binary(max_size=40), max_size=20).map(b"".join)


def _tenant_of(message: Outbound) -> str | None:
    """The tenant a message published by a shipper or normalise carries (raw record, dead letter, event)."""
    body = orjson.loads(message.value or b"{}")
    if message.topic == TOPICS.dlq:
        letter = DeadLetter.model_validate(body)
        assert letter.reason and letter.error_type
        return letter.tenant
    if message.topic == TOPICS.raw:
        return RawRecord.model_validate(body).tenant
    return str(body["tenant"])


@HOSTILE
@given(stream=hostile_bytes, cut=st.integers(0, 200), limit=st.integers(16, 256))
def test_syslog_tcp_streams_end_as_records_or_dead_letters_of_the_listeners_tenant(
    stream: bytes, cut: int, limit: int
) -> None:
    """Any bytes, cut anywhere, through the framer and the sink: every message is the listener's tenant's,
    shipped or dead-lettered with a reason; nothing raises."""
    publisher = RecordingPublisher()
    sink = RawSink(publisher, TOPICS, max_record_bytes=limit)  # type: ignore[arg-type]
    framer = SyslogFramer(limit)
    origin = Origin("acme", "syslog-tcp:test", "syslog")
    frames = framer.feed(stream[:cut]) + framer.feed(stream[cut:]) + framer.finish()
    now = datetime.now(UTC)
    for frame in frames:
        m = _message(origin, frame, now, "192.0.2.1")
        if m.refusal:
            sink.refuse(m.origin, m.data, m.refusal[0], m.refusal[1], now, peer=m.peer)
        else:
            sink.ship(m.origin, m.data, now, peer=m.peer, host=m.host)
    assert {_tenant_of(m) for m in publisher.sent} <= {"acme"}
    assert len(publisher.sent) == len(frames)


@HOSTILE
@given(
    data=hostile_bytes,
    parser=st.sampled_from(default_registry().names()),
    key=st.sampled_from(["acme", "globex"]),
)
def test_normalise_turns_any_raw_record_into_events_or_dead_letters_of_its_tenant(
    data: bytes, parser: str, key: str
) -> None:
    """A raw record with hostile data (and a record that is not one at all): events or dead letters with
    a reason, of the record's own tenant, whatever the data claims."""
    raw = RawRecord(
        tenant=key, source="test", parser=parser, received_at=datetime.now(UTC),
        data=data.decode("utf-8", "replace"),
    )  # fmt: skip
    batch = [
        Inbound(TOPICS.raw, 0, 0, raw.model_dump_json().encode(), key.encode()),
        Inbound(TOPICS.raw, 0, 1, data, key.encode()),
    ]
    out = NormaliseStage(TOPICS).process(batch)
    assert {str(orjson.loads(m.value or b"{}")["tenant"]) for m in out.messages} <= {key}
    assert all(letter.reason and letter.tenant in (key, None) for letter in out.dead_letters)
    assert len(out.dead_letters) >= 1  # the second record is never a valid raw record


KEYS = ApiKeys.from_config({"acme": {"keys": ["acme-key"]}, "globex": {"keys": ["globex-key"]}})


@HOSTILE
@given(
    body=hostile_bytes,
    content_type=st.sampled_from(["application/json", "application/x-ndjson", "text/plain", "image/png"]),
    tenant=st.sampled_from(["acme", "globex"]),
    parser=st.sampled_from([*default_registry().names(), "nope"]),
)
def test_http_bodies_are_answered_and_kept_under_the_keys_tenant(
    body: bytes, content_type: str, tenant: str, parser: str
) -> None:
    """Any body, content type and parser name: 200, 400 or 413, never 5xx; whatever was written is the
    key's tenant's, and dead letters carry a reason."""
    publisher = RecordingPublisher()
    sink = NetworkSink(RawSink(publisher, TOPICS, max_record_bytes=512), flush_interval_s=0.0).start()  # type: ignore[arg-type]
    receiver = Receiver(KEYS, KafkaGate.of(sink), HttpOptions(source="http:test", max_body_bytes=4096))

    async def post() -> int:
        async with TestClient(TestServer(receiver.app())) as client:
            response = await client.post(
                f"/v1/ingest?parser={parser}", data=body,
                headers={"Authorization": f"Bearer {tenant}-key", "Content-Type": content_type},
            )  # fmt: skip
            await response.read()
            return response.status

    try:
        status = asyncio.run(post())
    finally:
        sink.close()
    assert status in (200, 400, 413)
    assert {_tenant_of(m) for m in publisher.sent} <= {tenant}
