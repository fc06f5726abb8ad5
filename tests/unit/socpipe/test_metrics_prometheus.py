"""The Prometheus adapter: what the Metrics calls become in the text format an operator scrapes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from socpipe.metrics import InMemoryMetrics, Metrics, NullMetrics
from socpipe.metrics_prometheus import PrometheusMetrics


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _lag(partition: str) -> frozenset[tuple[str, str]]:
    return frozenset({("stage", "upper"), ("topic", "events.raw"), ("partition", partition)})


def test_counters_gauges_and_histograms_are_exposed_with_their_labels() -> None:
    """Counts add up under socpipe_<name>_total, gauges keep the last value, histograms count and sum."""
    metrics = PrometheusMetrics(process_collectors=False)
    metrics.count("records_processed", 3, stage="upper")
    metrics.count("records_processed", 4, stage="upper")
    metrics.count("dead_letters", 0, stage="upper")
    metrics.count("outputs", 7, stage="upper", topic="events.ecs")
    metrics.gauge("consumer_lag", 12, stage="upper", topic="events.raw", partition="0")
    metrics.gauge("consumer_lag", 5, stage="upper", topic="events.raw", partition="0")
    metrics.observe("batch_duration_seconds", 0.2, stage="upper")
    metrics.observe("batch_duration_seconds", 3.0, stage="upper")

    text = metrics.exposition().decode()
    got = _samples(text)
    stage = frozenset({("stage", "upper")})
    assert got[("socpipe_records_processed_total", stage)] == 7
    assert got[("socpipe_dead_letters_total", stage)] == 0  # present at 0, so rate() and alerts work at once
    assert got[("socpipe_outputs_total", stage | {("topic", "events.ecs")})] == 7
    assert got[("socpipe_consumer_lag", _lag("0"))] == 5
    assert got[("socpipe_batch_duration_seconds_count", stage)] == 2
    assert got[("socpipe_batch_duration_seconds_sum", stage)] == pytest.approx(3.2)
    assert got[("socpipe_batch_duration_seconds_bucket", stage | {("le", "0.25")})] == 1
    assert "# TYPE socpipe_consumer_lag gauge" in text
    assert "# HELP socpipe_consumer_lag Records behind" in text


def test_unset_forgets_one_partition_and_ignores_unknown_ones() -> None:
    """A partition handed to another worker disappears from this exporter; the others stay."""
    metrics = PrometheusMetrics(process_collectors=False)
    metrics.gauge("consumer_lag", 1, stage="upper", topic="events.raw", partition="0")
    metrics.gauge("consumer_lag", 2, stage="upper", topic="events.raw", partition="1")
    metrics.unset("consumer_lag", stage="upper", topic="events.raw", partition="0")
    metrics.unset("consumer_lag", stage="upper", topic="events.raw", partition="9")
    metrics.unset("never_declared", stage="upper")
    got = _samples(metrics.exposition().decode())
    assert ("socpipe_consumer_lag", _lag("0")) not in got
    assert got[("socpipe_consumer_lag", _lag("1"))] == 2


def test_other_label_names_or_another_kind_for_a_name_is_a_bug() -> None:
    """Prometheus fixes a metric's labels and type at declaration: a caller that varies them is told so."""
    metrics = PrometheusMetrics(process_collectors=False)
    metrics.count("records_processed", 1, stage="upper")
    with pytest.raises(ValueError, match="has labels \\['stage'\\], got \\['stage', 'topic'\\]"):
        metrics.count("records_processed", 1, stage="upper", topic="x")
    with pytest.raises(ValueError, match="has labels"):
        metrics.count("records_processed", 1, tenant="acme")
    with pytest.raises(ValueError, match="is a Counter, not a Gauge"):
        metrics.gauge("records_processed", 1, stage="upper")


def test_serve_answers_scrapes_over_http_until_closed() -> None:
    """`serve` on port 0 takes a free port; GET /metrics answers with the text format and process metrics."""
    metrics = PrometheusMetrics()
    port = metrics.serve("127.0.0.1", 0)
    try:
        metrics.count("records_processed", 2, stage="upper")
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'socpipe_records_processed_total{stage="upper"} 2.0' in response.text
        assert "process_resident_memory_bytes" in response.text
    finally:
        metrics.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_two_exporters_in_one_process_do_not_share_metrics() -> None:
    """Each exporter has its own registry, so tests and embedded workers never collide on names."""
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.count("records_processed", 1, stage="a")
    second.count("records_processed", 5, stage="b")
    assert 'stage="b"' not in first.exposition().decode()
    assert 'stage="a"' not in second.exposition().decode()


@pytest.mark.parametrize(
    "make",
    [NullMetrics, InMemoryMetrics, lambda: PrometheusMetrics(process_collectors=False)],
    ids=["null", "in-memory", "prometheus"],
)
def test_every_implementation_takes_every_call_of_the_interface(make: Callable[[], Metrics]) -> None:
    """NullMetrics, InMemoryMetrics and PrometheusMetrics stay in step with the Metrics protocol."""
    metrics: Metrics = make()
    metrics.count("records_processed", 1, stage="s")
    metrics.gauge("consumer_lag", 3, stage="s", topic="t", partition="0")
    metrics.observe("batch_duration_seconds", 0.1, stage="s")
    metrics.unset("consumer_lag", stage="s", topic="t", partition="0")


def test_in_memory_metrics_keep_observations_and_forget_unset_gauges() -> None:
    """The test double records what the worker reports, including a gauge's removal."""
    metrics = InMemoryMetrics()
    metrics.observe("batch_duration_seconds", 0.5, stage="s")
    metrics.gauge("consumer_lag", 3, stage="s", topic="t", partition="0")
    metrics.unset("consumer_lag", stage="s", topic="t", partition="0")
    assert metrics.observations[("batch_duration_seconds", (("stage", "s"),))] == [0.5]
    assert metrics.gauges == {}
