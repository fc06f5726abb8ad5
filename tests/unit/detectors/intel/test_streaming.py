"""Feeds read as streams: the chunked array reader against json.loads on awkward documents, a STIX
bundle served chunked over HTTP gives what the whole file gives, and a bundle malformed part-way
fails naming where while the running indicators stay (build, validate, swap)."""

from __future__ import annotations

import io
import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import msgspec
import pytest

from detectors.intel.config import IntelConfig
from detectors.intel.feeds import FeedError, FeedSet, fetch, read_feed
from detectors.intel.formats import jsonarray
from detectors.intel.formats.jsonarray import MalformedJsonError, TopLevelArray
from detectors.intel.reload import IntelHolder
from tests.unit.detectors.intel.intel_helpers import DATA, feed

NASTY = ["},{", "}, {", "}]", '\\"},{\\"', "[{", "x\\\\", "é}", ""]


def _element(rng: random.Random, n: int) -> dict[str, object]:
    """An object whose text holds `},{` and `}]` inside strings and nested values."""
    obj: dict[str, object] = {"type": "indicator", "id": f"indicator--{n}", "note": rng.choice(NASTY)}
    if rng.random() < 0.4:
        obj["external_references"] = [{"source_name": rng.choice(NASTY)}, {"url": "u"}]
    if rng.random() < 0.2:
        obj["nested"] = {"a": {"b": [{"c": 1}, {"d": rng.choice(NASTY)}]}}
    return obj


def _document(rng: random.Random, count: int) -> tuple[bytes, list[object], dict[str, object]]:
    objects: list[object] = [_element(rng, n) for n in range(count)]
    members: dict[str, object] = {
        "id": "bundle--1",
        "spec_version": "2.1",
        "note": '"objects": [1]',
        "x_refs": [{"a": "},{"}, {"b": [{"c": 1}]}],  # `},{` and `}]` after the array, when it comes after
    }
    order = ["type", "objects", *members]
    rng.shuffle(order)  # `type` before or after the array
    doc = {k: ("bundle" if k == "type" else objects if k == "objects" else members[k]) for k in order}
    sep = rng.choice([(",", ":"), (", ", ": "), (",\n  ", " : ")])
    return json.dumps(doc, separators=sep, ensure_ascii=rng.random() < 0.5).encode(), objects, doc


@pytest.mark.parametrize("seed", range(6))
def test_chunked_array_reader_agrees_with_json_loads(seed: int) -> None:
    rng = random.Random(seed)
    data, objects, doc = _document(rng, rng.randrange(0, 60))
    for chunk in (1, 7, 64, 4096):
        array = TopLevelArray(io.BytesIO(data), "objects", chunk=chunk)
        assert [msgspec.json.decode(raw) for raw in array] == objects
        assert array.members == {**doc, "objects": None}


def test_chunked_array_reader_names_the_malformed_element() -> None:
    good = [json.dumps(_element(random.Random(n), n)) for n in range(30)]
    broken = [*good[:17], '{"type": "indicator", "id": "x" "pattern": 1}', *good[17:]]
    data = ('{"type": "bundle", "objects": [' + ", ".join(broken) + "]}").encode()
    seen: list[object] = []
    with pytest.raises(MalformedJsonError, match=r"element 18 \(from byte [\d,]+\) is malformed") as caught:
        seen.extend(TopLevelArray(io.BytesIO(data), "objects", chunk=256))
    offset = int(caught.value.args[0].split("from byte ")[1].split(")")[0].replace(",", ""))
    assert data[offset:].startswith(b'{"type": "indicator", "id": "x"')
    truncated = ('{"type": "bundle", "objects": [' + ", ".join(good)).encode()[:-5]
    with pytest.raises(MalformedJsonError, match="element 30"):
        list(TopLevelArray(io.BytesIO(truncated), "objects", chunk=256))


class _Chunked(BaseHTTPRequestHandler):
    """Serves `body` with chunked transfer encoding in small pieces, as a streaming server does."""

    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        body = _Chunked.body
        for at in range(0, len(body), 1000):
            piece = body[at : at + 1000]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chunked_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chunked)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bundle.json"
    finally:
        server.shutdown()
        server.server_close()


def _bundle(count: int) -> bytes:
    """The sample bundle's own objects (markings, skips) plus `count` more indicators, marked by a
    marking definition that comes after them."""
    sample = json.loads((DATA / "bundle.json").read_text())
    extra = [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "created": "2026-12-01T00:00:00Z",
            "modified": "2026-12-01T00:00:00Z",
            "valid_from": "2026-12-01T00:00:00Z",
            "pattern": f"[ipv4-addr:value = '198.18.{n // 250}.{n % 250 + 1}']",
            "pattern_type": "stix",
            "object_marking_refs": ["marking-definition--late"],
        }
        for n in range(count)
    ]
    late = {"type": "marking-definition", "id": "marking-definition--late", "name": "TLP:RED"}
    sample["objects"] += [*extra, late]
    return json.dumps(sample, indent=1).encode()


def _described(indicators: list) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
    return sorted((i.kind, i.value, i.ref, i.provenance, i.first_seen, i.valid_until) for i in indicators)


def test_http_bundle_streamed_chunked_reads_as_the_whole_file(
    chunked_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read whole (the bundle, ~1 MB, is one chunk of the reader) and streamed over chunked HTTP and cut
    into 4 KiB chunks (some 250 of them): the same indicators, provenance, skips."""
    _Chunked.body = _bundle(3000)
    path = tmp_path / "bundle.json"
    path.write_bytes(_Chunked.body)
    assert len(_Chunked.body) < jsonarray.CHUNK
    from_file, file_report = read_feed(feed("b", path=path), path.read_bytes())
    monkeypatch.setattr(jsonarray, "CHUNK", 4096)
    over_http = feed("b", path=None, url=chunked_url)
    with fetch(over_http) as fetched:
        assert fetched.stream is not None
        streamed, report = read_feed(over_http, fetched.stream)
    assert len(streamed) > 3000 and _described(streamed) == _described(from_file)
    assert report.kinds == file_report.kinds and report.skipped == file_report.skipped
    late = [i for i in streamed if i.value.startswith("198.18.")]
    assert {str(i.provenance.tlp) for i in late} == {"red"}  # its marking definition came after them


def test_malformed_bundle_part_way_keeps_the_last_good_indicators(
    chunked_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonarray, "CHUNK", 4096)  # the bad object comes after ~170 good chunks
    good = _bundle(3000)
    _Chunked.body = good
    config = IntelConfig.model_validate({"feeds": [{"name": "b", "url": chunked_url, "format": "stix"}]})
    holder = IntelHolder(FeedSet(config))
    running, before = holder.current, len(holder.current)
    at = good.index(b"indicator--00000000-0000-4000-8000-000000002000")
    _Chunked.body = good[:at] + b'broken"' + good[at:]  # 2/3 of the way in
    matcher, loaded = FeedSet(config).build()  # a fresh process: nothing to fall back on, none loaded
    assert len(matcher) == 0
    message = loaded.missing["b"]
    assert "\n" not in message and "feed b (stix)" in message and "is malformed" in message
    offset = int(message.split("from byte ")[1].split(")", maxsplit=1)[0].replace(",", ""))
    assert offset > 100 * 4096  # the broken object itself, found part-way
    bad = _Chunked.body[offset:]
    assert bad.startswith(b'{\n   "type": "indicator",\n   "spec_version": "2.1",\n   "id": "broken')
    holder.request()  # the running holder keeps the feed's last good indicators, nothing half-loaded
    assert holder.take() is not None and holder.refused == 0
    assert holder.current is not running and len(holder.current) == before
    assert "is malformed" in holder.last.stale["b"]


def _misp(events: int) -> str:
    return json.dumps(
        {
            "response": [
                {
                    "Event": {
                        "info": f"event {n}",
                        "uuid": f"e-{n}",
                        "Attribute": [{"type": "ip-dst", "value": f"198.51.100.{n + 1}", "uuid": f"a-{n}"}],
                        "Tag": [{"name": "tlp:green" if n % 2 else "tlp:red"}],  # after the attributes
                    }
                }
                for n in range(events)
            ]
        }
    )


def test_misp_search_result_is_streamed_event_by_event_and_a_bad_one_is_named() -> None:
    indicators, _ = read_feed(feed("m", format="misp"), _misp(5).encode())
    assert [(i.value, str(i.provenance.tlp)) for i in indicators] == [
        (f"198.51.100.{n + 1}", "green" if n % 2 else "red") for n in range(5)
    ]
    text = _misp(5)
    cut = text.index('{"Event": {"info": "event 3"')
    with pytest.raises(FeedError, match=r"feed m \(misp\): m: malformed JSON in or after event 4 \(parser"):
        read_feed(feed("m", format="misp"), (text[:cut] + "{oops" + text[cut:]).encode())
