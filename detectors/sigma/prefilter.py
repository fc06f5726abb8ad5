"""Per-route rule buckets with an Aho-Corasick prefilter.

Each compiled rule carries up to two clauses: sets of (field, literal) of which a matching event
must contain at least one (a rule `Image|endswith: '\\x.exe' and CommandLine|contains: [a, b]`
needs 'x.exe' in Image and a or b in CommandLine). A bucket builds one automaton per field over
all literals of its rules, scans each field of an event once (lower-cased) and evaluates only
the rules whose clauses all hit, plus the rules that have no clause (pure numeric or negated
conditions). A prefilter hit is necessary, never sufficient: the full matcher decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ahocorasick

from detectors.sigma.compiler import CompiledRule
from detectors.sigma.conditions import MISSING, getter
from detectors.sigma.modifiers import as_text


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
        self._scanners: list[tuple[Callable[[Mapping[str, Any]], Any], Any]] = []
        for names, needles in words.items():
            automaton = ahocorasick.Automaton()
            for needle, cids in needles.items():
                automaton.add_word(needle, tuple(sorted(cids)))
            automaton.make_automaton()
            self._scanners.append((getter(names), automaton))
        self._no_rules = not self._scanners

    def candidates(self, event: Mapping[str, Any]) -> list[tuple[int, CompiledRule]]:
        """Rules worth evaluating on the event, in rule-set order."""
        if self._no_rules:
            return self.always
        hits: set[int] = set()
        for get, automaton in self._scanners:
            v = get(event)
            if v is MISSING or v is None:
                continue
            if type(v) is list:
                for x in v:
                    if x is not None:
                        for _, cids in automaton.iter(as_text(x).lower()):
                            hits.update(cids)
            else:
                for _, cids in automaton.iter((v if type(v) is str else as_text(v)).lower()):
                    hits.update(cids)
        if not hits:
            return self.always
        picked: set[int] = set()
        rule_clauses = self._rule_clauses
        for cid in hits:
            for idx in self._clause_rules[cid]:
                if idx not in picked and rule_clauses[idx] <= hits:
                    picked.add(idx)
        if not picked:
            return self.always
        by_index = self._by_index
        return sorted(self.always + [by_index[i] for i in picked])
