"""A single-node KRaft Kafka broker (broker and controller in one JVM) from Apache Kafka's jars.

The settings are those of a test broker: replication factor 1 everywhere, no rebalance delay,
topics created on first use with 3 partitions (so ordering-by-key is exercised), a small heap.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from devtools.maven import Artifact
from devtools.server import DevServer
from devtools.state import port_open
from socpipe.logging import get_logger

log = get_logger(__name__)

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
_FORMAT_STAMP = ".socpipe-formatted-for"


@dataclass(frozen=True)
class TlsListener:
    """An extra SSL listener: PEM files (Kafka 4 reads them as keystore and truststore, type PEM)."""

    port: int
    keystore: Path  # the broker's private key (PKCS#8, unencrypted) followed by its certificate chain
    truststore: Path  # CA certificates: of clients, when client_auth
    client_auth: bool = False  # require client certificates signed by the truststore's CAs


def _tls_properties(tls: TlsListener) -> dict[str, str]:
    return {
        "listener.name.ssl.ssl.keystore.type": "PEM",
        "listener.name.ssl.ssl.keystore.location": str(tls.keystore),
        "listener.name.ssl.ssl.truststore.type": "PEM",
        "listener.name.ssl.ssl.truststore.location": str(tls.truststore),
        "listener.name.ssl.ssl.client.auth": "required" if tls.client_auth else "none",
        "listener.name.ssl.ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
    }


def render_server_properties(
    host: str, port: int, controller_port: int, log_dir: Path, tls: TlsListener | None = None
) -> str:
    """server.properties of a combined broker+controller that only listens on `host` (and, with `tls`,
    on an SSL listener too: what tests of socpipe's Kafka TLS settings connect to)."""
    controller = f"{host}:{controller_port}"
    listeners = f"PLAINTEXT://{host}:{port},CONTROLLER://{controller}"
    if tls is not None:
        listeners += f",SSL://{host}:{tls.port}"
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": controller,
        "listeners": listeners,
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL",
        **(_tls_properties(tls) if tls is not None else {}),
        "log.dirs": str(log_dir),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "log.retention.hours": "24",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    body = "\n".join(f"{key}={value}" for key, value in lines.items())
    return f"# written by socpipe dev up; edits are overwritten at the next start\n{body}\n"


def render_log4j2() -> str:
    """log4j2 config: everything to stdout, which `socpipe dev` sends to <state>/kafka.log."""
    return """status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


def new_cluster_id() -> str:
    """A random cluster id in Kafka's Uuid form: 16 bytes, URL-safe base64, no padding, no leading '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaServer(DevServer):
    """Apache Kafka 4.x in KRaft mode on 127.0.0.1 (SOCPIPE_KAFKA_PORT, SOCPIPE_KAFKA_CONTROLLER_PORT)."""

    name = "kafka"

    @property
    def version(self) -> str:
        return self.settings.kafka_version

    @property
    def port(self) -> int:
        return self.settings.kafka_port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.home / "config" / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def artifacts(self) -> list[Artifact]:
        return [
            Artifact(group_id="org.apache.kafka", artifact_id="kafka_2.13", version=self.version),
            Artifact(
                group_id="org.apache.logging.log4j",
                artifact_id="log4j-slf4j-impl",
                version=self.settings.log4j_version,
            ),
        ]

    def _jvm(self, java: Path, lib: Path, heap: str) -> list[str]:
        return [
            str(java),
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'config' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            f"{lib}/*",
        ]

    def prepare(self, java: Path, lib: Path) -> None:
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        s = self.settings
        tls = None
        if s.kafka_tls_port and s.kafka_tls_keystore and s.kafka_tls_truststore:
            tls = TlsListener(
                s.kafka_tls_port, s.kafka_tls_keystore, s.kafka_tls_truststore, s.kafka_tls_client_auth
            )
        properties = render_server_properties(
            self.host, self.port, s.kafka_controller_port, self.data_dir, tls
        )
        self.config_file.write_text(properties, encoding="utf-8")
        (self.home / "config" / "log4j2.properties").write_text(render_log4j2(), encoding="utf-8")
        self._format_storage(java, lib)

    def _format_storage(self, java: Path, lib: Path) -> None:
        """Format the log dir once (like `kafka-storage format --standalone`); again if the quorum moved.

        The controller's address is written into the metadata log at format time, so a changed
        controller port needs a fresh log dir; dev data is disposable.
        """
        quorum = f"{self.host}:{self.settings.kafka_controller_port}"
        stamp = self.data_dir / _FORMAT_STAMP
        if (self.data_dir / "meta.properties").is_file() and stamp.is_file():
            if stamp.read_text(encoding="utf-8").strip() == quorum:
                return
            log.warning("controller address changed: wiping the dev broker's data", data=str(self.data_dir))
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        command = [
            *self._jvm(java, lib, "256m"),
            STORAGE_TOOL,
            "format",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(self.config_file),
            "--standalone",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{done.stdout}\n{done.stderr}")
        stamp.write_text(quorum + "\n", encoding="utf-8")

    def command(self, java: Path, lib: Path) -> list[str]:
        return [*self._jvm(java, lib, self.settings.kafka_heap), MAIN_CLASS, str(self.config_file)]

    def probe(self) -> str | None:
        """A metadata round trip: the broker answers, the controller has elected itself leader."""
        if not port_open(self.host, self.port):
            return f"nothing listens on {self.address}"
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.address,
                client_id="socpipe-dev-probe",
                request_timeout_ms=5000,
                bootstrap_timeout_ms=5000,
            )
            try:
                admin.list_topics()
                if not admin.describe_cluster().get("brokers"):
                    return "no broker registered yet"
            finally:
                admin.close()
        except (KafkaError, OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None
