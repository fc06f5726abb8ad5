"""The retro-hunt's views of an event's JSON agree with EcsEvent.flat() on what matching reads."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from detectors.intel.fields import TABLE
from detectors.intel.nested import flat_view, lookup_view
from schemas.event import EcsEvent


def test_flat_view_matches_the_model_flat() -> None:
    """flat_view (parsed JSON) and lookup_view (the message's bytes) give the TABLE fields of flat()."""
    when = datetime(2026, 12, 1, tzinfo=UTC)
    event = EcsEvent.model_validate(
        {
            "@timestamp": when,
            "tenant": "acme",
            "source": {"ip": "10.0.0.1"},
            "destination": {"ip": "198.51.100.23", "port": 443, "domain": "x.example"},
            "dns": {"question": {"name": "a.example"}},
            "url": {"original": "http://a.example/x", "domain": "a.example"},
            "related": {"ip": ["10.0.0.1", "198.51.100.23"]},
            "ingest": {"source": "t", "parser": "windows", "received_at": when},
            "original": {"DestinationIp": "198.51.100.24", "Hashes": "MD5=00", "destination.ip": "1.2.3.4"},
        }
    )
    expected = {k: v for k, v in event.flat().items() if k in TABLE}
    view = flat_view(orjson.loads(event.model_dump_json(by_alias=True, exclude_none=True)))
    assert {k: v for k, v in view.items() if k in TABLE} == expected
    assert expected["destination.ip"] == "1.2.3.4"  # the source's own name wins, in both
    payload = orjson.loads(event.model_dump_json(by_alias=True))
    envelope = {"kind": "event", "tenant": "acme", "id": "e-1", "payload": payload}
    seen = lookup_view(orjson.dumps(envelope))
    assert seen is not None and seen.tenant == "acme" and seen.event_id == "e-1"
    assert seen.fields == expected


def test_lookup_view_of_what_is_not_an_event_envelope() -> None:
    """Not JSON, no tenant, or a payload part of the wrong shape: None (the hunt passes it over)."""
    assert lookup_view(b"not json") is None
    assert lookup_view(b'{"payload": {}}') is None
    assert lookup_view(b'{"tenant": "acme", "payload": {"source": "10.0.0.1"}}') is None
    seen = lookup_view(b'{"tenant": "acme", "payload": {"source": {"ip": ["10.0.0.1"]}, "original": {}}}')
    assert seen is not None and seen.fields == {"source.ip": ["10.0.0.1"]}
