"""The indicator index: one hash table per kind, and a Patricia trie per IP family for CIDR blocks.

A lookup is a few dictionary probes whatever the number of indicators: an address is one probe plus one
longest-prefix search in the trie (pytricia, a C Patricia trie, walked up through `parent` for the
enclosing blocks); a domain one probe per label (`a.b.evil.com` -> itself, `b.evil.com`, `evil.com`), so
an indicator on a domain also matches its subdomains; URLs, hashes and email addresses one probe.

Several feeds may list the same value: a key holds one Indicator, or a tuple of them.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Iterator

import pytricia

from detectors.intel.model import Indicator, IndicatorKind
from detectors.intel.values import BadValueError, url

Hits = Indicator | tuple[Indicator, ...]
_EMPTY: tuple[Indicator, ...] = ()


def _add(table: dict[str, Hits], key: str, indicator: Indicator) -> None:
    held = table.get(key)
    if held is None:
        table[key] = indicator
    elif isinstance(held, Indicator):
        if held != indicator:
            table[key] = (held, indicator)
    elif indicator not in held:
        table[key] = (*held, indicator)


def _all(held: Hits | None) -> tuple[Indicator, ...]:
    if held is None:
        return _EMPTY
    return (held,) if isinstance(held, Indicator) else held


class IndicatorIndex:
    """Indicators of one scope (the global feeds, or one tenant's), built once and then only read."""

    def __init__(self) -> None:
        self.tables: dict[IndicatorKind, dict[str, Hits]] = {kind: {} for kind in IndicatorKind}
        self.nets4 = pytricia.PyTricia(32)
        self.nets6 = pytricia.PyTricia(128)
        self.has_nets = False
        self.nets = {4: 0, 6: 0}  # blocks per family: len() of a PyTricia walks the whole trie
        self.expired = 0

    @classmethod
    def build(cls, indicators: Iterable[Indicator], now: float) -> IndicatorIndex:
        """An index of the indicators not yet expired at `now`."""
        index = cls()
        for indicator in indicators:
            if indicator.expired(now):
                index.expired += 1
                continue
            index.add(indicator)
        return index

    def add(self, indicator: Indicator) -> None:
        value = indicator.value
        if indicator.kind is IndicatorKind.ip and "/" in value:
            family = 6 if ":" in value else 4
            trie = self.nets6 if family == 6 else self.nets4
            held = trie.get(value) if trie.has_key(value) else None
            if held is None:
                self.nets[family] += 1
            merged: dict[str, Hits] = {} if held is None else {value: held}
            _add(merged, value, indicator)
            trie[value] = merged[value]
            self.has_nets = True
            return
        _add(self.tables[indicator.kind], value, indicator)

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values()) + self.nets[4] + self.nets[6]

    def counts(self) -> Counter[str]:
        """Distinct values per kind (CIDR blocks counted as `cidr`)."""
        out: Counter[str] = Counter({str(kind): len(table) for kind, table in self.tables.items() if table})
        if nets := self.nets[4] + self.nets[6]:
            out["cidr"] = nets
        return out

    def __iter__(self) -> Iterator[Indicator]:
        for table in self.tables.values():
            for held in table.values():
                yield from _all(held)
        for trie in (self.nets4, self.nets6):
            for prefix in trie:
                yield from _all(trie[prefix])

    # --- lookups: each takes an event's value and returns the indicators it hits ---------------------

    def ip(self, value: str) -> tuple[Indicator, ...]:
        held = self.tables[IndicatorKind.ip].get(value)
        if held is None and ":" in value:  # IPv6 has many spellings; the table holds the canonical one
            try:
                value = str(ipaddress.ip_address(value))
            except ValueError:
                return _EMPTY
            held = self.tables[IndicatorKind.ip].get(value)
        hits = _all(held)
        if self.has_nets:
            hits += self._nets(value)
        return hits

    def _nets(self, value: str) -> tuple[Indicator, ...]:
        family = 6 if ":" in value else 4
        if not self.nets[family]:
            return _EMPTY
        trie = self.nets6 if family == 6 else self.nets4
        try:
            prefix = trie.get_key(value)
        except (ValueError, KeyError):  # not an address at all (a hostname in an IP field)
            return _EMPTY
        hits: tuple[Indicator, ...] = ()
        while prefix is not None:
            hits += _all(trie[prefix])
            prefix = trie.parent(prefix)
        return hits

    def domain(self, value: str) -> tuple[Indicator, ...]:
        table = self.tables[IndicatorKind.domain]
        if not table:
            return _EMPTY
        name = value.lower().rstrip(".")
        hits: tuple[Indicator, ...] = ()
        while True:
            held = table.get(name)
            if held is not None:
                hits += _all(held)
            dot = name.find(".")
            if dot < 0:
                return hits
            name = name[dot + 1 :]

    def exact(self, kind: IndicatorKind, value: str) -> tuple[Indicator, ...]:
        table = self.tables[kind]
        return _all(table.get(value)) if table else _EMPTY


def lookup(index: IndicatorIndex, kind: IndicatorKind, value: str) -> tuple[Indicator, ...]:
    """The indicators of `index` an event's value of `kind` hits."""
    if kind is IndicatorKind.ip:
        return index.ip(value)
    if kind is IndicatorKind.domain:
        return index.domain(value)
    if kind is IndicatorKind.url:
        return index.exact(kind, value) or _url(index, value)
    return index.exact(kind, value)


def _url(index: IndicatorIndex, value: str) -> tuple[Indicator, ...]:
    if not index.tables[IndicatorKind.url]:
        return ()
    try:
        return index.exact(IndicatorKind.url, url(value))
    except BadValueError:
        return ()
