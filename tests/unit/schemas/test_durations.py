"""One duration grammar: a value valid in one configuration file is valid in every other."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detectors.windows import parse_duration as heuristics_duration
from responders.config import GroupingOverride
from responders.config import parse_duration as grouping_duration
from schemas.durations import parse_seconds, parse_timedelta


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("5m", 300), ("1.5h", 5400), ("7d", 604800), ("2w", 1209600), (90, 90)],
)
def test_every_reader_accepts_the_same_durations(text: object, seconds: float) -> None:
    """`250ms` was valid in heuristics.yaml and refused in incident_grouping.yaml; now both read it."""
    assert parse_seconds(text) == heuristics_duration(text) == seconds
    assert parse_timedelta(text) == grouping_duration(text) == timedelta(seconds=seconds)
    assert GroupingOverride.model_validate({"window": text}).window == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["5 parsecs", "-5m", "m", "", True, -3])
def test_every_reader_refuses_the_same_nonsense(bad: object) -> None:
    """Nonsense is refused alike, with examples of what is expected."""
    for parse in (parse_seconds, parse_timedelta, heuristics_duration, grouping_duration):
        with pytest.raises(ValueError, match="250ms"):
            parse(bad)
