"""Event-time window primitives: the one windowing module of the detectors.

Used by the anomaly heuristics and meant for Sigma correlation windows too. Every time is a float
of epoch seconds taken from the events, never from the wall clock, so a replay gives the same
answers as the live run. Every structure:

- is bounded (a cap on items or keys; the oldest goes first),
- tolerates events that arrive out of order by up to `lateness` seconds behind the newest one it
  has seen (its own watermark); an event later than that is refused (`add` returns False) and the
  caller counts it,
- turns into plain JSON-able data with `snapshot()` and back with `restore()`, exactly (times are
  not rounded: JSON writes a float so that it reads back the same). Snapshots carry data only,
  never settings, so a restored state runs under the configuration of the day.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from schemas.durations import Seconds, parse_seconds

K = TypeVar("K")
V = TypeVar("V")

# The one duration grammar (schemas/durations.py), under the names the heuristics import.
parse_duration = parse_seconds
Duration = Seconds


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """How long a window is, how late an event may be, how many items it keeps at most."""

    window: float
    lateness: float = 0.0
    cap: int = 1024


class TimestampWindow:
    """The timestamps of one key's events in the last `window` seconds, sorted (a sliding count)."""

    __slots__ = ("high", "spec", "times")

    def __init__(self, spec: WindowSpec, times: list[float] | None = None) -> None:
        self.spec = spec
        self.times: list[float] = sorted(times or [])
        self.high = self.times[-1] if self.times else -math.inf

    def add(self, ts: float) -> bool:
        """Record an event; False if it is later than the lateness bound (then nothing changes)."""
        times = self.times
        if ts >= self.high:
            times.append(ts)
            self.high = ts
        elif ts >= self.high - self.spec.lateness:
            insort(times, ts)
        else:
            return False
        horizon = self.high - self.spec.window
        if times[0] < horizon:
            del times[: bisect_left(times, horizon)]
        if len(times) > self.spec.cap:
            del times[: len(times) - self.spec.cap]
        return True

    def __len__(self) -> int:
        return len(self.times)

    def count_between(self, start: float, end: float) -> int:
        """How many events fell in [start, end]."""
        return bisect_right(self.times, end) - bisect_left(self.times, start)

    @property
    def first(self) -> float:
        return self.times[0]

    def first_since(self, start: float) -> float:
        """The earliest time at or after `start` (the window start of a count ending now)."""
        times = self.times
        return times[min(bisect_left(times, start), len(times) - 1)]

    def snapshot(self) -> list[float]:
        return list(self.times)

    @classmethod
    def restore(cls, spec: WindowSpec, data: list[float]) -> TimestampWindow:
        return cls(spec, [float(t) for t in data])


class DistinctWindow:
    """The distinct values seen in the last `window` seconds, each with its last time (a distinct count)."""

    __slots__ = ("high", "last", "spec")

    def __init__(self, spec: WindowSpec, last: dict[str, float] | None = None) -> None:
        self.spec = spec
        self.last: OrderedDict[str, float] = OrderedDict(sorted((last or {}).items(), key=lambda kv: kv[1]))
        self.high = max(self.last.values(), default=-math.inf)

    def add(self, value: str, ts: float) -> bool:
        """Record `value` at `ts`; False if later than the lateness bound."""
        if ts < self.high - self.spec.lateness:
            return False
        self.high = max(self.high, ts)
        last = self.last
        previous = last.pop(value, None)
        last[value] = ts if previous is None else max(previous, ts)
        horizon = self.high - self.spec.window
        while last:
            oldest = next(iter(last))
            if last[oldest] >= horizon and len(last) <= self.spec.cap:
                break
            last.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self.last)

    def __contains__(self, value: str) -> bool:
        return value in self.last

    def first_time(self) -> float:
        return min(self.last.values())

    def values(self) -> list[str]:
        return list(self.last)

    def snapshot(self) -> dict[str, float]:
        return dict(self.last)

    @classmethod
    def restore(cls, spec: WindowSpec, data: dict[str, float]) -> DistinctWindow:
        return cls(spec, {str(k): float(v) for k, v in data.items()})


class Ewma:
    """An exponentially weighted mean and variance: a baseline that follows slow drift."""

    __slots__ = ("mean", "n", "var")

    def __init__(self, mean: float = 0.0, var: float = 0.0, n: int = 0) -> None:
        self.mean, self.var, self.n = mean, var, n

    def update(self, x: float, alpha: float) -> None:
        if self.n == 0:
            self.mean, self.var = x, 0.0
        else:
            delta = x - self.mean
            step = alpha * delta
            self.mean += step
            self.var = (1 - alpha) * (self.var + delta * step)
        self.n += 1

    @property
    def std(self) -> float:
        return math.sqrt(max(self.var, 0.0))

    def snapshot(self) -> list[float]:
        return [self.mean, self.var, self.n]

    @classmethod
    def restore(cls, data: list[float]) -> Ewma:
        return cls(float(data[0]), float(data[1]), int(data[2]))


class TumblingSums:
    """Per-bucket sums of one key (bytes per hour): a bucket closes once the watermark passes its end."""

    __slots__ = ("high", "open", "size")

    def __init__(self, size: float, open_buckets: dict[float, float] | None = None, high: float = -math.inf):
        self.size = size
        self.open: dict[float, float] = dict(open_buckets or {})
        self.high = high

    def add(self, ts: float, amount: float, lateness: float) -> tuple[float, float, list[float]] | None:
        """Add to ts's bucket: (bucket start, its sum so far, sums of buckets closed now), or None if late."""
        watermark = self.high - lateness
        if ts < watermark and ts - ts % self.size not in self.open:
            return None
        self.high = max(self.high, ts)
        start = ts - ts % self.size
        total = self.open.get(start, 0.0) + amount
        self.open[start] = total
        closed: list[float] = []
        watermark = self.high - lateness
        for bucket in sorted(self.open):
            if bucket + self.size <= watermark and bucket != start:
                closed.append(self.open.pop(bucket))
        return start, total, closed

    def snapshot(self) -> dict[str, Any]:
        return {"open": [[b, v] for b, v in self.open.items()], "high": self.high if self.open else None}

    @classmethod
    def restore(cls, size: float, data: dict[str, Any]) -> TumblingSums:
        high = data.get("high")
        buckets = {float(b): float(v) for b, v in data.get("open", [])}
        return cls(size, buckets, float(high) if high is not None else -math.inf)


class LruMap(Generic[K, V]):
    """A dict with a cap on its keys: touching a key makes it newest, the least recently touched goes first.

    `evicted` counts the keys dropped, so the owner can report state pressure; `on_evict`, when
    given, hears each dropped key (an owner that persists state per key must forget it there too).
    """

    __slots__ = ("_data", "cap", "evicted", "on_evict")

    def __init__(self, cap: int, on_evict: Callable[[K], None] | None = None) -> None:
        if cap < 1:
            raise ValueError("an LruMap needs a cap of at least 1")
        self.cap = cap
        self._data: OrderedDict[K, V] = OrderedDict()
        self.evicted = 0
        self.on_evict = on_evict

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def peek(self, key: K) -> V | None:
        """The value without making the key newest."""
        return self._data.get(key)

    def setdefault(self, key: K, factory: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = factory()
            self[key] = value
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.cap:
            dropped, _ = self._data.popitem(last=False)
            self.evicted += 1
            if self.on_evict is not None:
                self.on_evict(dropped)

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> Iterator[tuple[K, V]]:
        """Oldest first, so restoring in this order keeps the eviction order."""
        return iter(list(self._data.items()))
