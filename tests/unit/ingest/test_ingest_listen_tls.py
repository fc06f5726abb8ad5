"""Receivers refuse plain text beyond loopback unless the operator says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from ingest.shippers.tls import InsecureListenError, check_listen, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.9", "::1", "localhost"])
def test_loopback_addresses_may_listen_in_plain_text(host: str) -> None:
    """Nothing leaves the machine: no TLS needed."""
    assert is_loopback(host)
    check_listen(host, tls=False, insecure=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_other_addresses_need_tls_or_the_operators_say_so(host: str) -> None:
    """0.0.0.0 and real interfaces: refused in plain text; fine with TLS or --insecure-listen."""
    with pytest.raises(InsecureListenError, match="--insecure-listen"):
        check_listen(host, tls=False, insecure=False)
    check_listen(host, tls=True, insecure=False)
    check_listen(host, tls=False, insecure=True)


def test_ingest_http_refuses_to_listen_everywhere_in_plain_text(tmp_path: Path) -> None:
    """`socpipe ingest http --listen 0.0.0.0:8080` without TLS: exit 2, one line naming the way out."""
    keys = tmp_path / "keys.yaml"
    keys.write_text("tenants:\n  acme:\n    keys: [k]\n")
    result = CliRunner().invoke(cli, ["ingest", "http", "--listen", "0.0.0.0:8080", "--keys", str(keys)])
    assert result.exit_code == 2 and "refusing to listen on 0.0.0.0 without TLS" in result.output
    assert "Traceback" not in result.output


def test_ingest_http_help_documents_the_api() -> None:
    """--help names the paths, auth headers, content types, response codes and a curl example."""
    text = CliRunner().invoke(cli, ["ingest", "http", "--help"]).output
    for needle in ("/v1/ingest", "/v1/tenants/T/ingest", "Authorization: Bearer", "X-API-Key",
                   "application/x-ndjson", "/openapi.json", "503", "curl "):  # fmt: skip
        assert needle in text, needle


def test_ingest_syslog_refuses_plain_text_beyond_loopback_unless_told(tmp_path: Path) -> None:
    """`--udp 0.0.0.0:514` alone: exit 2 naming --insecure-listen (devices that cannot do TLS exist,
    but the operator says so)."""
    result = CliRunner().invoke(cli, ["ingest", "syslog", "--tenant", "acme", "--udp", "0.0.0.0:5514"])
    assert result.exit_code == 2 and "--insecure-listen" in result.output and "Traceback" not in result.output
