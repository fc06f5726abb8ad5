"""Threat intelligence at scale: loading 1,000,000 indicators, the detector with them, the retro-hunt.

1. Load: a CSV feed of --indicators synthetic indicators (40% IPv4 addresses, 1% IPv4 CIDR blocks,
   29% domains, 20% SHA-256, 10% URLs), read and indexed in a fresh child process: seconds, and the
   process's resident memory before and after (retained) and at its peak. Then the same for a STIX 2.1
   bundle of --stix-indicators indicators (the same kinds, one `[path = 'value']` pattern each).
2. Detector: `DetectorStage.process` (no Kafka: the stateless stage, the corpus's Windows Sigma rules,
   batches of 500) on the first --events corpus events, without intel and with the 1,000,000 indicators
   loaded, interleaved in the same run, median of --repeat; plus the matcher's own cost per event.
   Needs the detector wiring commit ("intel: wire the matcher into the detector stage").
3. Refresh: the STIX bundle served over local HTTP, a scheduled refresh of it unchanged: fetched and
   read whole (a server without validators, as every refresh was before) against a conditional request
   answered 304 (ETag), alternating in fresh child processes, median of --repeat.
4. Retro-hunt: --held events published to a fresh events.ecs topic on the local Kafka (every 1,000th
   contacting an indicator), then one `Hunter.run` over them with the 1,000,000 indicators.

    .venv/bin/python benchmarks/intel.py [--indicators 1000000] [--events 20000] [--held 200000]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import resource
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

BATCH = 500


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(type, value) pairs; the same for the same n and seed."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for i in range(n):
        share = i % 100
        if share < 40:
            out.append(
                (
                    "ip",
                    f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
                )
            )
        elif share < 41:
            out.append(("ip", f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"))
        elif share < 70:
            out.append(("domain", f"h{i:x}.{rng.choice(['evil', 'bad', 'c2', 'drop'])}{i % 5000}.example"))
        elif share < 90:
            out.append(("sha256", hashlib.sha256(i.to_bytes(8, "little")).hexdigest()))
        else:
            out.append(("url", f"http://u{i:x}.example/p/{i}.php?id={rng.randrange(10**6)}"))
    return out


def write_csv(path: Path, pairs: list[tuple[str, str]]) -> None:
    with path.open("w") as handle:
        handle.write("value,type\n")
        handle.writelines(f"{value},{kind}\n" for kind, value in pairs)


def write_stix(path: Path, pairs: list[tuple[str, str]]) -> None:
    objects = []
    stix_path = {
        "ip": "ipv4-addr:value",
        "domain": "domain-name:value",
        "url": "url:value",
        "sha256": "file:hashes.'SHA-256'",
    }
    for i, (kind, value) in enumerate(pairs):
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.UUID(int=i)}",
                "created": "2026-12-01T00:00:00.000Z",
                "modified": "2026-12-01T00:00:00.000Z",
                "pattern": f"[{stix_path[kind]} = '{value}']",
                "pattern_type": "stix",
                "valid_from": "2026-12-01T00:00:00Z",
                "confidence": 70,
                "indicator_types": ["malicious-activity"],
            }
        )
    path.write_bytes(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}))


MISP_TYPES = {"ip": "ip-dst", "domain": "domain", "url": "url", "sha256": "sha256"}


def write_misp(path: Path, pairs: list[tuple[str, str]], per_event: int = 1000) -> None:
    """A MISP search result (`{"response": [{"Event": ...}, ...]}`) of events of `per_event` attributes."""
    events = []
    for start in range(0, len(pairs), per_event):
        attributes = [
            {
                "type": MISP_TYPES[kind],
                "value": value,
                "uuid": str(uuid.UUID(int=start + n)),
                "category": "Network activity",
                "to_ids": True,
                "timestamp": "1764547200",
            }
            for n, (kind, value) in enumerate(pairs[start : start + per_event])
        ]
        event = {
            "info": f"bench event {start // per_event}",
            "uuid": str(uuid.UUID(int=10**12 + start)),
            "date": "2026-12-01",
            "Tag": [{"name": "tlp:amber"}],
            "Attribute": attributes,
        }
        events.append({"Event": event})
    path.write_bytes(orjson.dumps({"response": events}))


def _load_child(path: str, fmt: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import gc

    from detectors.intel.config import FeedConfig, IntelConfig
    from detectors.intel.feeds import FeedSet

    gc.collect()
    before = rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    feed = FeedConfig.model_validate({"name": "bench", "path": path, "format": fmt})
    matcher, _ = FeedSet(IntelConfig(feeds=[feed])).build()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    gc.collect()
    out.put(
        {
            "seconds": seconds,
            "cpu": cpu,
            "indicators": len(matcher),
            "before": before,
            "retained": rss_mb() - before,
            "peak": peak_mb() - before,
        }
    )


def _reload_child(path: str, fmt: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """A running set, then a reload beside it (build, validate, swap): the peak holds both sets."""
    import gc

    from detectors.intel.config import FeedConfig, IntelConfig
    from detectors.intel.feeds import FeedSet
    from detectors.intel.reload import IntelHolder

    gc.collect()
    before = rss_mb()
    feed = FeedConfig.model_validate({"name": "bench", "path": path, "format": fmt})
    holder = IntelHolder(FeedSet(IntelConfig(refresh_s=0, feeds=[feed])))
    gc.collect()
    one = rss_mb() - before
    first_peak = peak_mb() - before
    Path(path).touch()  # published anew: an unchanged file would not be read again
    holder.request()
    cpu = time.process_time()
    assert holder.take() is not None
    cpu = time.process_time() - cpu
    gc.collect()
    out.put(
        {
            "cpu": cpu,
            "indicators": len(holder.current),
            "set": one,
            "first_peak": first_peak,
            "reload_peak": peak_mb() - before,
            "after_swap": rss_mb() - before,
        }
    )


def _refresh_child(path: str, fmt: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """A scheduled refresh of an unchanged URL feed, served by a local HTTP server: with validators
    (ETag, Last-Modified) it is one conditional request answered 304; without (`fmt` ends in
    "-plain", as every refresh was before conditional fetches) the whole body is fetched and read."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from detectors.intel.config import FeedConfig, IntelConfig
    from detectors.intel.feeds import FeedSet
    from detectors.intel.reload import IntelHolder

    body, validators = Path(path).read_bytes(), not fmt.endswith("-plain")

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if validators and self.headers.get("If-None-Match") == '"1"':
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            if validators:
                self.send_header("ETag", '"1"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/feed.json"
    feed = FeedConfig.model_validate({"name": "bench", "url": url, "format": fmt.removesuffix("-plain")})
    holder = IntelHolder(FeedSet(IntelConfig(refresh_s=0, feeds=[feed])))
    holder.request()
    started, cpu = time.perf_counter(), time.process_time()
    fresh = holder.take()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server.shutdown()
    out.put({"seconds": seconds, "cpu": cpu, "swapped": fresh is not None, "indicators": len(holder.current)})


def measure_load(path: Path, fmt: str, *, reload: bool = False, refresh: bool = False) -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    target = _refresh_child if refresh else _reload_child if reload else _load_child
    child = multiprocessing.get_context("fork").Process(target=target, args=(str(path), fmt, queue))
    child.start()
    result = queue.get(timeout=600)
    child.join()
    return result  # type: ignore[no-any-return]


def refresh(tmp: Path, pairs: list[tuple[str, str]], repeat: int) -> None:
    """An unchanged STIX URL feed refreshed with and without validators, alternating, median of `repeat`."""
    stix = tmp / "refresh.json"
    if not stix.exists():
        write_stix(stix, pairs)
    runs: dict[str, list[dict[str, float]]] = {"stix-plain": [], "stix": []}
    for _ in range(repeat):
        for fmt, got in runs.items():
            got.append(measure_load(stix, fmt, refresh=True))
    plain, conditional = runs["stix-plain"], runs["stix"]
    assert all(r["swapped"] for r in plain) and not any(r["swapped"] for r in conditional)
    wall = [statistics.median(r["seconds"] for r in arm) for arm in (plain, conditional)]
    cpu = [statistics.median(r["cpu"] for r in arm) for arm in (plain, conditional)]
    print(
        f"refresh of an unchanged {plain[0]['indicators']:,.0f}-indicator STIX URL feed "
        f"(median of {repeat}): "
        f"fetched and read whole {wall[0]:.2f} s wall / {cpu[0]:.2f} s CPU; asked with its ETag, 304 "
        f"{wall[1] * 1000:.1f} ms wall / {cpu[1] * 1000:.1f} ms CPU ({wall[0] / wall[1]:,.0f}x less wall)"
    )


def corpus_records(events: int):  # type: ignore[no-untyped-def]
    """The detector benchmark's envelopes (benchmarks/detector_stage.py, on sys.path beside this file)."""
    from detector_stage import _records

    return _records(events)


def detector(csv: Path, events: int, repeat: int) -> None:
    from detectors.build import build_engine
    from detectors.detector import Detector
    from detectors.intel.config import FeedConfig, IntelConfig
    from detectors.intel.feeds import FeedSet
    from detectors.intel.reload import IntelHolder
    from detectors.worker import DetectorStage
    from schemas import EcsEvent, Envelope
    from schemas.detection import EventRef
    from socpipe.paths import corpus_dir
    from socpipe.settings import load_settings

    records = corpus_records(events)
    corpus = corpus_dir()
    assert corpus is not None
    settings = load_settings(rules_dirs=[corpus / "sigma" / "rules" / "windows"])
    holder = IntelHolder(
        FeedSet(IntelConfig(refresh_s=0, feeds=[FeedConfig(name="bench", path=csv, format="csv")]))
    )
    engine = build_engine(settings)  # the stateless stage, Sigma only, with and without the indicators
    without = DetectorStage(Detector(engine, None), settings.topics)
    with_intel = DetectorStage(Detector(engine, None, holder), settings.topics, intel=holder)

    def rate(stage) -> float:  # type: ignore[no-untyped-def]
        """Events per CPU second (the machine is shared: wall time measures the neighbours too)."""
        started = time.process_time()
        for i in range(0, len(records), BATCH):
            stage.process(records[i : i + BATCH])
        return len(records) / (time.process_time() - started)

    def first_sight(stage) -> float:  # type: ignore[no-untyped-def]
        """The matcher's memo of field values emptied first: every value is new to it, as in a stream
        of events it has not seen (repeats within the 20,000 still count)."""
        holder.current.could_hit.memo.clear()
        return rate(stage)

    rate(without), rate(with_intel)  # warm
    base, loaded, cold = [], [], []
    for _ in range(repeat):
        base.append(rate(without))
        loaded.append(rate(with_intel))
        cold.append(first_sight(with_intel))
    b, w = statistics.median(base), statistics.median(loaded)
    print(
        f"detector stage, {len(records):,} corpus events, batches of {BATCH}, Sigma (corpus Windows rules):"
    )
    runs = f"runs {[round(x) for x in base]} vs {[round(x) for x in loaded]}"
    print(
        f"  without intel: {b:,.0f} events/CPU-s; with {len(holder.current):,} indicators: {w:,.0f} "
        f"events/CPU-s = {100 * w / b:.1f}% (median of {repeat}, interleaved; {runs})"
    )
    c = statistics.median(cold)
    print(
        f"  with the memo of field values emptied before each run: {c:,.0f} events/CPU-s = "
        f"{100 * c / b:.1f}% "
        f"(runs {[round(x) for x in cold]})"
    )
    flats = [Envelope[EcsEvent].model_validate_json(r.value).payload.flat() for r in records]
    ref, when = EventRef(event_id="x"), datetime.now(UTC)
    matcher = holder.current
    started = time.process_time()
    for flat in flats:
        matcher.match(flat, "acme", when, ref)
    per_event = (time.process_time() - started) / len(flats)
    print(f"  the matcher alone: {per_event * 1e6:.2f} us per event ({1 / per_event:,.0f} events/s)")


def hunt(csv: Path, pairs: list[tuple[str, str]], held: int) -> None:
    from detectors.intel.config import FeedConfig, IntelConfig
    from detectors.intel.feeds import FeedSet
    from detectors.intel.hunt import Hunter
    from socpipe.bus import KafkaBus, Outbound
    from socpipe.settings import load_settings

    settings = load_settings(topic_prefix=f"benchintel{uuid.uuid4().hex[:6]}.")
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    ips = [value for kind, value in pairs if kind == "ip" and "/" not in value]
    now = datetime.now(UTC)
    publisher = bus.publisher(compression_type="lz4")
    started = time.perf_counter()
    # Envelopes as normalise writes them, made as JSON directly (validating each would be the slow part).
    for n in range(held):
        when = (now - timedelta(seconds=held - n)).isoformat()
        destination = ips[n % len(ips)] if n % 1000 == 0 else f"10.{n % 250}.{n // 250 % 250}.{n % 200 + 1}"
        tenant = f"t{n % 5}"
        payload = {
            "@timestamp": when,
            "tenant": tenant,
            "event": {"kind": "event", "category": ["network"], "type": ["connection"], "code": "3"},
            "host": {"name": f"ws-{n % 300}"},
            "source": {"ip": "10.9.8.7", "port": 50000 + n % 10000},
            "destination": {"ip": destination, "port": 443},
            "ingest": {"source": "bench", "parser": "windows", "received_at": when},
            "original": {
                "EventID": 3,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": f"ws-{n % 300}",
                "DestinationIp": destination,
                "SourceIp": "10.9.8.7",
                "Image": "C:\\Windows\\System32\\svchost.exe",
                "User": "NT AUTHORITY\\SYSTEM",
            },
        }
        envelope = {
            "kind": "event",
            "schema_version": 1,
            "tenant": tenant,
            "id": f"bench-{n}",
            "payload": payload,
        }
        publisher.send(Outbound(settings.topics.ecs, orjson.dumps(envelope), key=tenant.encode()))
    publisher.flush()
    publisher.close()
    took = time.perf_counter() - started
    print(f"retro-hunt: {held:,} events published to {settings.topics.ecs} in {took:.1f} s")
    matcher, _ = FeedSet(IntelConfig(feeds=[FeedConfig(name="bench", path=csv, format="csv")])).build()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = Hunter(settings, matcher).run(now - timedelta(days=7))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:  # the held events are the shared Kafka's disk: the benchmark's topics go when it is done
        admin = bus.admin()
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(settings.topic_prefix)])
        finally:
            admin.close()
    million = 1_000_000 / result.events
    print(
        f"  hunt with {len(matcher):,} indicators: {result.events:,} events in {seconds:.1f} s wall, "
        f"{cpu:.1f} s CPU ({result.events / seconds:,.0f} events/s; 1,000,000 would take "
        f"{seconds * million:.0f} s wall, {cpu * million:.0f} s CPU at this rate); "
        f"{result.detections} detections ({len(range(0, held, 1000))} planted; the others are synthetic "
        "indicators that happen to cover the events' 10.x addresses)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--stix-indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--held", type=int, default=200_000)
    stages = ["load", "refresh", "detector", "hunt"]
    parser.add_argument("--skip", action="append", default=[], choices=stages)
    args = parser.parse_args()
    from socpipe.logging import configure_logging

    configure_logging("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        pairs = synthetic(args.indicators)
        csv = Path(tmp) / "bench.csv"
        write_csv(csv, pairs)
        if "load" not in args.skip:
            got = measure_load(csv, "csv")
            size = csv.stat().st_size / 2**20
            print(
                f"load: {got['indicators']:,} indicators from CSV ({size:.0f} MB) in {got['seconds']:.2f} s "
                f"wall, {got['cpu']:.2f} s CPU; memory retained {got['retained']:.0f} MB, peak "
                f"{got['peak']:.0f} MB over the process's {got['before']:.0f} MB before"
            )
            stix = Path(tmp) / "bench.json"
            write_stix(stix, pairs[: args.stix_indicators])
            got = measure_load(stix, "stix")
            scale = 1_000_000 / got["indicators"]
            print(
                f"load: {got['indicators']:,} indicators from a STIX bundle in {got['seconds']:.2f} s wall, "
                f"{got['cpu']:.2f} s CPU (1,000,000 would take {got['seconds'] * scale:.1f} s wall, "
                f"{got['cpu'] * scale:.1f} s CPU); retained {got['retained']:.0f} MB, "
                f"peak {got['peak']:.0f} MB"
            )
            misp = Path(tmp) / "bench-misp.json"
            write_misp(misp, pairs)
            got = measure_load(misp, "misp")
            print(
                f"load: {got['indicators']:,} indicators from MISP JSON (1,000 events) in {got['cpu']:.2f} s "
                f"CPU; retained {got['retained']:.0f} MB, peak {got['peak']:.0f} MB"
            )
            got = measure_load(stix, "stix", reload=True)
            print(
                f"reload of the STIX bundle beside the running set: the set {got['set']:.0f} MB, the first "
                f"load's peak {got['first_peak']:.0f} MB, the reload's peak {got['reload_peak']:.0f} MB "
                f"(both sets), {got['after_swap']:.0f} MB after the swap; reload {got['cpu']:.2f} s CPU"
            )
        if "refresh" not in args.skip:
            refresh(Path(tmp), pairs[: args.stix_indicators], args.repeat)
        if "detector" not in args.skip:
            detector(csv, args.events, args.repeat)
        if "hunt" not in args.skip:
            hunt(csv, pairs, args.held)


if __name__ == "__main__":
    main()
