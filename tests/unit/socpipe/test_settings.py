"""Settings: a bad value stops the program with a message naming the setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from socpipe.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SOCPIPE_") or name in ("KAFKA_BOOTSTRAP_SERVERS", "ELASTICSEARCH_URL"):
            monkeypatch.delenv(name)


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every invalid setting is listed, by the environment variable the operator sets."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-without-port")
    monkeypatch.setenv("SOCPIPE_BATCH_SIZE", "0")
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "KAFKA_BOOTSTRAP_SERVERS" in message and "kafka-without-port" in message
    assert "SOCPIPE_BATCH_SIZE" in message


def test_unknown_setting_in_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in the config file is an error, not a silently ignored key."""
    config = tmp_path / "socpipe.yaml"
    config.write_text("elasticsearch_url: http://es:9200\nbatch_sise: 10\n")
    monkeypatch.setenv("SOCPIPE_CONFIG", str(config))
    with pytest.raises(SettingsError, match="batch_sise"):
        load_settings()


def test_config_file_values_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Values from the file named by SOCPIPE_CONFIG are used; the environment overrides them."""
    config = tmp_path / "socpipe.yaml"
    config.write_text("elasticsearch_url: http://es:9200/\ntopic_prefix: 'prod.'\n")
    monkeypatch.setenv("SOCPIPE_CONFIG", str(config))
    monkeypatch.setenv("SOCPIPE_TOPIC_PREFIX", "env.")
    settings = load_settings()
    assert settings.elasticsearch_url == "http://es:9200"
    assert settings.topics.detections == "env.detections"


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """SOCPIPE_CONFIG pointing nowhere is reported with the path."""
    monkeypatch.setenv("SOCPIPE_CONFIG", "/nonexistent/socpipe.yaml")
    with pytest.raises(SettingsError, match=re.escape("/nonexistent/socpipe.yaml")):
        load_settings()


def test_consumer_group_timing_defaults_and_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions end within seconds of a worker's death by default; a heartbeat slower than a third of the
    session is refused at start, naming both settings."""
    settings = load_settings()
    assert settings.kafka_session_timeout_ms <= 10_000
    assert settings.kafka_heartbeat_interval_ms * 3 <= settings.kafka_session_timeout_ms
    monkeypatch.setenv("SOCPIPE_KAFKA_HEARTBEAT_INTERVAL_MS", "5000")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SOCPIPE_KAFKA_HEARTBEAT_INTERVAL_MS" in str(err.value)
    assert "SOCPIPE_KAFKA_SESSION_TIMEOUT_MS" in str(err.value)
