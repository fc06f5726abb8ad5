"""The `access_log` parser: common and combined formats, fields under Sigma's webserver names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ingest.parsers import ParseError
from ingest.parsers.access_log import parse
from schemas.raw import RawRecord


def test_common_format(make_raw: Callable[..., RawRecord]) -> None:
    """Apache's common-format example: client, user, time in UTC, request split, status and size."""
    line = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1 HTTP/1.0" 200 2326'
    event = parse(make_raw(line, "access_log"))
    assert event.timestamp.isoformat() == "2000-10-10T20:55:36+00:00"
    assert event.original["cs-method"] == "GET"
    assert event.original["cs-uri-query"] == "/apache_pb.gif?a=1", "Sigma web rules expect path and query"
    assert event.original["cs-uri-stem"] == "/apache_pb.gif"
    assert event.original["sc-status"] == 200 and event.original["cs-username"] == "frank"
    assert event.url is not None and event.url.query == "a=1"
    assert event.source is not None and event.source.ip == "127.0.0.1"


def test_combined_format_with_escaped_quotes(make_raw: Callable[..., RawRecord]) -> None:
    """Referer and user agent are read; an escaped quote inside the request is unescaped."""
    line = '10.1.2.3 - - [10/Oct/2000:13:55:36 +0000] "GET /a\\"b HTTP/1.1" 404 - "http://x/" "curl/8.0"'
    event = parse(make_raw(line, "access_log"))
    assert event.original["cs-uri-query"] == '/a"b'
    assert event.original["cs-user-agent"] == "curl/8.0" and event.original["cs-referer"] == "http://x/"
    assert event.event.outcome == "failure"


def test_garbage_request_line_is_kept_not_refused(make_raw: Callable[..., RawRecord]) -> None:
    """A TLS handshake sent to a plain-HTTP port logs as a junk request: kept whole as the URI."""
    line = '10.1.2.3 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"'
    event = parse(make_raw(line, "access_log"))
    assert event.original["c-uri"] == "\\x16\\x03\\x01" and "cs-method" not in event.original


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "not a common/combined"),
        ('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0"', "not a common/combined"),
        ('1.2.3.4 - - [99/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1', "bad time"),
    ],
)
def test_malformed_access_lines(make_raw: Callable[..., RawRecord], line: str, reason: str) -> None:
    """Truncated lines and bad times fail with a ParseError."""
    with pytest.raises(ParseError, match=reason):
        parse(make_raw(line, "access_log"))
