"""The detector and correlate stages' own throughput, without the bus: what one worker does per core.

Builds event envelopes (as normalise writes them) from the first --events lines of
../shared/corpus/bench/otrf-200k.jsonl.gz, then times in batches of 500:
- the detector stage with Sigma only (baseline): envelope validation, the flat view, all Windows
  rules of the corpus plus the shipped ones, detection messages;
- the detector stage as it runs (heuristics on): the same plus each event's contributions;
- the correlate stage over those contributions: correlation windows, heuristics and per-tenant state
  snapshots; its state topic is read on the local Kafka (`socpipe dev up`), under a fresh prefix.
Prints the median of --repeat runs.

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

from detectors.build import build_correlate_stage, build_engine
from detectors.correlate import CorrelateStage
from detectors.detector import Detector
from detectors.heuristics.config import load_config
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


def _rate(
    stage: DetectorStage | CorrelateStage, records: list[Inbound], out: list[Inbound] | None = None
) -> float:
    """Records per second; the contributions published go to `out` as the correlate stage's input."""
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        messages = stage.process(records[i : i + BATCH]).messages
        if out is not None:
            topic = "detectors.contributions"
            out += [
                Inbound(topic, 0, len(out) + n, m.value or b"")
                for n, m in enumerate(m for m in messages if m.topic.endswith(topic))
            ]
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
    engine = build_engine(base)
    sigma, detect, correlate = [], [], []
    contributions: list[Inbound] = []
    for _ in range(args.repeat):
        sigma.append(_rate(DetectorStage(Detector(engine, None), base.topics), records))
        contributions = []
        detect.append(
            _rate(DetectorStage(Detector(engine, load_config()), base.topics), records, contributions)
        )
        settings = base.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}."})
        KafkaBus(settings).ensure_pipeline_topics()
        correlate.append(_rate(build_correlate_stage(settings), contributions))
    m_sigma, m_detect, m_corr = (statistics.median(x) for x in (sigma, detect, correlate))
    print(f"events: {len(records)} from bench/otrf-200k.jsonl.gz, batches of {BATCH}, one tenant")
    print(f"detector, Sigma only (baseline): {m_sigma:,.0f} events/s median of {args.repeat}")
    print(
        f"detector with contributions: {m_detect:,.0f} events/s "
        f"({m_sigma / m_detect:.2f}x the baseline's cost); "
        f"{len(contributions) / len(records):.2f} contributions per event"
    )
    print(
        f"correlate stage: {m_corr:,.0f} contributions/s "
        f"= {m_corr * len(records) / len(contributions):,.0f} events/s"
    )


if __name__ == "__main__":
    main()
