"""The detector stage's own throughput, without Kafka: what one detector worker can do per core.

Builds event envelopes (as normalise writes them) from the first --events lines of
../shared/corpus/bench/otrf-200k.jsonl.gz, then times `DetectorStage.process` in batches of 500:
envelope validation, the flat view, all Windows rules of the corpus plus the shipped ones, detection
messages, and (stateful) correlation, heuristics and per-tenant state snapshots. The stateful stage
reads and writes its state topic on the local Kafka (`socpipe dev up`), under a fresh topic prefix.
Baseline in the same run: the stateless stage. Prints the median of --repeat runs.

    .venv/bin/python benchmarks/detector_stage.py [--events 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import statistics
import time
import uuid
from datetime import UTC, datetime

import orjson

from detectors.build import build_detector_stage
from detectors.worker import DetectorStage
from schemas import EcsEvent, Envelope
from socpipe.bus import Inbound, KafkaBus
from socpipe.logging import configure_logging
from socpipe.paths import corpus_dir
from socpipe.settings import load_settings

BATCH = 500


def _records(events: int) -> list[Inbound]:
    corpus = corpus_dir()
    if corpus is None:
        raise SystemExit("corpus not found: ../shared/corpus or $SOCPIPE_CORPUS")
    now = datetime.now(UTC)
    out = []
    with gzip.open(corpus / "bench" / "otrf-200k.jsonl.gz", "rb") as lines:
        for offset, line in enumerate(itertools.islice(lines, events)):
            record = orjson.loads(line)
            event = EcsEvent.model_validate(
                {
                    "@timestamp": record.get("SystemTime") or now,
                    "tenant": "acme",
                    "host": {"name": record.get("Computer")},
                    "ingest": {"source": "bench", "parser": "windows", "received_at": now},
                    "original": record,
                }
            )
            envelope = Envelope[EcsEvent](kind="event", tenant="acme", id=event.event_id(), payload=event)
            value = envelope.model_dump_json(by_alias=True, exclude_none=True).encode()
            out.append(Inbound("events.ecs", 0, offset, value))
    return out


def _rate(stage: DetectorStage, records: list[Inbound]) -> float:
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        stage.process(records[i : i + BATCH])
    return len(records) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    configure_logging("ERROR")
    records = _records(args.events)
    corpus = corpus_dir()
    assert corpus is not None
    base = load_settings(rules_dirs=[corpus / "sigma" / "rules" / "windows"])
    stateless, stateful = [], []
    for _ in range(args.repeat):
        stateless.append(_rate(build_detector_stage(base, stateful=False), records))
        settings = base.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}."})
        KafkaBus(settings).ensure_pipeline_topics()
        stateful.append(_rate(build_detector_stage(settings), records))
    median_less, median_ful = statistics.median(stateless), statistics.median(stateful)
    print(f"events: {len(records)} from bench/otrf-200k.jsonl.gz, batches of {BATCH}, one tenant")
    print(f"stateless stage (Sigma only): {median_less:,.0f} events/s median of {args.repeat}")
    print(
        f"stateful stage (+ correlation, heuristics, state snapshots): {median_ful:,.0f} events/s "
        f"({median_less / median_ful:.2f}x the stateless cost)"
    )


if __name__ == "__main__":
    main()
