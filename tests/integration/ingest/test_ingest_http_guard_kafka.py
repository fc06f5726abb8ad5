"""The HTTP receiver's guards against real Kafka: Kafka outages answered 503 at once, slow and idle
connections closed, a per-key request cap, TLS with per-tenant client certificates, its OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import trustme
from ingest_helpers import raw_records, serving

from ingest.shippers.http import ApiKeys, HttpOptions, Receiver, serve_http
from ingest.shippers.kafka_gate import KafkaGate, bootstrap_addresses
from ingest.shippers.network_sink import NetworkSink
from ingest.shippers.records import RawSink, ingest_producer_settings
from ingest.shippers.tls import fingerprint, server_context
from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka

ACME = {"Authorization": "Bearer acme-key", "Content-Type": "application/x-ndjson"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Switch:
    """A TCP forwarder to the real broker's bootstrap port that the test turns off and on: Kafka "down"
    for whoever bootstraps through it (the gate's probe and its first connection)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, _free_port()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def on(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        server.settimeout(0.2)
        self._server = server
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()

    def off(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _accept(self, server: socket.socket) -> None:
        while self._server is server:
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _connect(settings: Settings, bootstrap: str) -> NetworkSink:
    bus = KafkaBus(settings.model_copy(update={"kafka_bootstrap_servers": bootstrap}))
    bus.ensure_pipeline_topics()
    return NetworkSink(RawSink(bus.publisher(**ingest_producer_settings()), bus.topics)).start()


@contextmanager
def _receiver(
    gate: KafkaGate, keys: ApiKeys | None = None, tls: ssl.SSLContext | None = None, **options: object
) -> Iterator[str]:
    opts = {"source": "http:test", **options}
    receiver = Receiver(
        keys or ApiKeys.from_config({"acme": {"keys": ["acme-key"]}}), gate, HttpOptions(**opts)
    )  # type: ignore[arg-type]
    with serving(lambda stop, ready: serve_http(receiver, "127.0.0.1", 0, stop, ready, tls=tls)):
        yield f"{'https' if tls else 'http'}://127.0.0.1:{receiver.bound_port}"


def test_the_receiver_starts_without_kafka_answers_503_at_once_and_recovers(settings: Settings) -> None:
    """Kafka unreachable at start: the receiver listens anyway, /healthz is 503 with the reason and a POST
    is 503 with Retry-After within a second or two. Kafka back: ready, 200, the batch in Kafka. Kafka
    away again: 503 at once again."""
    switch = Switch(bootstrap_addresses(settings.kafka_bootstrap_servers)[0])
    bootstrap = f"127.0.0.1:{switch.port}"
    gate = KafkaGate(lambda: _connect(settings, bootstrap), bootstrap_addresses(bootstrap), retry_s=0.5)
    try:
        with _receiver(gate) as url:
            health = httpx.get(f"{url}/healthz", timeout=5)
            assert health.status_code == 503 and health.json()["ready"] is False
            assert f"Kafka at {bootstrap} does not answer" in health.json()["reason"]
            started = time.monotonic()
            refused = httpx.post(f"{url}/v1/ingest", content=b'{"m": 1}\n', headers=ACME, timeout=10)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
            assert time.monotonic() - started < 2
            switch.on()
            deadline = time.monotonic() + 30
            while httpx.get(f"{url}/healthz", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "never ready after Kafka came back"
                time.sleep(0.2)
            shipped = httpx.post(f"{url}/v1/ingest", content=b'{"m": 2}\n', headers=ACME, timeout=15)
            assert (shipped.status_code, shipped.json()["accepted"]) == (200, 1)
            switch.off()
            time.sleep(2.5)  # the probe's interval, twice
            started = time.monotonic()
            again = httpx.post(f"{url}/v1/ingest", content=b'{"m": 3}\n', headers=ACME, timeout=10)
            assert again.status_code == 503 and time.monotonic() - started < 2
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 503
    finally:
        switch.off()
    assert [r.data for r in raw_records(settings, at_least=1)] == ['{"m": 2}']


@pytest.fixture
def sink(settings: Settings) -> Iterator[NetworkSink]:
    made = _connect(settings, settings.kafka_bootstrap_servers)
    yield made
    made.close()
    made.sink.publisher.close()


async def _unfinished(
    port: int, body_bytes: bytes = b'{"m"'
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A request whose headers promise 100 bytes of body, of which only a few are sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acme-key\r\n"
        b"Content-Type: application/x-ndjson\r\nContent-Length: 100\r\n\r\n" + body_bytes
    )
    await writer.drain()
    return reader, writer


def test_a_slow_body_gets_408_and_an_idle_connection_is_closed(sink: NetworkSink) -> None:
    """A body that does not arrive within body_timeout_s: 408 and the connection closed; a keep-alive
    connection with no request: closed after idle_timeout_s."""

    async def scenario(port: int) -> tuple[bytes, bytes, float]:
        reader, writer = await _unfinished(port)
        answer = await asyncio.wait_for(reader.read(), 10)  # read() to EOF: the server closed it
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        started = time.monotonic()
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer, rest, time.monotonic() - started

    with _receiver(KafkaGate.of(sink), body_timeout_s=1.0, idle_timeout_s=1.0) as url:
        answer, _, idle = asyncio.run(scenario(int(url.rsplit(":", 1)[1])))
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 1.0 s" in answer
    assert idle < 5


def test_one_key_may_hold_only_so_many_requests_open(sink: NetworkSink) -> None:
    """Two unfinished requests of one key are all it may hold (max_requests_per_key=2): the third is 429
    at once; once they end, the key may send again."""

    async def scenario(url: str) -> tuple[int, int]:
        port = int(url.rsplit(":", 1)[1])
        held = [await _unfinished(port) for _ in range(2)]
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient() as client:
            third = await client.post(f"{url}/v1/ingest", content=b'{"m": 1}\n', headers=ACME)
            for _, writer in held:
                writer.close()
            await asyncio.sleep(0.3)
            later = await client.post(f"{url}/v1/ingest", content=b'{"m": 2}\n', headers=ACME)
        return third.status_code, later.status_code

    with _receiver(KafkaGate.of(sink), max_requests_per_key=2, body_timeout_s=20) as url:
        assert asyncio.run(scenario(url)) == (429, 200)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")  # on purpose
def test_https_with_tls_12_or_later_and_per_tenant_client_certificates(
    sink: NetworkSink, tmp_path: Path
) -> None:
    """The receiver speaks TLS (1.2+: a TLS 1.1 client is refused). Globex lists its client certificate:
    its key without that certificate is 403, with it 200; acme (no certificate listed) needs none."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("globex-shipper")
    other = trustme.CA().issue_cert("globex-shipper")  # same name, another CA: refused in the handshake
    paths = {}
    for name, blob in (("cert", server.cert_chain_pems[0]), ("key", server.private_key_pem),
                       ("ca", ca.cert_pem)):  # fmt: skip
        paths[name] = tmp_path / f"{name}.pem"
        blob.write_to_path(str(paths[name]))
    der = ssl.PEM_cert_to_DER_cert(client.cert_chain_pems[0].bytes().decode())
    keys = ApiKeys.from_config({
        "acme": {"keys": ["acme-key"]},
        "globex": {"keys": ["globex-key"], "client_certs": [fingerprint(der)]},
    })  # fmt: skip
    tls = server_context(str(paths["cert"]), str(paths["key"]), str(paths["ca"]), require_client_cert=False)
    globex = {"Authorization": "Bearer globex-key", "Content-Type": "application/x-ndjson"}

    def context(
        cert: trustme.LeafCert | None = None, maximum: ssl.TLSVersion | None = None
    ) -> ssl.SSLContext:
        made = ssl.create_default_context()
        ca.configure_trust(made)
        if cert is not None:
            cert.configure_cert(made)
        if maximum is not None:
            made.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            made.maximum_version = maximum
        return made

    with _receiver(KafkaGate.of(sink), keys, tls=tls) as url:
        acme = httpx.post(f"{url}/v1/ingest", content=b'{"t": "acme"}\n', headers=ACME, verify=context())
        bare = httpx.post(f"{url}/v1/ingest", content=b'{"t": "x"}\n', headers=globex, verify=context())
        good = httpx.post(
            f"{url}/v1/ingest", content=b'{"t": "globex"}\n', headers=globex, verify=context(client)
        )
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"{url}/v1/ingest", content=b"{}\n", headers=globex, verify=context(other))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/healthz", verify=context(maximum=ssl.TLSVersion.TLSv1_1))
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https", "http") + "/healthz")  # plain HTTP to the TLS port
    assert (acme.status_code, good.status_code) == (200, 200)
    assert bare.status_code == 403 and "client certificate" in bare.json()["error"]


def test_the_receiver_serves_its_openapi_description(sink: NetworkSink) -> None:
    """GET /openapi.json without a key: OpenAPI 3.1 with both ingest paths, the limits it enforces and
    every response code the receiver gives."""
    with _receiver(KafkaGate.of(sink), max_body_bytes=4096) as url:
        doc = httpx.get(f"{url}/openapi.json").json()
    assert doc["openapi"].startswith("3.1") and {
        "/v1/ingest",
        "/v1/tenants/{tenant}/ingest",
        "/healthz",
    } <= set(doc["paths"])
    post = doc["paths"]["/v1/ingest"]["post"]
    assert set(post["responses"]) == {"200", "400", "401", "403", "408", "413", "429", "503"}
    assert "4096 bytes" in post["requestBody"]["description"]


def test_socpipe_ingest_http_listens_with_kafka_down(tmp_path: Path, settings: Settings) -> None:
    """The command itself, Kafka at an address where nothing answers: it listens within seconds, /healthz
    is 503 naming Kafka's address, a POST is 503 with Retry-After; SIGTERM ends it cleanly."""
    import subprocess

    from ingest_helpers import socpipe_command, socpipe_env

    keys = tmp_path / "keys.yaml"
    keys.write_text("tenants:\n  acme:\n    keys: [acme-key]\n")
    dead, port = _free_port(), _free_port()
    env = socpipe_env(settings, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{dead}")
    command = socpipe_command("ingest", "http", "--listen", f"127.0.0.1:{port}", "--keys", str(keys))
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "not listening within 20 s"
                time.sleep(0.2)
        assert health.status_code == 503 and f"127.0.0.1:{dead}" in health.json()["reason"]
        refused = httpx.post(f"http://127.0.0.1:{port}/v1/ingest", content=b"{}\n", headers=ACME, timeout=5)
        assert refused.status_code == 503 and "Retry-After" in refused.headers
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0 and "Traceback" not in output, output
