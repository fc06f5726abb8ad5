"""Events index: indexing throughput of `socpipe events index`'s stage, and the disk a tenant's day costs.

Real Windows events (the OTRF Security-Datasets sample, `$SOCPIPE_CORPUS/bench/otrf-200k.jsonl.gz`, its
first `--events` lines) are parsed by the `windows` parser into the ECS events the normaliser publishes,
one tenant, spread over today (one daily index), and serialised as on events.ecs. Then, on the real
Elasticsearch, in batches of `--batch` (500, the worker loop's `max_records`), as the worker feeds them:

- **baseline**: the same documents, already made, in one bulk request per batch (`socpipe.es.bulk_items`,
  the stage's own helper) into another tenant's index under the same template: what Elasticsearch costs;
- **stage**: `EventsIndexStage.process` on the envelopes: validation, index naming, documents, bulk;
- **replay**: the stage again on the same batches (every document exists: 409s, nothing written).

The two alternate for `--runs` rounds, each round starting with the other one (fresh indices each
round; the median is reported). Kafka is not
in the loop (the worker's consume and commit are the same for every stage): this is the stage and ES.

Disk: after a refresh and a force merge to one segment, the index's primary store size (`_stats`) per
event, extrapolated to `--per-day` events a day (and the retention's total at 30 days). The same
documents are bulk-written into an index with the default codec, to show what `best_compression` saves.
The machine shares its cores with Elasticsearch, so "client CPU" (this process) is reported beside wall.

    .venv/bin/python benchmarks/events_index.py [--events 20000] [--batch 500] [--runs 3] [--per-day 1000000]
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import Elasticsearch

from ingest.parsers import default_registry
from responders.events.names import events_index
from responders.events.stage import EventsIndexStage
from responders.events.template import ensure_events_template
from schemas.envelope import Envelope
from schemas.event import EcsEvent
from schemas.raw import RawRecord
from schemas.tenant import EventsIndex, Tenant
from socpipe.bus import Inbound
from socpipe.es import bulk_items, es_client
from socpipe.logging import configure_logging
from socpipe.settings import Settings, load_settings

CORPUS = Path(os.environ.get("SOCPIPE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
OTRF = CORPUS / "bench" / "otrf-200k.jsonl.gz"


def load_events(n: int, tenant: str, day: datetime) -> list[bytes]:
    """`n` OTRF lines through the windows parser, re-dated over `day`: envelopes as on events.ecs."""
    parse = default_registry().get("windows").parse
    out: list[bytes] = []
    step = 86_000 / max(n, 1)
    with gzip.open(OTRF, "rt", encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            if len(out) >= n:
                break
            raw = RawRecord(
                tenant=tenant, source="file:otrf", parser="windows", received_at=day, offset=i, data=line
            )
            event = parse(raw)
            event = event.model_copy(update={"timestamp": day + timedelta(seconds=len(out) * step)})
            envelope = Envelope[EcsEvent](kind="event", tenant=tenant, id=event.event_id(), payload=event)
            out.append(envelope.model_dump_json(by_alias=True).encode())
    if len(out) < n:
        raise SystemExit(f"{OTRF} has only {len(out)} events")
    return out


def batches(values: list[bytes], size: int) -> list[list[Inbound]]:
    records = [Inbound("events.ecs", 0, i, v) for i, v in enumerate(values)]
    return [records[i : i + size] for i in range(0, len(records), size)]


def timed(work: Any) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of `work()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def baseline_ops(values: list[bytes], index: str) -> list[list[dict[str, Any]]]:
    """The stage's documents, made beforehand: only the bulk request remains to time."""
    ops: list[dict[str, Any]] = []
    for value in values:
        envelope = orjson.loads(value)
        doc = envelope["payload"]
        doc["organization"] = {"id": envelope["tenant"]}
        ops += [{"create": {"_index": index, "_id": envelope["id"]}}, doc]
    return ops  # type: ignore[return-value]


def store_bytes(es: Elasticsearch, index: str) -> tuple[int, int]:
    """(primary store bytes, documents) after a refresh and a force merge to one segment."""
    es.indices.refresh(index=index)
    es.indices.forcemerge(index=index, max_num_segments=1, wait_for_completion=True)
    es.indices.refresh(index=index)
    stats = es.indices.stats(index=index, metric="store,docs")["indices"][index]["primaries"]
    return int(stats["store"]["size_in_bytes"]), int(stats["docs"]["count"])


def one_round(
    es: Elasticsearch, settings: Settings, values: list[bytes], size: int, day: datetime, *, first: str
) -> dict[str, Any]:
    tenants = {
        "bench": Tenant(id="bench", name="bench", events_index=EventsIndex(enabled=True, retention_days=3650))
    }
    stage = EventsIndexStage(es, settings, tenants, today=day.date)
    chunks = batches(values, size)
    base_index = events_index(settings, "baseline", day)
    ops = baseline_ops(values, base_index)
    base_chunks = [ops[i : i + 2 * size] for i in range(0, len(ops), 2 * size)]

    def baseline() -> None:
        for chunk in base_chunks:
            assert all(r.get("status") == 201 for r in bulk_items(es, chunk))

    def stage_run() -> None:
        for chunk in chunks:
            out = stage.process(chunk)
            assert not out.dead_letters, out.dead_letters[0].reason

    result: dict[str, Any] = {}
    for phase in ("baseline", "stage") if first == "baseline" else ("stage", "baseline"):
        result[phase] = timed(baseline if phase == "baseline" else stage_run)
    result["replay"] = timed(stage_run)
    index = events_index(settings, "bench", day)
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == len(values), "the replay wrote no duplicate"
    result["store"] = store_bytes(es, index)
    return result


def codec_default_bytes(es: Elasticsearch, settings: Settings, values: list[bytes], day: datetime) -> int:
    """The same documents in an index with the default codec (bulk: the dev node has no _reindex)."""
    target = events_index(settings, "defaultcodec", day)
    es.indices.create(index=target, settings={"index": {"codec": "default"}})
    ops = baseline_ops(values, target)
    for i in range(0, len(ops), 1000):
        bulk_items(es, ops[i : i + 1000])
    return store_bytes(es, target)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--per-day", type=int, default=1_000_000, help="a tenant's events a day, for the cost"
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    base = load_settings()
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    values = load_events(args.events, "bench", day)
    print(f"parsed {len(values)} OTRF events in {time.perf_counter() - started:.1f} s; "
          f"mean {statistics.mean(len(v) for v in values):.0f} bytes on events.ecs")  # fmt: skip

    rounds: list[dict[str, Any]] = []
    prefixes: list[str] = []
    es = es_client(base, request_timeout=120)
    try:
        for i in range(args.runs):
            prefix = f"bench{uuid.uuid4().hex[:6]}-socpipe"
            prefixes.append(prefix)
            settings = base.model_copy(update={"index_prefix": prefix})
            ensure_events_template(es, settings)
            rounds.append(
                one_round(es, settings, values, args.batch, day, first=("baseline", "stage")[i % 2])
            )
        last = base.model_copy(update={"index_prefix": prefixes[-1]})
        default_bytes = codec_default_bytes(es, last, values, day)
    finally:
        for prefix in prefixes:
            es.indices.delete(index=f"{prefix}-*", allow_no_indices=True, expand_wildcards="all")
            es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-events")
        es.close()

    n = len(values)
    print(f"\n{platform.node()} ({os.cpu_count()} cores), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{n} events, batches of {args.batch}, {args.runs} rounds (median)")  # fmt: skip
    print(f"{'':10}{'events/s':>12}{'wall s':>9}{'client CPU s':>14}")
    for phase in ("baseline", "stage", "replay"):
        wall = statistics.median(r[phase][0] for r in rounds)
        cpu = statistics.median(r[phase][1] for r in rounds)
        print(f"{phase:10}{n / wall:>12,.0f}{wall:>9.2f}{cpu:>14.2f}")
    store = statistics.median(r["store"][0] for r in rounds)
    per_event = store / n
    day_bytes = per_event * args.per_day
    print(
        f"\ndisk (best_compression, one segment): {store / 1e6:.1f} MB, {n} events: {per_event:.0f} B/event"
    )
    print(f"default codec, same documents: {default_bytes / n:.0f} B/event "
          f"(best_compression saves {1 - store / default_bytes:.0%})")  # fmt: skip
    print(f"a tenant's day at {args.per_day:,} events: {day_bytes / 1e9:.2f} GB primary "
          f"(x2 with a replica); 30 days' retention: {30 * day_bytes / 1e9:.1f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
