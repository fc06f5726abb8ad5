"""`socpipe ingest syslog` and `socpipe ingest http` as services: start, receive, stop on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from ingest_helpers import raw_records, socpipe_command, socpipe_env

from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]
    return err.decode()


def test_syslog_service_receives_tcp_and_udp_until_sigterm(settings: Settings) -> None:
    """The receiver listens on the given addresses, ships what arrives, and on SIGTERM flushes and exits 0."""
    tcp_port, udp_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    command = socpipe_command("ingest", "syslog", "--tenant", "acme", "--tcp", f"127.0.0.1:{tcp_port}",
                              "--udp", f"127.0.0.1:{udp_port}")  # fmt: skip
    process = subprocess.Popen(command, env=socpipe_env(settings), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                tcp = socket.create_connection(("127.0.0.1", tcp_port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the receiver did not start"
                time.sleep(0.2)
        with tcp:
            tcp.sendall(b"<13>Nov 30 08:00:00 h1 app: over tcp\n")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"<13>Nov 30 08:00:00 h2 app: over udp", ("127.0.0.1", udp_port))
        raws = raw_records(settings, at_least=2)
    finally:
        err = _stop(process)
    assert sorted(r.data.rsplit(": ", 1)[1] for r in raws) == ["over tcp", "over udp"]
    assert "2 messages" in err


def test_http_service_with_a_key_file(settings: Settings, tmp_path: Path) -> None:
    """The HTTP service loads its API keys from YAML, answers 401/200, and exits 0 on SIGTERM."""
    keys = tmp_path / "keys.yml"
    keys.write_text("tenants:\n  acme:\n    keys: [s3cret]\n")
    port = _free_port()
    command = socpipe_command("ingest", "http", "--listen", f"127.0.0.1:{port}", "--keys", str(keys))
    process = subprocess.Popen(command, env=socpipe_env(settings), stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:  # listening at once; ready (200) once its Kafka producer is up
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the receiver did not start"
            time.sleep(0.2)
        assert httpx.post(f"{url}/v1/ingest", json={"a": 1}).status_code == 401
        ok = httpx.post(
            f"{url}/v1/ingest", json=[{"a": 1}, {"a": 2}], headers={"X-API-Key": "s3cret"}, timeout=30
        )
        assert ok.json() == {"accepted": 2, "dead_lettered": 0}
    finally:
        _stop(process)
    assert [r.data for r in raw_records(settings, at_least=2)] == ['{"a":1}', '{"a":2}']
