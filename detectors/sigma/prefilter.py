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

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from detectors.sigma.compiler import CompiledRule
from detectors.sigma.conditions import KEYWORD_NAMES, getter
from detectors.sigma.literals import literal_search
from detectors.sigma.strings import as_text

_first = itemgetter(0)
_NOTHING: frozenset[int] = frozenset()
MEMO_SIZE = 20_000  # hit sets remembered per scanner
_NUMERIC_TEXT = set("0123456789.-+einfatrusl")  # characters of str(number), 'true', 'false'


class _Scanner:
    """Literals of one field in one bucket: the shared search of those literals, and their clauses.

    Event streams repeat values (the same images, registry keys, call traces) all the time; the
    search's memo (value -> literal ids, shared by every bucket with the same literals, see
    literals.py) turns a scan into one dict lookup for a string seen before. Literal ids become this
    bucket's clause ids through a small per-scanner table (`clauses_of`), only when some literal hit.
    """

    def __init__(self, names: tuple[str, ...], words: dict[str, set[int]]) -> None:
        self.names = names
        self.get = getter(names)
        self.clauses: list[tuple[int, ...]] = [tuple(sorted(c)) for c in words.values()]
        self.search = literal_search(tuple(words))
        self.memo: dict[str, frozenset[int]] = self.search.memo
        self._clauses_of: dict[frozenset[int], frozenset[int]] = {}
        self.numeric = any(set(w) <= _NUMERIC_TEXT for w in words)

    def clauses_of(self, found: frozenset[int]) -> frozenset[int]:
        """Clause ids of literal ids (remembered: the same few hit sets recur)."""
        if not found:
            return _NOTHING
        out = self._clauses_of.get(found)
        if out is None:
            clauses = self.clauses
            out = frozenset(c for lid in found for c in clauses[lid])
            if len(self._clauses_of) >= MEMO_SIZE:
                self._clauses_of.clear()
            self._clauses_of[found] = out
        return out

    def scan(self, value: Any) -> frozenset[int]:
        """Clause ids hit by the value (a list value: by any element)."""
        if type(value) is str:
            return self.clauses_of(self.search.find_memo(value))
        if type(value) is list:
            return self.clauses_of(
                frozenset(self.search.find("\x00".join(as_text(x) for x in value if x is not None)))
            )
        return self.clauses_of(frozenset(self.search.find(as_text(value))))

    def scan_all(self, event: Mapping[str, Any]) -> frozenset[int]:
        """Keyword literals: clause ids hit by any value of the event.

        Strings seen before are one memo lookup each; the new ones are joined (NUL between them, so
        no literal spans two) and scanned in one pass, and when that finds nothing, as it almost
        always does, each is remembered as hitting nothing. Numbers and booleans are skipped unless
        some literal could occur in their text form.
        """
        memo, numeric = self.memo, self.numeric
        hits: frozenset[int] = _NOTHING
        misses: list[str] = []
        for v in event.values():
            if type(v) is str:
                found = memo.get(v)
                if found is None:
                    misses.append(v)
                    continue
                if found:
                    hits = hits | self.clauses_of(found)
            elif v is None or not (numeric or type(v) is list):
                continue
            elif found := self.scan(v):
                hits = hits | found
        if misses:
            if self.search.find("\x00".join(misses)):  # rare: learn each value's own hits
                for v in misses:
                    hits = hits | self.clauses_of(self.search.find_memo(v))
            else:
                self.search.remember_clean(misses)
        return hits


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
        self._fields = [(sc.names, sc.memo, sc.scan, sc) for sc in self._scanners]
        self._empty = not self._scanners and self._keywords is None

    def _field_hits(self, event: Mapping[str, Any]) -> set[int]:
        hits: set[int] = set()
        get = event.get
        for names, memo, scan, scanner in self._fields:
            for name in names:
                v = get(name)
                if v is not None:
                    break
            else:
                continue
            found = memo.get(v) if type(v) is str else None
            if found is None:
                found = scan(v)
            elif found:
                found = scanner.clauses_of(found)
            if found:
                hits |= found
        return hits

    def candidates(self, event: Mapping[str, Any]) -> list[tuple[int, CompiledRule]]:
        """Rules worth evaluating on the event, in rule-set order.

        A field's value is read from the first of its names holding a non-null value; the matcher may
        read an earlier name holding null, whose value then never matches: scanning the later one
        can only add hits, and extra hits cost time, never a detection.
        """
        if self._empty:
            return self.always
        hits = self._field_hits(event)
        if self._keywords is not None:
            hits |= self._keywords.scan_all(event)
        if not hits:
            return self.always
        picked: list[int] = []
        rule_clauses = self._rule_clauses
        seen: set[int] = set()
        for cid in hits:
            for idx in self._clause_rules[cid]:
                if idx not in seen:
                    seen.add(idx)
                    if rule_clauses[idx] <= hits:
                        picked.append(idx)
        if not picked:
            return self.always
        by_index = self._by_index
        return sorted(self.always + [by_index[i] for i in picked], key=_first)
