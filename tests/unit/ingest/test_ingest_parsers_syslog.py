"""The `syslog` parser: RFC 5424 and RFC 3164 detected per line, PRI decoded, structured data kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ingest.parsers import ParseError
from ingest.parsers.syslog import parse
from schemas.raw import RawRecord


def test_rfc5424_with_structured_data(make_raw: Callable[..., RawRecord]) -> None:
    """The RFC 5424 example: header fields, SD params (escaped quote and bracket) and the message."""
    line = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 "
        '[exampleSDID@32473 iut="3" eventSource="App\\"li\\]cation"] \ufeffAn application event'
    )
    event = parse(make_raw(line, "syslog"))
    assert event.timestamp.isoformat() == "2003-10-11T22:14:15.003000+00:00"
    assert event.message == "An application event"
    assert event.original["facility"] == "local4" and event.original["severity"] == "notice"
    assert event.original["structured_data.exampleSDID@32473.eventSource"] == 'App"li]cation'
    assert event.host is not None and event.host.name == "mymachine.example.com"
    assert event.process is not None and (event.process.name, event.process.pid) == ("evntslog", 42)


def test_rfc3164_takes_the_year_from_the_receive_time(make_raw: Callable[..., RawRecord]) -> None:
    """A BSD line has no year: it gets the receive year, or the one before for a date far ahead."""
    event = parse(make_raw("<38>Nov 29 23:59:01 web01 sshd[812]: Failed password for root", "syslog"))
    assert event.timestamp.isoformat() == "2026-11-29T23:59:01+00:00"
    assert (event.original["appname"], event.original["procid"]) == ("sshd", "812")
    assert event.message == "Failed password for root"
    december = parse(make_raw("Dec 31 10:00:00 web01 cron: job", "syslog"))
    assert december.timestamp.year == 2025


def test_file_lines_without_pri_and_without_tag(make_raw: Callable[..., RawRecord]) -> None:
    """/var/log lines lack <PRI>; a message without a `tag:` keeps the whole text as the message."""
    event = parse(make_raw("Nov 30 01:02:03 host1 kernel something happened", "syslog"))
    assert event.original["hostname"] == "host1"
    assert "priority" not in event.original


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty record"),
        ("<999>1 2003-10-11T22:14:15Z h a p m - x", "out of range"),
        ("<13>1 2003-10-11T22:14:15Z h a p m [bad", "structured data"),
        ('<13>1 2003-10-11T22:14:15Z h a p m [id k="v', "structured data"),
        ("<13>1 yesterday h a p m - x", "not a timestamp"),
        ("hello world", "not syslog"),
        ("<13>Feb 30 10:00:00 h t: x", "bad date"),
    ],
)
def test_malformed_syslog_raises_parse_error(
    make_raw: Callable[..., RawRecord], line: str, reason: str
) -> None:
    """Each malformed shape gets a ParseError that names the problem."""
    with pytest.raises(ParseError, match=reason):
        parse(make_raw(line, "syslog"))
