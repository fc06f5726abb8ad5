"""When a service-level clock counts: around the clock, or business hours in the tenant's own timezone.

A calendar yields the *spans* it counts from an instant on, in UTC, in order and without end. Business
hours are computed per local day with zoneinfo, so 09:00 in Europe/Berlin is 08:00 UTC in winter and
07:00 UTC in summer, and a day that changes its offset still counts its own business hours. Pauses
(the client holds the incident) are cut out of the spans (`without`); `counted` and `advance` then
measure and move along what is left. Our own small module rather than a library: the maintained ones
(workalendar, businesstimedelta) bring country holiday tables or naive datetimes, and this needs only
weekdays, opening hours, a holiday list and zoneinfo's DST rules (tested across a weekend and a change).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from schemas.sla import WEEKDAYS, BusinessHours

Span = tuple[datetime, datetime]
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
MAX_DAYS = 3660  # a calendar with no working day in ten years counts nothing (and ends the walk)


class Calendar(Protocol):
    def spans(self, start: datetime) -> Iterator[Span]:
        """The counted spans from `start` on, in UTC, in order."""


class AroundTheClock:
    """24/7: every second counts."""

    def spans(self, start: datetime) -> Iterator[Span]:
        yield start, FOREVER


class BusinessCalendar:
    """The given weekdays from `start` to `end` local time in `zone`, holidays left out."""

    def __init__(self, hours: BusinessHours, zone: str) -> None:
        self.hours = hours
        self.zone = ZoneInfo(hours.timezone or zone)
        self.days = {WEEKDAYS.index(d) for d in hours.days}
        self.holidays = set(hours.holidays)

    def _open(self, day: date) -> Span | None:
        if day.weekday() not in self.days or day in self.holidays:
            return None
        opens = datetime.combine(day, self.hours.start, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.hours.end, tzinfo=self.zone).astimezone(UTC)
        return opens, closes

    def spans(self, start: datetime) -> Iterator[Span]:
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            span = self._open(day)
            if span and span[1] > start:
                yield max(span[0], start), span[1]
            day += timedelta(days=1)


def calendar_for(business: bool, hours: BusinessHours, zone: str) -> Calendar:
    return BusinessCalendar(hours, zone) if business else AroundTheClock()


def without(spans: Iterable[Span], pauses: list[tuple[datetime, datetime | None]]) -> Iterator[Span]:
    """The spans with the pauses cut out; a pause without an end stops the spans at its start."""
    ordered = sorted(pauses, key=lambda p: p[0])
    for span_lo, hi in spans:
        lo = span_lo
        for p_lo, p_hi in ordered:
            p_end = p_hi or FOREVER
            if p_end <= lo or p_lo >= hi:
                continue
            if p_lo > lo:
                yield lo, p_lo
            lo = p_end
            if lo >= hi:
                break
        if lo < hi:
            yield lo, hi
        if any(p_hi is None and p_lo < hi for p_lo, p_hi in ordered):
            return


def counted(spans: Iterable[Span], end: datetime) -> float:
    """Seconds the spans count before `end`."""
    total = 0.0
    for lo, hi in spans:
        if lo >= end:
            break
        total += (min(hi, end) - lo).total_seconds()
    return total


def advance(spans: Iterable[Span], seconds: float) -> datetime | None:
    """The instant at which the spans have counted `seconds`; None if they end first (an open pause)."""
    left = seconds
    for lo, hi in spans:
        length = (hi - lo).total_seconds()
        if left <= length:
            return lo + timedelta(seconds=left)
        left -= length
    return None
