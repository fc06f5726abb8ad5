"""The pure parts of devtools: config rendering, POM generation, settings, pid handling."""

from __future__ import annotations

import base64
import http.server
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

import devtools as devservers
from cli.main import cli
from devtools import maven, state
from devtools.elasticsearch import ElasticsearchServer, launcher_sources, render_elasticsearch_yml
from devtools.kafka import KafkaServer, TlsListener, new_cluster_id, render_server_properties
from devtools.maven import Artifact
from devtools.models import PidRecord
from devtools.settings import DevSettings, find_java, java_major_version

POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> DevSettings:
    """Settings on free ports and a temporary state folder, so nothing touches real dev servers."""
    for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "ES_PORT", "ES_TRANSPORT_PORT"):
        monkeypatch.setenv(f"SOCPIPE_{name}", str(_free_port()))
    monkeypatch.setenv("SOCPIPE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SOCPIPE_CACHE_DIR", str(tmp_path / "cache"))
    return DevSettings()


# --- Maven -------------------------------------------------------------------------------------


def test_pom_lists_each_artifact_and_pins_the_dependency_plugin() -> None:
    pom = maven.render_pom(
        "kafka",
        [
            Artifact(group_id="org.apache.kafka", artifact_id="kafka_2.13", version="4.4.0"),
            Artifact(group_id="org.apache.logging.log4j", artifact_id="log4j-slf4j-impl", version="2.26.1"),
        ],
    )
    root = ET.fromstring(pom)
    deps = [
        (d.findtext("m:groupId", namespaces=POM_NS), d.findtext("m:artifactId", namespaces=POM_NS))
        for d in root.iterfind("m:dependencies/m:dependency", POM_NS)
    ]
    assert deps == [("org.apache.kafka", "kafka_2.13"), ("org.apache.logging.log4j", "log4j-slf4j-impl")]
    assert root.findtext("m:packaging", namespaces=POM_NS) == "pom"
    plugin = root.find("m:build/m:pluginManagement/m:plugins/m:plugin", POM_NS)
    assert plugin is not None
    assert plugin.findtext("m:version", namespaces=POM_NS) == maven.DEPENDENCY_PLUGIN_VERSION


def test_pom_escapes_xml() -> None:
    pom = maven.render_pom("x<y", [Artifact(group_id="a&b", artifact_id="c", version="1")])
    root = ET.fromstring(pom)
    assert root.findtext("m:artifactId", namespaces=POM_NS) == "x<y"


def test_copy_dependencies_command_takes_the_runtime_classpath(tmp_path: Path) -> None:
    command = maven.copy_dependencies_command("mvn", tmp_path / "pom.xml", tmp_path / "lib")
    assert "dependency:copy-dependencies" in command
    assert f"-DoutputDirectory={tmp_path / 'lib'}" in command
    assert "-DincludeScope=runtime" in command
    assert "--batch-mode" in command


def test_fetch_skips_maven_when_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = maven.jars_dir(tmp_path, "kafka", "4.4.0")
    (target / "lib").mkdir(parents=True)
    (target / "lib" / "kafka_2.13-4.4.0.jar").write_bytes(b"PK")
    (target / maven.COMPLETE_MARKER).write_text("done")
    monkeypatch.setattr(maven.shutil, "which", lambda _: pytest.fail("mvn must not run for a cached fetch"))
    lib, seconds = maven.fetch("kafka", "4.4.0", [], tmp_path)
    assert lib == target / "lib"
    assert seconds == 0.0


def test_half_fetched_folder_is_not_cached(tmp_path: Path) -> None:
    target = maven.jars_dir(tmp_path, "es", "8.19.21")
    (target / "lib").mkdir(parents=True)
    (target / "lib" / "a.jar").write_bytes(b"PK")
    assert not maven.is_cached(target)  # no .complete marker: the copy was interrupted


# --- Kafka -------------------------------------------------------------------------------------


def _properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_kafka_properties_are_a_single_node_test_broker(tmp_path: Path) -> None:
    props = _properties(render_server_properties("127.0.0.1", 9092, 9093, tmp_path / "data"))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["log.dirs"] == str(tmp_path / "data")
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"
    assert props["num.partitions"] == "3"


def test_kafka_properties_follow_the_port_settings(isolated: DevSettings) -> None:
    server = KafkaServer(isolated)
    text = render_server_properties(server.host, server.port, isolated.kafka_controller_port, server.data_dir)
    assert f"PLAINTEXT://127.0.0.1:{isolated.kafka_port}" in _properties(text)["listeners"]
    assert server.address == f"127.0.0.1:{isolated.kafka_port}"
    assert str(server.artifacts()[0]) == f"org.apache.kafka:kafka_2.13:{isolated.kafka_version}"


def test_kafka_command_runs_the_broker_with_a_small_heap(isolated: DevSettings, tmp_path: Path) -> None:
    server = KafkaServer(isolated)
    command = server.command(Path("/jdk/bin/java"), tmp_path / "lib")
    assert command[0] == "/jdk/bin/java"
    assert "-Xmx512m" in command
    assert command[-2:] == ["kafka.Kafka", str(server.config_file)]
    assert server.marker in " ".join(command)  # how a pid is recognised as this broker


def test_cluster_id_is_a_kafka_uuid() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


# --- Elasticsearch -----------------------------------------------------------------------------


def test_elasticsearch_yml_is_one_local_node(tmp_path: Path) -> None:
    text = render_elasticsearch_yml(
        host="127.0.0.1",
        http_port=9200,
        transport_port=9300,
        data_dir=tmp_path / "data",
        logs_dir=tmp_path / "logs",
        repo_dir=tmp_path / "repo",
    )
    conf = yaml.safe_load(text)
    assert conf["discovery.type"] == "single-node"
    assert conf["network.host"] == "127.0.0.1"
    assert conf["http.port"] == "9200"
    assert conf["transport.port"] == "9300"
    assert conf["path.data"] == str(tmp_path / "data")
    assert conf["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert not any(key.startswith("xpack.") for key in conf)  # x-pack is not on the classpath


def test_launcher_sources_ship_with_the_package() -> None:
    sources = launcher_sources()
    assert set(sources) == {
        "org/elasticsearch/node/SocpipeDevNode.java",
        "org/elasticsearch/plugins/ClasspathPluginsService.java",
    }
    assert "Netty4Plugin" in sources["org/elasticsearch/node/SocpipeDevNode.java"]


def test_launcher_is_cached_per_version(isolated: DevSettings) -> None:
    other = isolated.model_copy(update={"es_version": "8.19.20"})
    assert ElasticsearchServer(isolated).launcher_dir() != ElasticsearchServer(other).launcher_dir()
    assert ElasticsearchServer(isolated).launcher_dir() == ElasticsearchServer(isolated).launcher_dir()


def test_elasticsearch_command(isolated: DevSettings, tmp_path: Path) -> None:
    server = ElasticsearchServer(isolated)
    command = server.command(Path("/jdk/bin/java"), tmp_path / "lib")
    assert "-Xmx1g" in command
    assert "org.elasticsearch.node.SocpipeDevNode" in command
    assert command[-1] == server.marker
    assert server.address == f"http://127.0.0.1:{isolated.es_port}"


# --- settings ----------------------------------------------------------------------------------


def test_settings_come_from_socpipe_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOCPIPE_KAFKA_PORT", "19092")
    monkeypatch.setenv("SOCPIPE_ES_PORT", "19200")
    monkeypatch.setenv("SOCPIPE_STATE_DIR", str(tmp_path))
    settings = DevSettings()
    assert (settings.kafka_port, settings.es_port) == (19092, 19200)
    assert settings.state_path == tmp_path.resolve()
    assert devservers.manager.endpoints(settings).env() == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
        "ELASTICSEARCH_URL": "http://127.0.0.1:19200",
    }


def test_default_state_dir_is_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCPIPE_STATE_DIR", raising=False)
    assert DevSettings().state_path.parts[-2:] == (".socpipe", "dev")


@pytest.mark.parametrize(
    ("field", "value"),
    [("es_version", "9.0.0"), ("kafka_version", "3.9.0"), ("es_heap", "lots"), ("kafka_port", "0")],
)
def test_bad_settings_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        DevSettings.model_validate({field: value})


def test_ports_must_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka and Elasticsearch on one port is refused at start, whatever the environment says."""
    monkeypatch.delenv("SOCPIPE_ES_PORT", raising=False)
    with pytest.raises(ValidationError, match="must differ"):
        DevSettings(kafka_port=9200, es_port=9200)


def test_java_is_17_or_later() -> None:
    java = find_java(DevSettings())
    assert java_major_version(java) >= 17


# --- pid files and processes -------------------------------------------------------------------


def test_pid_record_round_trip(tmp_path: Path) -> None:
    record = PidRecord(
        name="kafka",
        pid=123,
        version="4.4.0",
        address="127.0.0.1:9092",
        marker="/x/kafka/config",
        started_at=datetime.now(UTC),
        command=["java", "kafka.Kafka"],
    )
    state.write_record(tmp_path / "kafka.pid", record)
    assert state.read_record(tmp_path / "kafka.pid") == record
    (tmp_path / "bad.pid").write_text("12")
    assert state.read_record(tmp_path / "bad.pid") is None
    assert state.read_record(tmp_path / "missing.pid") is None


def test_spawn_detaches_and_stop_terminates(tmp_path: Path) -> None:
    marker = f"socpipe-test-marker-{tmp_path.name}"
    pid = state.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)", marker], tmp_path / "x.log", cwd=tmp_path
    )
    assert state.is_alive(pid, marker)
    assert not state.is_alive(pid, "some-other-marker")  # a reused pid is not mistaken for ours
    with open(f"/proc/{pid}/stat") as stat:  # own session: survives the terminal that started it
        fields = stat.read().rsplit(")", 1)[1].split()
    assert int(fields[3]) == pid  # session id
    assert state.stop(pid, marker, timeout=10) is False  # stopped by SIGTERM, not killed
    assert not state.is_alive(pid, marker)


def test_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    marker = f"socpipe-stubborn-{tmp_path.name}"
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    pid = state.spawn([sys.executable, "-c", code, marker], tmp_path / "x.log", cwd=tmp_path)
    while "up" not in (tmp_path / "x.log").read_text():  # SIGTERM is ignored only once this prints
        time.sleep(0.05)
    assert state.stop(pid, marker, timeout=0.5) is True
    assert not state.is_alive(pid, marker)


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert state.tail(log, 3) == "line 97\nline 98\nline 99"
    assert state.tail(tmp_path / "none.log") == "(no log)"


def test_state_dir_ignores_itself_in_git(tmp_path: Path) -> None:
    state.ensure_state_dir(tmp_path / ".socpipe" / "dev")
    assert (tmp_path / ".socpipe" / ".gitignore").read_text().splitlines()[-1] == "*"


# --- status / up / CLI without servers ---------------------------------------------------------


def test_status_reports_stopped_servers_as_unhealthy(isolated: DevSettings) -> None:
    found = devservers.status()
    assert [s.name for s in found] == ["kafka", "elasticsearch"]
    assert all(not s.healthy and not s.running and s.pid is None for s in found)
    assert all(s.detail == "not running" for s in found)


def test_cli_status_exits_non_zero_when_unhealthy(isolated: DevSettings) -> None:
    result = CliRunner().invoke(cli, ["dev", "status"])
    assert result.exit_code == 1
    assert "unhealthy" in result.output


def test_cli_names_a_bad_setting(monkeypatch: pytest.MonkeyPatch, isolated: DevSettings) -> None:
    monkeypatch.setenv("SOCPIPE_ES_VERSION", "9.1.0")
    result = CliRunner().invoke(cli, ["dev", "status"])
    assert result.exit_code == 2
    assert "SOCPIPE_ES_VERSION" in result.output


def test_down_with_nothing_running(isolated: DevSettings) -> None:
    reports = devservers.down()
    assert [(r.name, r.was_running) for r in reports] == [("kafka", False), ("elasticsearch", False)]


@pytest.fixture
def not_elasticsearch(isolated: DevSettings) -> Iterator[int]:
    """An HTTP server on the Elasticsearch port that is not Elasticsearch."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", isolated.es_port), http.server.SimpleHTTPRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield isolated.es_port
    server.shutdown()
    server.server_close()


def test_up_refuses_a_port_taken_by_something_else(not_elasticsearch: int) -> None:
    with pytest.raises(devservers.DevServerError, match=f"port {not_elasticsearch} is taken"):
        devservers.up()


def test_spawn_rotates_a_large_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "MAX_LOG_BYTES", 10)
    log = tmp_path / "x.log"
    log.write_text("old run, long enough\n")
    pid = state.spawn([sys.executable, "-c", "pass"], log, cwd=tmp_path)
    deadline = time.monotonic() + 10
    while state.is_alive(pid, "") and time.monotonic() < deadline:  # reaps the finished child
        time.sleep(0.05)
    assert (tmp_path / "x.log.1").read_text() == "old run, long enough\n"
    assert "starting at" in log.read_text()


def test_server_properties_with_a_tls_listener(tmp_path: Path) -> None:
    """An SSL listener beside PLAINTEXT: PEM keystore and truststore, client auth when asked, TLS 1.2+."""
    tls = TlsListener(9094, tmp_path / "broker.pem", tmp_path / "ca.pem", client_auth=True)
    props = _properties(render_server_properties("127.0.0.1", 9092, 9093, tmp_path / "data", tls))
    assert (
        props["listeners"].endswith(",SSL://127.0.0.1:9094")
        and props["advertised.listeners"] == props["listeners"]
    )
    assert props["listener.security.protocol.map"].endswith("SSL:SSL")
    assert props["listener.name.ssl.ssl.keystore.type"] == "PEM"
    assert props["listener.name.ssl.ssl.keystore.location"] == str(tmp_path / "broker.pem")
    assert props["listener.name.ssl.ssl.client.auth"] == "required"
    assert props["listener.name.ssl.ssl.enabled.protocols"] == "TLSv1.2,TLSv1.3"
