"""Business-hours calendars: counted time and deadlines across weekends, holidays and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from responders.sla.calendar import AroundTheClock, BusinessCalendar, advance, counted, without
from schemas.sla import BusinessHours

BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = BusinessHours(timezone="Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def test_deadline_crosses_a_weekend_and_the_autumn_dst_change() -> None:
    """Friday 23 Oct 2026 16:00 CEST + 2 business hours: one on Friday, one on Monday after clocks went
    back (25 Oct): Monday 10:00 CET, which is 09:00 UTC (it would be 08:00 UTC in summer time)."""
    calendar = BusinessCalendar(NINE_TO_FIVE, "UTC")
    start = berlin(2026, 10, 23, 16, 0)
    assert start == datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    deadline = advance(calendar.spans(start), 2 * 3600)
    assert deadline == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert counted(calendar.spans(start), deadline) == 2 * 3600


def test_spring_dst_change_moves_opening_hours_an_hour_earlier_in_utc() -> None:
    """Friday 27 Mar 2026 16:30 CET (15:30 UTC) + 1h: half an hour on Friday, half on Monday 30 Mar from
    09:00 CEST (07:00 UTC): deadline 07:30 UTC."""
    calendar = BusinessCalendar(NINE_TO_FIVE, "UTC")
    deadline = advance(calendar.spans(berlin(2026, 3, 27, 16, 30)), 3600)
    assert deadline == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)


def test_nothing_counts_outside_hours_nor_on_weekends_or_holidays() -> None:
    """Saturday to Monday 09:00 counts nothing; a holiday Monday pushes the deadline to Tuesday; the
    tenant's zone is used when the hours name none."""
    calendar = BusinessCalendar(BusinessHours(holidays=[date(2026, 11, 30)]), "Europe/Berlin")
    saturday = berlin(2026, 11, 28, 10, 0)
    assert counted(calendar.spans(saturday), berlin(2026, 11, 30, 23, 0)) == 0
    assert advance(calendar.spans(saturday), 60) == berlin(2026, 12, 1, 9, 1)
    evening = berlin(2026, 12, 2, 20, 0)
    assert counted(calendar.spans(evening), berlin(2026, 12, 3, 10, 0)) == 3600


def test_around_the_clock_counts_every_second() -> None:
    start = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert advance(AroundTheClock().spans(start), 86400) == start + timedelta(days=1)


def test_pauses_are_cut_out_and_an_open_pause_has_no_deadline() -> None:
    """A closed pause moves the deadline by its length; an open-ended one leaves no deadline."""
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    pause = (start + timedelta(hours=1), start + timedelta(hours=3))
    spans = lambda: without(AroundTheClock().spans(start), [pause])  # noqa: E731 - a fresh iterator each time
    assert advance(spans(), 2 * 3600) == start + timedelta(hours=4)
    assert counted(spans(), start + timedelta(hours=5)) == 3 * 3600
    held = lambda: without(AroundTheClock().spans(start), [(start + timedelta(hours=1), None)])  # noqa: E731
    assert advance(held(), 2 * 3600) is None
    assert counted(held(), start + timedelta(days=3)) == 3600


def test_bad_business_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        BusinessHours(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="must be after start"):
        BusinessHours(start=time(17), end=time(9))
