"""The `syslog` parser in a source's time zone: RFC 3164 wall-clock times across DST changes and New
Year, RFC 5424 times untouched, and a bad zone refused as a ParseError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.parsers import ParseError
from ingest.parsers.syslog import parse
from schemas.raw import RawRecord


def _at(line: str, received: str, timezone: str | None) -> str:
    """The event's @timestamp (UTC, ISO) for `line` received at `received` (UTC) from `timezone`."""
    raw = RawRecord(
        tenant="acme", source="syslog-udp:0.0.0.0:514", parser="syslog", data=line, timezone=timezone,
        received_at=datetime.fromisoformat(received).replace(tzinfo=UTC),
    )  # fmt: skip
    return parse(raw).timestamp.astimezone(UTC).isoformat()


@pytest.mark.parametrize(
    ("line", "received", "timezone", "expected"),
    [
        # Winter and summer offsets of one zone; a zone west of UTC; no zone is UTC as before.
        ("<13>Jan 15 10:00:00 h app: x", "2026-01-15T09:00:30", "Europe/Paris", "2026-01-15T09:00:00+00:00"),
        ("<13>Jul 15 10:00:00 h app: x", "2026-07-15T08:00:30", "Europe/Paris", "2026-07-15T08:00:00+00:00"),
        ("Jul 15 10:00:00 h a: x", "2026-07-15T14:00:30", "America/New_York", "2026-07-15T14:00:00+00:00"),
        ("<13>Jul 15 10:00:00 h app: x", "2026-07-15T10:00:30", None, "2026-07-15T10:00:00+00:00"),
        ("<13>Jul 15 10:00:00 h app: x", "2026-07-15T10:00:30", "UTC", "2026-07-15T10:00:00+00:00"),
    ],
)  # fmt: skip
def test_rfc3164_times_are_read_in_the_source_zone(
    line: str, received: str, timezone: str | None, expected: str
) -> None:
    """A BSD time is the source's wall clock: Paris is UTC+1 in winter and UTC+2 in summer."""
    assert _at(line, received, timezone) == expected


@pytest.mark.parametrize(
    ("line", "received", "timezone", "expected"),
    [
        # Europe/Paris starts DST on 2026-03-29 at 02:00 local (01:00Z): 02:00-02:59 does not exist.
        ("Mar 29 01:59:59 h app: x", "2026-03-29T01:00:30", "Europe/Paris", "2026-03-29T00:59:59+00:00"),
        ("Mar 29 03:00:00 h app: x", "2026-03-29T01:00:30", "Europe/Paris", "2026-03-29T01:00:00+00:00"),
        # A skipped time comes from a clock not yet changed: the offset before the change (+01:00).
        ("Mar 29 02:30:00 h app: x", "2026-03-29T01:30:30", "Europe/Paris", "2026-03-29T01:30:00+00:00"),
        # New York starts DST on 2026-03-08 at 02:00 local (07:00Z).
        ("Mar  8 01:59:59 h app: x", "2026-03-08T07:00:30", "America/New_York", "2026-03-08T06:59:59+00:00"),
        ("Mar  8 03:00:00 h app: x", "2026-03-08T07:00:30", "America/New_York", "2026-03-08T07:00:00+00:00"),
    ],
)  # fmt: skip
def test_dst_start(line: str, received: str, timezone: str, expected: str) -> None:
    """Around the hour DST skips, times on either side keep their own offset."""
    assert _at(line, received, timezone) == expected


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # Europe/Paris ends DST on 2026-10-25: 02:30 local is 00:30Z (CEST) and again 01:30Z (CET).
        ("2026-10-25T00:30:02", "2026-10-25T00:30:00+00:00"),  # received during the first 02:30
        ("2026-10-25T01:30:02", "2026-10-25T01:30:00+00:00"),  # received during the second
        ("2026-10-25T01:00:01", "2026-10-25T01:30:00+00:00"),  # just after the change: nearer the second
        ("2026-10-26T12:00:00", "2026-10-25T01:30:00+00:00"),  # a day late: the later one, nearer
    ],
)
def test_dst_end_takes_the_occurrence_nearer_the_receive_time(received: str, expected: str) -> None:
    """A wall-clock time that happens twice is the occurrence nearer the moment it was received."""
    assert _at("<13>Oct 25 02:30:00 h app: x", received, "Europe/Paris") == expected


def test_dst_end_unambiguous_times_either_side() -> None:
    """The last second of summer time and the first after the repeated hour have one reading each."""
    assert _at("Oct 25 01:59:59 h a: x", "2026-10-25T00:00:00", "Europe/Paris") == "2026-10-24T23:59:59+00:00"
    assert _at("Oct 25 03:00:00 h a: x", "2026-10-25T02:00:00", "Europe/Paris") == "2026-10-25T02:00:00+00:00"


@pytest.mark.parametrize(
    ("line", "received", "timezone", "expected"),
    [
        # A December line read in early January belongs to the year before.
        ("Dec 31 23:59:58 h a: x", "2026-01-01T00:00:30", None, "2025-12-31T23:59:58+00:00"),
        ("Dec 30 12:00:00 h a: x", "2026-01-03T08:00:00", "Europe/Paris", "2025-12-30T11:00:00+00:00"),
        # New Year has come in Paris (00:30 on 1 January) but not in UTC (23:30 on 31 December).
        ("Jan  1 00:29:59 h a: x", "2025-12-31T23:30:00", "Europe/Paris", "2025-12-31T23:29:59+00:00"),
        # Auckland (UTC+13 in summer) is in the new year half a day before UTC.
        ("Jan  1 00:29:00 h a: x", "2025-12-31T11:30:00", "Pacific/Auckland", "2025-12-31T11:29:00+00:00"),
        # Still the old year in Los Angeles, already the new one in UTC.
        ("Dec 31 20:59:00 h a: x", "2026-01-01T05:00:00", "America/Los_Angeles", "2026-01-01T04:59:00+00:00"),
        # A sender's clock a little ahead over New Year: a January line received on 31 December.
        ("Jan  1 00:00:10 h a: x", "2026-12-31T23:59:30", None, "2027-01-01T00:00:10+00:00"),
        # An old file read later: a date over two days ahead is from the year before; a day ahead is skew.
        ("Dec  3 08:00:00 h a: x", "2026-11-30T08:00:00", None, "2025-12-03T08:00:00+00:00"),
        ("Dec  1 08:00:00 h a: x", "2026-11-30T08:00:00", None, "2026-12-01T08:00:00+00:00"),  # skew
        # 29 February is looked for in the leap year within reach.
        ("Feb 29 10:00:00 h a: x", "2025-03-01T00:00:00", None, "2024-02-29T10:00:00+00:00"),
        ("Feb 29 10:00:00 h a: x", "2028-03-01T00:00:00", None, "2028-02-29T10:00:00+00:00"),
    ],
)  # fmt: skip
def test_year_inference_around_new_year(
    line: str, received: str, timezone: str | None, expected: str
) -> None:
    """The year is the latest that puts the time at most two days ahead of the receive time, in the
    source's zone, so New Year in the source's zone, not UTC's, is what counts."""
    assert _at(line, received, timezone) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("<165>1 2026-07-15T10:00:00.003Z h app 1 - - x", "2026-07-15T10:00:00.003000+00:00"),
        ("<165>1 2026-07-15T10:00:00+05:30 h app 1 - - x", "2026-07-15T04:30:00+00:00"),
        ("2026-07-15T10:00:00-04:00 h app: x", "2026-07-15T14:00:00+00:00"),  # BSD line, ISO with offset
    ],
)
def test_times_with_an_offset_ignore_the_zone(line: str, expected: str) -> None:
    """RFC 5424 (and ISO times with an offset) carry their own offset: the source's zone changes nothing."""
    assert _at(line, "2026-07-15T12:00:00", "Asia/Tokyo") == expected
    assert _at(line, "2026-07-15T12:00:00", None) == expected


def test_iso_time_without_offset_in_a_bsd_line_is_read_in_the_zone() -> None:
    """An ISO time without an offset is as zoneless as a BSD one, and read the same way."""
    line = "2026-07-15T10:00:00.5 h app: x"
    assert _at(line, "2026-07-15T12:00:00", "Europe/Paris") == "2026-07-15T08:00:00.500000+00:00"
    assert _at(line, "2026-07-15T12:00:00", None) == "2026-07-15T10:00:00.500000+00:00"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "europe/paris", "/etc/localtime", "../../etc/passwd", ""])
def test_a_record_with_an_unknown_zone_is_refused(zone: str) -> None:
    """A record naming a zone that does not exist is bad input: a ParseError naming the value."""
    with pytest.raises(ParseError, match="unknown time zone"):
        _at("<13>Jul 15 10:00:00 h app: x", "2026-07-15T10:00:00", zone)


def test_an_impossible_date_is_still_refused_in_a_zone() -> None:
    """30 February exists in no year: the ParseError names the date."""
    with pytest.raises(ParseError, match="bad date 'Feb 30 10:00:00'"):
        _at("<13>Feb 30 10:00:00 h app: x", "2026-07-15T10:00:00", "Europe/Paris")
