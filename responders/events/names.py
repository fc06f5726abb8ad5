"""The names of the events indices: `<prefix>-events-<tenant>-YYYY.MM.DD`, one a tenant and UTC day.

The day is the event's own `@timestamp` in UTC, so an analyst's time range maps onto whole indices and
pruning goes by the name alone (no ILM: the local node lacks it). A name is read back only with the
tenant it must belong to, so tenant `a` never claims tenant `a-b`'s indices.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from socpipe.es import tenant_indices
from socpipe.settings import Settings

DAY_FORMAT = "%Y.%m.%d"
_DAY = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})")


def events_pattern(settings: Settings) -> str:
    """Every tenant's events indices (the template's pattern)."""
    return tenant_indices(settings, None).of("events")


def tenant_pattern(settings: Settings, tenant: str) -> str:
    return f"{tenant_indices(settings, tenant).of('events')}-*"


def events_index(settings: Settings, tenant: str, when: datetime | date) -> str:
    """The index of the tenant's events of `when`'s UTC day."""
    day = when.astimezone(UTC).date() if isinstance(when, datetime) else when
    return f"{tenant_indices(settings, tenant).of('events')}-{day.strftime(DAY_FORMAT)}"


def index_day(settings: Settings, tenant: str, index: str) -> date | None:
    """The day of the tenant's events index `index`, or None when it is not exactly one of the tenant's."""
    prefix = f"{tenant_indices(settings, tenant).of('events')}-"
    if not index.startswith(prefix):
        return None
    found = _DAY.fullmatch(index[len(prefix) :])
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None
