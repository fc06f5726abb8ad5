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
MEMO_SIZE = 20_000  # values remembered per field and bucket
_NUMERIC_TEXT = set("0123456789.-+einfatrusl")  # characters of str(number), 'true', 'false'


class _Scanner:
    """Literals of one field: a shared LiteralSearch, and a bounded memo of value -> clauses hit.

    Event streams repeat values (the same images, registry keys, call traces) all the time; the
    memo turns a scan into one dict lookup for a string seen before.
    """

    def __init__(self, names: tuple[str, ...], words: dict[str, set[int]]) -> None:
        self.names = names
        self.get = getter(names)
        self.clauses: list[tuple[int, ...]] = [tuple(sorted(c)) for c in words.values()]
        self.search = literal_search(tuple(words))
        self.memo: dict[str, frozenset[int]] = {}
        self.numeric = any(set(w) <= _NUMERIC_TEXT for w in words)

    def scan(self, value: Any) -> frozenset[int]:
        """Clause ids hit by the value (a list value: by any element)."""
        if type(value) is str:
            found = self.memo.get(value)
            if found is None:
                found = self._scan(value)
                if len(self.memo) >= MEMO_SIZE:
                    self.memo.clear()
                self.memo[value] = found
            return found
        if type(value) is list:
            return self._scan("\x00".join(as_text(x) for x in value if x is not None))
        return self._scan(as_text(value))

    def _scan(self, text: str) -> frozenset[int]:
        """Clause ids hit by the text (not yet lower-cased)."""
        found = self.search.find(text)
        if not found:
            return _NOTHING
        clauses = self.clauses
        return frozenset(c for nid in found for c in clauses[nid])

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
            elif v is None or not (numeric or type(v) is list):
                continue
            else:
                found = self.scan(v)
            if found:
                hits = hits | found
        if misses:
            found = self._scan("\x00".join(misses))
            if found:  # rare: learn each value's own hits
                for v in misses:
                    self.scan(v)
                hits = hits | found
            else:
                if len(memo) + len(misses) > MEMO_SIZE:
                    memo.clear()
                for v in misses:
                    memo[v] = _NOTHING
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
        self._fields = [(sc.names, sc.memo, sc.scan) for sc in self._scanners]
        self._empty = not self._scanners and self._keywords is None

    def _field_hits(self, event: Mapping[str, Any]) -> set[int]:
        hits: set[int] = set()
        get = event.get
        for names, memo, scan in self._fields:
            for name in names:
                v = get(name)
                if v is not None:
                    break
            else:
                continue
            found = memo.get(v) if type(v) is str else None
            if found is None:
                found = scan(v)
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
