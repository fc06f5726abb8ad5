"""A quick, exact-by-construction first test of an event: could it hit any indicator?

Events repeat their values (the same binaries' Hashes, the same internal addresses and DNS names), so
the detector and the retro-hunt ask the same question of the index over and over. `HitFilter` answers "could
this field value hit an indicator of any scope" once per distinct (field, value) and remembers it
(bounded). It ignores tenant scopes, expiry and allow-lists, so it answers yes for a superset of the
events that hit; `IndicatorMatcher.hits` then matches only those, exactly. The detections are therefore
the same as without the filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from detectors.intel.fields import TABLE, observations
from detectors.intel.index import IndicatorIndex, lookup

MEMO_SIZE = 1_000_000  # distinct (field, value) pairs remembered; cleared whole when full


class HitFilter:
    """`filter(fields)`: False when no value of the event's TABLE fields is in any index."""

    def __init__(self, indexes: Sequence[IndicatorIndex], memo_size: int = MEMO_SIZE) -> None:
        self.indexes = tuple(indexes)
        self.memo: dict[tuple[str, Any], bool] = {}
        self.memo_size = memo_size

    def __call__(self, fields: Mapping[str, Any]) -> bool:
        memo = self.memo
        for name, value in fields.items():
            # A plain text value is remembered by (kind, text): DestinationIp and destination.ip share.
            kind, lower = TABLE.get(name, (None, False))
            if kind is not None and isinstance(value, str):
                key: tuple[Any, Any] = (kind, value.lower() if lower else value)
            else:
                key = (name, tuple(value) if isinstance(value, list) else value)
            try:
                found = memo.get(key)
            except TypeError:  # an unhashable value (an object where a string belongs): just ask
                found = self._could_hit(name, value)
            if found is None:
                found = self._could_hit(name, value)
                if len(memo) >= self.memo_size:
                    memo.clear()
                memo[key] = found
            if found:
                return True
        return False

    def _could_hit(self, name: str, value: Any) -> bool:
        return any(
            lookup(index, kind, text)
            for kind, _, text in observations({name: value})
            for index in self.indexes
        )
