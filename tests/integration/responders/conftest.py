"""Fixtures of the responders' integration tests: real Elasticsearch (and Kafka), a real local SMTP
server (aiosmtpd) and a real local HTTP receiver for webhooks, two tenants routed to them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch
from responder_helpers import (
    BLUE_SECRET,
    RED_SECRET,
    Received,
    SmtpSink,
    WebhookSink,
    _free_port,
    write_tenants,
)

from cli.main import cli
from responders.worker import Responders, ensure_indices
from socpipe.es import es_client
from socpipe.settings import Settings, get_settings


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.sink.fail_next:
            return self.sink.fail_next.pop(0)
        self.sink.messages.append(message_from_bytes(envelope.content))
        self.sink.recipients.append(list(envelope.rcpt_tos))
        return "250 2.0.0 queued as test"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=_free_port())
    controller = Controller(_SmtpHandler(sink), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def webhooks() -> Iterator[WebhookSink]:
    sink = WebhookSink(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            sink.requests.append(
                Received(self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()}, body)
            )
            queued = sink.responses.get(self.path.split("?")[0]) or []
            status = queued.pop(0) if queued else 200
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true, "success": true, "successCount": 12}')

        do_PUT = do_POST  # noqa: N815 - http.server's name; Kibana's role API is a PUT

        def log_message(self, *_: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def rsettings(
    settings: Settings, tmp_path: Path, smtp: SmtpSink, webhooks: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Test tenants routed to the local servers, quick retries; the test's indices are deleted after."""
    monkeypatch.setenv("SOCPIPE_TEST_WHSEC_RED", RED_SECRET)
    monkeypatch.setenv("SOCPIPE_TEST_WHSEC_BLUE", BLUE_SECRET)
    configured = settings.model_copy(
        update={
            "tenants_file": write_tenants(tmp_path / "tenants.yaml", webhooks),
            "smtp_port": smtp.port,
            "notice_attempts": 3,
            "notice_backoff_s": 0.05,
            "notice_timeout_s": 5.0,
            "claim_timeout_s": 5.0,
        }
    )
    ensure_indices(configured)
    yield configured
    es = es_client(configured)
    try:
        es.indices.delete(index=f"{configured.index_prefix}-*", allow_no_indices=True, expand_wildcards="all")
        es.indices.delete_index_template(name=f"{configured.index_prefix}-*")
    finally:
        es.close()


@pytest.fixture
def responders(rsettings: Settings) -> Iterator[Responders]:
    built = Responders(rsettings)
    yield built
    built.close()


@pytest.fixture
def es(rsettings: Settings) -> Iterator[Elasticsearch]:
    client = es_client(rsettings)
    yield client
    client.close()


@pytest.fixture
def socpipe(rsettings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Run `socpipe ...` with the test's settings in the environment (as an analyst's shell would have)."""
    env = {
        "SOCPIPE_INDEX_PREFIX": rsettings.index_prefix,
        "ELASTICSEARCH_URL": rsettings.elasticsearch_url,
        "SOCPIPE_TENANTS_FILE": str(rsettings.tenants_file),
        "SOCPIPE_SMTP_PORT": str(rsettings.smtp_port),
        "SOCPIPE_NOTICE_BACKOFF_S": "0.05",
        "SOCPIPE_ACTOR": "ann",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)
    get_settings.cache_clear()
