"""The worker entry point binds metrics: Prometheus with a port (flag or environment), no-ops without."""

from __future__ import annotations

import os
import socket

import httpx
import pytest
from click.testing import CliRunner

from cli.worker_commands import bound_metrics, stage_command
from socpipe.metrics import NullMetrics
from socpipe.metrics_prometheus import PrometheusMetrics
from socpipe.settings import Settings, SettingsError, get_settings, load_settings
from socpipe.worker import Stage


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SOCPIPE_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()


class StoppedBeforeKafkaError(Exception):
    """Raised by the test's stage builder, so the command stops before it needs Kafka."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def _build(settings: Settings) -> Stage:
    raise StoppedBeforeKafkaError(settings)


def _run_settings(*args: str) -> Settings:
    """The settings `upper run ARGS` builds its stage with."""
    command = stage_command("upper", _build, lambda s: "group", lambda s: s.topics.raw)
    result = CliRunner().invoke(command, ["run", *args])
    assert isinstance(result.exception, StoppedBeforeKafkaError), result.output
    return result.exception.settings


def test_metrics_port_comes_from_the_flag_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run --metrics-port N` overrides SOCPIPE_METRICS_PORT; without either there is no port."""
    assert _run_settings().metrics_port is None
    assert _run_settings("--metrics-port", "9464").metrics_port == 9464
    monkeypatch.setenv("SOCPIPE_METRICS_PORT", "9100")
    monkeypatch.setenv("SOCPIPE_METRICS_HOST", "0.0.0.0")
    get_settings.cache_clear()
    settings = _run_settings()
    assert (settings.metrics_port, settings.metrics_host) == (9100, "0.0.0.0")
    assert _run_settings("--metrics-port", "9464").metrics_port == 9464


def test_a_bad_metrics_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """An out-of-range port or a negative lag interval stops at start with the variable's name."""
    monkeypatch.setenv("SOCPIPE_METRICS_PORT", "70000")
    monkeypatch.setenv("SOCPIPE_METRICS_LAG_INTERVAL_S", "-1")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SOCPIPE_METRICS_PORT" in str(err.value) and "SOCPIPE_METRICS_LAG_INTERVAL_S" in str(err.value)
    command = stage_command("upper", _build, lambda s: "group", lambda s: s.topics.raw)
    result = CliRunner().invoke(command, ["run", "--metrics-port", "70000"])
    assert result.exit_code == 2 and "70000" in result.output


def test_without_a_port_the_worker_gets_null_metrics() -> None:
    """No port, no endpoint: the default costs nothing."""
    with bound_metrics(load_settings()) as metrics:
        assert isinstance(metrics, NullMetrics)


def test_with_a_port_the_exporter_serves_while_the_worker_runs_and_stops_after() -> None:
    """The exporter listens on metrics_host:metrics_port for the worker's lifetime, and not after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with bound_metrics(load_settings(metrics_port=port)) as metrics:
        assert isinstance(metrics, PrometheusMetrics)
        metrics.count("records_processed", 1, stage="upper")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'socpipe_records_processed_total{stage="upper"} 1.0' in text
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_port_in_use_stops_the_worker_at_start_naming_the_setting() -> None:
    """A taken port is a bad setting: the worker refuses to start rather than run without metrics."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(SettingsError, match=f"SOCPIPE_METRICS_PORT.*127.0.0.1:{port}"),
            bound_metrics(load_settings(metrics_port=port)),
        ):
            pass
