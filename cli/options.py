"""Options several commands share, each checked when the command line is read (exit 2, naming it).

Tenant ids follow the one definition (`schemas.common.TenantId`), durations the one grammar
(`schemas.durations`), so a value a command accepts is one the pipeline accepts too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import click
from pydantic import TypeAdapter, ValidationError

from schemas.common import TenantId
from schemas.durations import EXAMPLES, parse_timedelta

F = TypeVar("F", bound=Callable[..., Any])
_TENANT: TypeAdapter[str] = TypeAdapter(TenantId)
TENANT_RULE = (
    "a tenant id is lower-case letters, digits, '-' and '_', starting with a letter or digit (at most 63)"
)


def check_tenant(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> str | None:
    """A click callback: the tenant id as given, or a usage error saying what a tenant id is."""
    if value is None:
        return None
    try:
        return _TENANT.validate_python(value)
    except ValidationError:
        raise click.BadParameter(f"{value!r}: {TENANT_RULE}") from None


def tenant_option(*, required: bool = False, help: str) -> Callable[[F], F]:
    # No `default=None` with required: click 8.3 takes an explicit None as a default given.
    return click.option("--tenant", required=required, callback=check_tenant, help=help)


def check_duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    """A click callback: a duration in the one grammar (250ms, 30s, 5m, 2h, 7d, 2w)."""
    if value is None:
        return None
    try:
        return parse_timedelta(value)
    except ValueError:
        raise click.BadParameter(f"expected a duration like {EXAMPLES}, got {value!r}") from None


def _parse_when(value: str) -> tuple[datetime, bool]:
    """(the instant, whether a bare date was given); naive times are UTC."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO 8601 date (2026-01-31) or time (2026-01-31T12:00:00Z), got {value!r}"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), False


def check_from(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """`--from`: a date is the start of that day, a time exact (UTC if it has no zone)."""
    return None if value is None else _parse_when(value)[0]


@dataclass(frozen=True)
class Until:
    """The end of a period: `at`, included or not."""

    at: datetime
    inclusive: bool


def check_to(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Until | None:
    """`--to`: a date is the whole day (up to its next midnight, excluded), a time exact (included)."""
    if value is None:
        return None
    when, is_date = _parse_when(value)
    return Until(when + timedelta(days=1), False) if is_date else Until(when, True)
