"""The one duration grammar of every socpipe file, option and setting: `250ms`, `30s`, `5m`, `2h`, `7d`, `2w`.

A bare number is seconds; decimals are allowed (`1.5h`). Heuristics windows (rules/heuristics.yaml),
incident grouping windows (rules/incident_grouping.yaml) and command-line options (`notice retry
--older-than`) all read durations here, so a value valid in one place is valid in every other.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
EXAMPLES = "250ms, 30s, 5m, 2h, 7d or 2w"


def parse_seconds(value: Any) -> float:
    """Seconds from `30s`, `5m`, `1h`, `7d`, `2w`, `250ms`, a number of seconds or a timedelta."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like {EXAMPLES}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"expected a duration like {EXAMPLES}, got a negative {value!r}")
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like {EXAMPLES}, got {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_timedelta(value: Any) -> timedelta:
    """The same grammar as `parse_seconds`, as a timedelta."""
    return value if isinstance(value, timedelta) else timedelta(seconds=parse_seconds(value))


Seconds = Annotated[float, BeforeValidator(parse_seconds)]
"""A pydantic field type: a duration written as `5m` in configuration, seconds in Python."""

Delta = Annotated[timedelta, BeforeValidator(parse_timedelta)]
"""A pydantic field type: a duration written as `5m` in configuration, a timedelta in Python."""
