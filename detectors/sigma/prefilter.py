"""Per-route rule buckets with an Aho-Corasick prefilter.

Each compiled rule carries up to two clauses: sets of (field, literal) of which a matching event
must contain at least one (a rule `Image|endswith: '\\x.exe' and CommandLine|contains: [a, b]`
needs 'x.exe' in Image and a or b in CommandLine). A bucket builds one literal search (literals.py) per
field over the literals of its rules, scans each field of an event once (lower-cased, memoised per value)
and evaluates only the rules whose clauses all hit, plus the rules that have no clause (numeric,
regex-only or negated conditions). A prefilter hit is necessary, never sufficient: the full
matcher decides. Keyword literals are searched in every value of the event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import filterfalse
from operator import itemgetter
from typing import Any

from detectors.sigma.compiler import CompiledRule
from detectors.sigma.conditions import KEYWORD_NAMES
from detectors.sigma.literals import literal_search
from detectors.sigma.pipeline import RouteKey
from detectors.sigma.strings import as_text

_first = itemgetter(0)
# True in the mypyc-compiled copy (hatch_build.py names it detectors.sigma._prefilter_native), whose
# loops run as C: find_all then takes one pass over an event's values (_find_each), 7.5% fewer
# instructions per steady-state event than the two set operations that are cheaper in Python.
_COMPILED = __name__.endswith("_native")
_NOTHING: frozenset[int] = frozenset()
PICKED_SIZE = 4096  # combinations of hits remembered per bucket (emptied when full)
_NUMERIC_TEXT = set("0123456789.-+einfatrusl")  # characters of str(number), 'true', 'false'
_Rules = list[tuple[int, CompiledRule]]
MAX_ROUTES_SEEN = 4096  # raw (channel, event id) pairs whose bucket a Dispatch remembers


class _Scanner:
    """Literals of one field in one bucket: the shared search of those literals, and their clauses.

    Event streams repeat values (the same images, registry keys, call traces) all the time; the
    search's memo (value -> literal ids, shared by every bucket with the same literals, see
    literals.py) turns a scan into one dict lookup for a string seen before. Literal ids become this
    bucket's clause ids (`clauses_of`) only when the bucket picks its candidates for a new
    combination of hits (Bucket.candidates remembers the result).
    """

    def __init__(self, names: tuple[str, ...], words: dict[str, set[int]]) -> None:
        self.names = names
        self.clauses: list[tuple[int, ...]] = [tuple(sorted(c)) for c in words.values()]
        self.search = literal_search(tuple(words))
        self.memo: dict[str, frozenset[int]] = self.search.memo
        self.hot: set[str] = self.search.hot
        self.numeric = any(set(w) <= _NUMERIC_TEXT for w in words)

    def clauses_of(self, found: frozenset[int]) -> set[int]:
        """Clause ids of literal ids."""
        clauses = self.clauses
        return {c for lid in found for c in clauses[lid]}

    def find(self, value: Any) -> frozenset[int]:
        """Literal ids hit by the value (a list value: by any element)."""
        if type(value) is str:
            return self.search.find_memo(value)
        if type(value) is list:
            return frozenset(self.search.find("\x00".join(as_text(x) for x in value if x is not None)))
        return frozenset(self.search.find(as_text(value)))

    def find_all(self, event: Mapping[str, Any]) -> frozenset[int]:
        """Keyword literals: the literal ids hit by any value of the event.

        The compiled copy loops over the values once (`_find_each`). As Python, the usual event (no
        list value, no literal that could occur in a number's text) takes two passes over its values
        at C speed and builds no set: `isdisjoint` with the values known to
        hit something (`hot`: almost always disjoint), and the values not in the memo (`filterfalse`),
        of which only strings are kept: numbers, booleans and null are never in the memo (it holds
        strings only) and no literal occurs in their text. Building `set(values)` for a difference
        and an intersection, as before, cost about 1 us more per event (benchmarks/engine-results.md,
        session 7).
        """
        values = event.values()
        if self.numeric or _COMPILED:
            return self._find_each(values)
        try:
            found = _NOTHING if self.hot.isdisjoint(values) else self._hot_hits(values)
            misses = [v for v in filterfalse(self.memo.__contains__, values) if type(v) is str]
        except TypeError:  # a list value (unhashable)
            return self._find_each(values)
        if misses:
            found = found | self._learn(misses)
        return found

    def _hot_hits(self, values: Iterable[Any]) -> frozenset[int]:
        memo = self.memo
        found = _NOTHING
        for v in self.hot.intersection(values):
            found = found | memo[v]
        return found

    def _find_each(self, values: Iterable[Any]) -> frozenset[int]:
        """`find_all` value by value: list values, numbers when a literal could be in their text, and
        every event in the compiled copy."""
        memo, numeric = self.memo, self.numeric
        found: frozenset[int] = _NOTHING
        misses: list[str] = []
        for v in values:
            if type(v) is str:
                hit = memo.get(v)
                if hit is None:
                    misses.append(v)
                elif hit:
                    found = found | hit
            elif v is None or not (numeric or type(v) is list):
                continue
            elif hit := self.find(v):
                found = found | hit
        if misses:
            found = found | self._learn(misses)
        return found

    def _learn(self, misses: list[str]) -> frozenset[int]:
        """Literal ids in strings never seen: they are joined (NUL between them, so no literal spans
        two) and scanned in one pass, and when that finds nothing, as it almost always does, each is
        remembered as hitting nothing."""
        search = self.search
        if not search.find("\x00".join(misses)):
            search.remember_clean(misses)
            return _NOTHING
        found: frozenset[int] = _NOTHING  # rare: learn each value's own hits
        for v in misses:
            found = found | search.find_memo(v)
        return found


class Bucket:
    """The rules evaluated on one route (channel, event id), with their prefilter."""

    def __init__(self, rules: Sequence[tuple[int, CompiledRule]]) -> None:
        self.rules = list(rules)
        self.always: list[tuple[int, CompiledRule]] = []
        self._clause_rules: dict[int, list[int]] = {}
        self._rule_clauses: dict[int, frozenset[int]] = {}
        self._by_index: dict[int, tuple[int, CompiledRule]] = {}
        clause_ids: dict[Any, int] = {}
        words: dict[tuple[str, ...], dict[str, set[int]]] = {}
        for idx, rule in rules:
            if not rule.clauses or rule.placeholders:
                self.always.append((idx, rule))
                continue
            self._by_index[idx] = (idx, rule)
            mine = set()
            for clause in rule.clauses:
                cid = clause_ids.setdefault(clause, len(clause_ids))
                mine.add(cid)
                self._clause_rules.setdefault(cid, []).append(idx)
                for names, needle in clause:
                    words.setdefault(names, {}).setdefault(needle, set()).add(cid)
            self._rule_clauses[idx] = frozenset(mine)
        keyword = words.pop(KEYWORD_NAMES, None)
        self._keywords = _Scanner(KEYWORD_NAMES, keyword) if keyword else None
        self._scanners = [_Scanner(names, w) for names, w in words.items()]
        self._fields = [(pos, sc.names, sc.memo, sc.find) for pos, sc in enumerate(self._scanners)]
        self._empty = not self._scanners and self._keywords is None
        # (field hits, keyword hits) -> candidates: a pure function of the hits, and the same few
        # combinations of hits recur, so the rules are picked and sorted once per combination.
        self._picked: dict[tuple[tuple[tuple[int, frozenset[int]], ...], frozenset[int]], _Rules] = {}

    def candidates(self, event: Mapping[str, Any]) -> _Rules:
        """Rules worth evaluating on the event, in rule-set order (a shared list: not to be changed).

        A field's value is read from the first of its names holding a non-null value; the matcher may
        read an earlier name holding null, whose value then never matches: scanning the later one
        can only add hits, and extra hits cost time, never a detection.
        """
        if self._empty:
            return self.always
        get = event.get
        hits: list[tuple[int, frozenset[int]]] = []  # (scanner position, literal ids) of hitting fields
        for pos, names, memo, find in self._fields:
            for name in names:
                v = get(name)
                if v is not None:
                    break
            else:
                continue
            found = memo.get(v) if type(v) is str else None
            if found is None:
                found = find(v)
            if found:
                hits.append((pos, found))
        keywords = _NOTHING if self._keywords is None else self._keywords.find_all(event)
        if not hits and not keywords:
            return self.always
        key = (tuple(hits), keywords)
        picked = self._picked.get(key)
        if picked is None:
            picked = self._pick(hits, keywords)
            if len(self._picked) >= PICKED_SIZE:
                self._picked.clear()
            self._picked[key] = picked
        return picked

    def _pick(self, hits: list[tuple[int, frozenset[int]]], keywords: frozenset[int]) -> _Rules:
        """The rules whose every clause is among the hit clauses, with the rules that have none."""
        clauses: set[int] = set()
        for pos, found in hits:
            clauses |= self._scanners[pos].clauses_of(found)
        if keywords and self._keywords is not None:
            clauses |= self._keywords.clauses_of(keywords)
        rule_clauses = self._rule_clauses
        picked = sorted(
            {idx for cid in clauses for idx in self._clause_rules[cid] if rule_clauses[idx] <= clauses}
        )
        if not picked:
            return self.always
        by_index = self._by_index
        return sorted(self.always + [by_index[i] for i in picked], key=_first)


class Dispatch:
    """An event's bucket and that bucket's candidates: the part of `Engine.match` every event pays.

    The route is read as `pipeline.Pipeline.route_key` reads it (the first non-null of the channel
    names, then of the event id names), so the key is a function of the raw (channel, event id) pair:
    the bucket is remembered per pair, and the usual event costs one tuple and one dict lookup.
    Anything else (no channel string, an event id that is not an int or a string: True and 1, or 1.0
    and 1, hash alike but may route apart) takes `route_key` and the engine's bucket, unremembered.
    This ran as a Python closure in pipeline.py (about 1.5 us per event on session 10's machine);
    compiled with this module, the route, the lookup and the call of `Bucket.candidates` run as C.
    """

    def __init__(
        self,
        channels: tuple[str, ...],
        event_ids: tuple[str, ...],
        route_key: Callable[[Mapping[str, Any]], RouteKey],
        bucket: Callable[[RouteKey], Bucket],
    ) -> None:
        self.channels = channels
        self.event_ids = event_ids
        self.route_key = route_key
        self.bucket = bucket
        self.seen: dict[tuple[Any, Any], Bucket] = {}

    def candidates(self, event: Mapping[str, Any]) -> _Rules:
        """`Bucket.candidates` of the event's bucket."""
        get = event.get
        channel: Any = None
        for name in self.channels:
            channel = get(name)
            if channel is not None:
                break
        if type(channel) is not str:
            return self.bucket(self.route_key(event)).candidates(event)
        eid: Any = None
        for name in self.event_ids:
            eid = get(name)
            if eid is not None:
                break
        if eid is not None and type(eid) is not int and type(eid) is not str:
            return self.bucket(self.route_key(event)).candidates(event)
        pair = (channel, eid)
        bucket = self.seen.get(pair)
        if bucket is None:
            bucket = self.bucket(self.route_key(event))
            if len(self.seen) < MAX_ROUTES_SEEN:
                self.seen[pair] = bucket
        return bucket.candidates(event)
