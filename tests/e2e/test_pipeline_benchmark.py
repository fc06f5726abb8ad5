"""The pipeline benchmark runs from a clean checkout and writes every figure it promises.

A few seconds at a low rate through the real shipper and every stage on the real Kafka and
Elasticsearch: not a speed test (speed is measured in benchmarks/), a check that the benchmark the
results file quotes still works, and that its run leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from socpipe.es import es_client
from socpipe.paths import REPO_DIR
from socpipe.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.corpus]

KEYS = (
    "rate",
    "sustained",
    "events",
    "incidents",
    "latency_ms",
    "lag_max",
    "cpu_ms_per_1k",
    "detector_share",
)


def _leftovers(settings: Settings, topic_prefix: str, index_prefix: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
    try:
        topics = [t for t in admin.list_topics() if t.startswith(topic_prefix)]
    finally:
        admin.close()
    es = es_client(settings)
    try:
        indices = list(es.indices.get(index=f"{index_prefix}*", allow_no_indices=True))
    finally:
        es.close()
    return topics + indices


def test_pipeline_benchmark_writes_every_figure(settings: Settings, corpus: Path, tmp_path: Path) -> None:
    """At 100 lines/s for 4 s: events accepted, incidents from the attack samples, a latency for each,
    lag and CPU for every stage, a share for each detector worker, a plot; nothing left behind."""
    out, png = tmp_path / "run.json", tmp_path / "run.png"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "SOCPIPE_CORPUS": str(corpus),
    }
    command = [sys.executable, str(REPO_DIR / "benchmarks" / "pipeline.py"), "--rate", "100",
               "--seconds", "4", "--workers", "2", "--partitions", "2", "--tenants", "2",
               "--corpus-lines", "2000", "--drain", "40", "--json", str(out), "--plot", str(png)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    result = json.loads(out.read_text())
    assert set(KEYS) <= set(result)
    assert result["rate"] == 100 and isinstance(result["sustained"], bool)
    assert 350 <= result["events"] <= 400 and result["refused"] == 0
    assert result["incidents"] >= 1 and result["detections"] >= result["incidents"]
    latency = result["latency_ms"]
    assert latency["n"] == result["detections"], "every detection reached its incident and evidence"
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] < 60_000
    assert not any(math.isnan(v) for v in latency.values())
    stages = ("normalise", "detector", "responder")
    assert set(stages) <= set(result["lag_max"]) and all(result["lag_max"][s] >= 0 for s in stages)
    assert all(result["cpu_ms_per_1k"][s] > 0 for s in ("ingest", *stages))
    shares = result["detector_share"]
    assert len(shares) == 2 and math.isclose(sum(shares.values()), 1.0, abs_tol=0.01)
    assert png.stat().st_size > 10_000

    prefix = result["prefix"]
    assert _leftovers(settings, f"{prefix}.", f"{prefix}-") == []
