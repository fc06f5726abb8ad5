"""Worker metrics against a real Kafka broker, scraped over HTTP as Prometheus would scrape them."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import suppress

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cli.worker_commands import run_stage
from socpipe.bus import Inbound, KafkaBus, Outbound
from socpipe.metrics_prometheus import PrometheusMetrics
from socpipe.settings import Settings
from socpipe.worker import StageOutput, WorkerStats, run_worker

pytestmark = pytest.mark.kafka

N = 60
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Copy:
    """Copies every record to one output topic: the smallest stage that exercises every metric but DLQ."""

    name = "copy"

    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        return StageOutput(messages=[Outbound(self.out_topic, r.value, key=r.key) for r in batch])


def _produce(bus: KafkaBus, topic: str, count: int) -> None:
    publisher = bus.publisher()
    publisher.send_all(Outbound(topic, f"event {i}".encode(), key=f"host-{i}".encode()) for i in range(count))
    publisher.flush()
    publisher.close()


def _parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _scrape(port: int) -> Samples:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    return _parse(response.text)


def _lag_by_partition(samples: Samples, topic: str) -> dict[str, float]:
    return {
        dict(labels)["partition"]: value
        for (name, labels), value in samples.items()
        if name == "socpipe_consumer_lag" and {("topic", topic), ("stage", "copy")} <= labels
    }


def test_a_scrape_shows_records_outputs_batch_times_and_lag_per_partition(settings: Settings) -> None:
    """After N records: processed == outputs == N, one duration per batch, lag per partition down to 0.

    The lag gauge is measured between batches; each measurement seen during the run equals the records
    not yet processed, so it was > 0 before the worker caught up.
    """
    bus = KafkaBus(settings)
    source, out = f"{settings.topic_prefix}in", f"{settings.topic_prefix}out"
    bus.ensure_topics([source, out, settings.topics.dlq])
    _produce(bus, source, N)
    metrics = PrometheusMetrics()
    port = metrics.serve("127.0.0.1", 0)
    seen: list[tuple[int, float]] = []  # (records processed before a measurement, lag over all partitions)
    processed_before = 0

    def on_batch(stats: WorkerStats) -> None:
        # The gauge was measured at the top of this batch's loop turn, after the previous batch's commit.
        nonlocal processed_before
        lag = _lag_by_partition(_scrape(port), source)
        if lag:
            seen.append((processed_before, sum(lag.values())))
        processed_before = stats.records

    consumer = bus.consumer("copy-group", [source])
    publisher = bus.publisher()
    try:
        stats = run_worker(
            Copy(out),
            consumer,
            publisher,
            settings.topics.dlq,
            poll_timeout_ms=200,
            max_records=10,
            idle_polls_before_exit=3,
            on_batch=on_batch,
            metrics=metrics,
            lag_interval_s=0,
        )
        final = _scrape(port)
    finally:
        consumer.close()
        publisher.close()
        metrics.close()

    stage = frozenset({("stage", "copy")})
    assert stats.records == N and stats.batches >= N // 10
    assert final[("socpipe_records_processed_total", stage)] == N
    assert final[("socpipe_outputs_total", stage | {("topic", out)})] == N
    assert final[("socpipe_dead_letters_total", stage)] == 0
    assert final[("socpipe_batch_duration_seconds_count", stage)] == stats.batches
    assert final[("socpipe_batch_duration_seconds_sum", stage)] > 0
    assert _lag_by_partition(final, source) == {str(p): 0 for p in range(settings.topic_partitions)}
    assert seen, "no lag measurement was visible during the run"
    assert all(lag == N - before for before, lag in seen), seen
    assert seen[0][1] > 0


@pytest.fixture
def _signal_handlers_restored() -> Iterator[None]:
    """run_stage installs SIGTERM/SIGINT handlers for a graceful stop; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("_signal_handlers_restored")
def test_the_stage_entry_point_serves_metrics_on_the_configured_port(settings: Settings) -> None:
    """`<stage> run` with metrics_port set serves the worker's counts over HTTP while it runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings.model_copy(update={"metrics_port": port, "metrics_lag_interval_s": 0.0})
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    _produce(bus, settings.topics.raw, N)
    last: list[Samples] = []
    done = threading.Event()

    def scrape_until_done() -> None:
        while not done.wait(0.05):
            with suppress(httpx.TransportError):  # not listening yet, or already closed
                last.append(_scrape(port))

    scraper = threading.Thread(target=scrape_until_done, daemon=True)
    scraper.start()
    try:
        run_stage(settings, Copy(settings.topics.ecs), "copy-entry-group", settings.topics.raw, idle_exit=5)
    finally:
        done.set()
        scraper.join(timeout=10)
    assert last, "the entry point never answered on its metrics port"
    assert last[-1][("socpipe_records_processed_total", frozenset({("stage", "copy")}))] == N
    assert set(_lag_by_partition(last[-1], settings.topics.raw).values()) == {0}
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
