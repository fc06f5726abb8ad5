"""ingest.read.read_log: a raw file through a named parser, line by line, errors as values."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.parsers import ParseError, UnknownParserError
from ingest.read import read_log


def test_lines_numbered_errors_kept_and_blank_lines_skipped(tmp_path: Path) -> None:
    """Line numbers are the file's; a refused or non-UTF-8 line is a ParseError in its place."""
    path = tmp_path / "auth.log"
    path.write_bytes(
        b"Mar  3 04:00:00 web01 sshd[1]: Failed password for root from 203.0.113.5 port 2 ssh2\n"
        b"\n"
        b"garbage\n"
        b"Mar  3 04:00:01 web01 sshd[1]: \xff\n"
    )
    results = list(read_log(path, "syslog", tenant="acme"))
    assert [n for n, _ in results] == [1, 3, 4]
    first, bad, binary = (r for _, r in results)
    assert not isinstance(first, ParseError) and first.tenant == "acme" and first.log is not None
    assert first.log.offset == 0 and first.ingest.source == f"file:{path}"
    assert isinstance(bad, ParseError) and isinstance(binary, ParseError) and "UTF-8" in binary.reason


def test_year_less_times_use_the_file_time_and_zone(tmp_path: Path) -> None:
    """An RFC 3164 line is placed in the year of the file's mtime (received_at), in the given zone."""
    path = tmp_path / "gz.log.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"Dec 31 23:30:00 web01 sshd[1]: Accepted password for a from 1.2.3.4 port 2 ssh2\n")
    when = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    [(_, event)] = list(read_log(path, "syslog", timezone="Europe/Paris", received_at=when))
    assert not isinstance(event, ParseError)
    assert event.timestamp == datetime(2025, 12, 31, 22, 30, tzinfo=UTC)


def test_unknown_parser_raises_before_reading(tmp_path: Path) -> None:
    """A parser name that is not registered raises at once, listing the registered ones."""
    with pytest.raises(UnknownParserError, match="registered parsers"):
        next(read_log(tmp_path / "x.log", "nope"))
