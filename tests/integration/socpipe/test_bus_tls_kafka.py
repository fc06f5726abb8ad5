"""socpipe's Kafka clients over TLS with client certificates, against a broker of the test's own with an
SSL listener (PEM keystore and truststore, certificates made here), on ports of its own."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from kafka import TopicPartition
from kafka.errors import KafkaError

from devtools.kafka import KafkaServer
from devtools.settings import DevSettings, find_java
from devtools.state import spawn
from socpipe.bus import KafkaBus, Outbound
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka

PASSWORD = "client key password"


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _pkcs8(key_pem: bytes, password: str | None = None) -> bytes:
    """Kafka's PEM keystore wants PKCS#8; a client key may be encrypted (SOCPIPE_KAFKA_SSL_PASSWORD)."""
    key = serialization.load_pem_private_key(key_pem, None)
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, trustme.CA, Path]]:
    """A single-node Kafka with PLAINTEXT (for its own probe) and SSL (client certificates required)."""
    home = tmp_path_factory.mktemp("tls-kafka")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    keystore, truststore = home / "broker.pem", home / "ca.pem"
    keystore.write_bytes(
        _pkcs8(server_cert.private_key_pem.bytes()) + b"".join(b.bytes() for b in server_cert.cert_chain_pems)
    )
    ca.cert_pem.write_to_path(str(truststore))
    plain, controller, tls, es, es_transport = _free_ports(5)
    settings = DevSettings(
        state_dir=home / "state", kafka_port=plain, kafka_controller_port=controller, es_port=es,
        es_transport_port=es_transport, kafka_heap="256m", kafka_tls_port=tls, kafka_tls_keystore=keystore,
        kafka_tls_truststore=truststore, kafka_tls_client_auth=True,
    )  # fmt: skip
    server = KafkaServer(settings)
    lib, _ = server.fetch()
    java = find_java(settings)
    server.prepare(java, lib)
    pid = spawn(server.command(java, lib), server.log_file, cwd=server.home)
    try:
        deadline = time.monotonic() + 120
        while (problem := server.probe()) is not None:
            assert time.monotonic() < deadline, f"the TLS broker did not start: {problem}"
            time.sleep(0.5)
        yield tls, ca, home
    finally:
        os.kill(pid, signal.SIGKILL)


def _client_settings(tls_port: int, ca: trustme.CA, home: Path, *, with_cert: bool = True) -> Settings:
    cafile, certfile, keyfile = home / "client-ca.pem", home / "client.pem", home / "client-key.pem"
    ca.cert_pem.write_to_path(str(cafile))
    leaf = ca.issue_cert("socpipe-worker")
    certfile.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    keyfile.write_bytes(_pkcs8(leaf.private_key_pem.bytes(), PASSWORD))
    certs = {"kafka_ssl_certfile": certfile, "kafka_ssl_keyfile": keyfile, "kafka_ssl_password": PASSWORD}
    return Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{tls_port}",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=cafile,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}-",
        **(certs if with_cert else {}),  # type: ignore[arg-type]
    )


def test_producer_admin_and_consumer_speak_tls_with_a_client_certificate(
    tls_broker: tuple[int, trustme.CA, Path],
) -> None:
    """CA file, client certificate, encrypted key and its password, host name checked: the admin client
    creates the topics, a producer writes and a reader reads back, all over the SSL listener."""
    port, ca, home = tls_broker
    settings = _client_settings(port, ca, home)
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    publisher = bus.publisher()
    publisher.send(Outbound(settings.topics.raw, b"over tls", b"k"))
    assert publisher.flush(timeout_s=20) == 1
    publisher.close()
    reader = bus.reader(consumer_timeout_ms=10_000, auto_offset_reset="earliest")
    reader.subscribe([settings.topics.raw])
    try:
        # The first record (or none within 10 s), then the topic's end offsets: one record in all means
        # nothing else was there to read. Reading on until 10 s passed without a record proved the same
        # and always cost the whole 10 s.
        values = [message.value for message in itertools.islice(reader, 1)]
        partitions = reader.partitions_for_topic(settings.topics.raw) or set()
        ends = reader.end_offsets([TopicPartition(settings.topics.raw, p) for p in partitions])
    finally:
        reader.close()
    assert values == [b"over tls"]
    assert sum(ends.values()) == 1, ends


def test_without_a_client_certificate_the_broker_refuses(tls_broker: tuple[int, trustme.CA, Path]) -> None:
    """The listener requires client certificates: a client with the CA but no certificate gets nowhere."""
    port, ca, home = tls_broker
    with pytest.raises(KafkaError):
        KafkaBus(_client_settings(port, ca, home, with_cert=False)).publisher(bootstrap_timeout_ms=5000)
