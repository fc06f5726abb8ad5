"""Web server logs to ECS: access-log variants (forwarded-for lists, virtual hosts, extra fields) and
nginx / Apache error logs, on the sample lines Filebeat's own modules are tested with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.parsers import ParseError, default_registry
from ingest.read import read_log
from schemas.raw import RawRecord

DATA = Path(__file__).resolve().parents[2] / "data" / "linuxweb"


def test_every_variant_of_filebeats_samples_parses() -> None:
    """nginx behind proxies (address lists), Apache vhost, an empty request: all read, client chosen."""
    events = [e for _, e in read_log(DATA / "beats-access-variants.log", "access_log")]
    assert not [e for e in events if isinstance(e, ParseError)]
    clients = [e.flat().get("source.ip") for e in events if not isinstance(e, ParseError)]
    assert clients == [
        "10.0.0.2",  # a private list: the first, the originator (ECS, and Filebeat)
        "172.17.0.1",
        "85.181.35.98",  # the first public address of the list
        "85.181.35.98",
        "199.96.1.1",
        "2a03:0000:10ff:f00f:0000:0000:0:8000",
        "127.0.0.1",
        "123.123.123.123",
    ]
    vhost = events[-1].flat()  # type: ignore[union-attr]
    assert vhost["url.domain"] == "vhost1.domaine.fr" and vhost["cs-host"] == "vhost1.domaine.fr"


def test_url_fields_and_double_decoding(make_raw: Callable[..., RawRecord]) -> None:
    """url.original is as logged, url.decoded decoded twice (what the application would read)."""
    request = "GET /dl.php?f=..%252f..%252fetc%252fpasswd HTTP/1.1"
    line = f'1.2.3.4 - - [03/Mar/2026:10:05:08 +0000] "{request}" 404 153'
    event = default_registry().get("access_log").parse(make_raw(line, "access_log")).flat()
    assert event["url.original"] == "/dl.php?f=..%252f..%252fetc%252fpasswd"
    assert event["url.path"] == "/dl.php" and event["url.extension"] == "php"
    assert event["url.query"] == "f=..%252f..%252fetc%252fpasswd"
    assert event["url.decoded"] == "/dl.php?f=../../etc/passwd"
    assert event["http.response.status_code"] == 404 and event["http.response.body.bytes"] == 153


def test_error_logs_of_nginx_and_apache() -> None:
    """nginx's request and client, Apache 2.2 and 2.4 headers (module, pid, tid, client with port)."""
    events = [e for _, e in read_log(DATA / "beats-web-errors.log", "web_error")]
    assert not [e for e in events if isinstance(e, ParseError)]
    nginx, _, apache22, notice, apache24 = (e.flat() for e in events if not isinstance(e, ParseError))
    assert (nginx["event.dataset"], nginx["log.level"], nginx["process.pid"]) == (
        "nginx.error",
        "error",
        54053,
    )
    assert (nginx["source.ip"], nginx["url.original"], nginx["http.request.method"]) == (
        "127.0.0.1",
        "/favicon.ico",
        "GET",
    )
    assert (apache22["event.dataset"], apache22["source.ip"]) == ("apache.error", "192.168.33.1")
    assert notice["log.level"] == "notice" and notice["module"] == "core"
    assert (apache24["process.thread.id"], apache24["source.ip"]) == (4328636416, "72.15.99.187")


@pytest.mark.parametrize("line", ["", "hello", "2016/10/25 14:49:34 error no brackets"])
def test_error_log_refuses_other_lines(make_raw: Callable[..., RawRecord], line: str) -> None:
    """Lines of neither format are refused, naming both expected shapes."""
    with pytest.raises(ParseError, match="nginx or Apache"):
        default_registry().get("web_error").parse(make_raw(line, "web_error"))
