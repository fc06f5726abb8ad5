"""Which of a fixed set of literals occur in a text, case-insensitively: the prefilter's search.

Two well-kept libraries, each where it is fastest (measured over the texts the prefilter scans
on a first pass over the 200,000 benchmark events, benchmarks/engine-results.md):

- pyahocorasick (a C Aho-Corasick automaton) for short texts: one `iter` call costs little, but the
  walk costs about 12 ns per character, so a 10 KB PowerShell script block costs over 60 us;
- Hyperscan (Intel's SIMD multi-literal matcher, via the `hyperscan` package) for texts of
  LONG_TEXT characters or more: a fixed ~1.5 us per call, then several GB/s (4.4 us for
  the same script block). Compiling its database costs about 7 ms, so a search compiles it only
  once the automaton has walked HS_AFTER characters of long texts (a search that rarely sees one
  never pays for it; one that does wastes at most a few ms before switching). It matches bytes,
  so the text is UTF-8 encoded; a literal occurs in a text exactly when its UTF-8 bytes occur in
  the text's UTF-8 bytes (UTF-8 is self-synchronising).

Without the `hyperscan` wheel (it is built for x86-64 only) every text goes to the automaton: the same
answers, slower on long texts.

Literals are given lower-cased; the text is lower-cased here (Python's `str.lower`, as Sigma's
case-insensitive matching does everywhere in this engine). An ASCII text is not lower-cased for
Hyperscan: its caseless flag folds exactly A-Z, which is all `str.lower` changes in ASCII.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import ahocorasick

try:  # x86-64 only (Intel's library; pyproject installs it there): elsewhere the automaton does it all
    import hyperscan
except ImportError:  # pragma: no cover - exercised on machines without the wheel
    hyperscan = None  # type: ignore[assignment]

LONG_TEXT = 256  # characters: from here on Hyperscan is clearly faster than the automaton's walk
MEMO_SIZE = 200_000  # values remembered per search (shared by every bucket with these literals)
# ... and characters: 200,000 unique 4.5 KB PowerShell ContextInfo values would hold about 1 GB
MEMO_CHARS = 64_000_000
# Texts of LONG_MEMO characters or more (script blocks, a 4103 event's ContextInfo, unique per event)
# are remembered within a budget of their own, LONG_MEMO_CHARS per search: when it is spent only they
# are forgotten, not the short values that make the memo pay (before, unique 4.5 KB values filled
# MEMO_CHARS and emptied the whole memo every ~14,000 of them on a PowerShell-heavy stream).
LONG_MEMO = 1024
LONG_MEMO_CHARS = 8_000_000
HS_AFTER = 200_000  # characters of long texts walked by the automaton before Hyperscan is compiled
MAX_ANCHORS = 4  # a search whose literals share at most this many anchors tests them first (anchors())
# ... worked out once it has searched ANCHOR_AFTER short texts (a hot search: working them out costs
# about 0.1 ms per literal), for sets of at most MAX_ANCHOR_LITERALS literals (larger ones need more)
ANCHOR_AFTER = 1000
MAX_ANCHOR_LITERALS = 64
_NOTHING: frozenset[int] = frozenset()
_HS_FLAGS = (hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_CASELESS) if hyperscan else 0


@lru_cache(maxsize=1024)
def literal_search(literals: tuple[str, ...]) -> LiteralSearch:
    """The search for these literals, shared: every Windows bucket carries the same keyword literals
    (SigmaHQ's mimikatz keywords rule applies to all Windows events), and compiling a Hyperscan
    database costs milliseconds, so each distinct set is built once per process. A search holds no
    per-event state, so sharing it is safe."""
    return LiteralSearch(literals)


def _note(literal_id: int, start: int, end: int, flags: int, found: set[int]) -> None:
    """Hyperscan's match callback: remember the literal (SINGLEMATCH: once per scan)."""
    found.add(literal_id)


class LiteralSearch:
    """Search for many literals at once; `find` returns the ids (positions in `literals`) present."""

    def __init__(self, literals: Sequence[str]) -> None:
        if not literals or not all(literals):
            raise ValueError("literals must be non-empty strings")
        self.literals = tuple(literals)
        automaton = ahocorasick.Automaton()
        for lid, literal in enumerate(self.literals):
            automaton.add_word(literal, lid)
        automaton.make_automaton()
        self._iter = automaton.iter
        self._anchored: Callable[[str], bool] | None = None  # see anchors()
        self._short_left = ANCHOR_AFTER if len(self.literals) <= MAX_ANCHOR_LITERALS else 0
        self._db: Any = None  # Hyperscan database and scratch, compiled once long texts add up
        self._scratch: Any = None
        self._long_walked = 0  # characters of long texts the automaton walked so far
        # value -> ids of the literals it contains; bounded, emptied when full. Shared with the
        # prefilter's scanners, which read it directly on the hot path. `hot` holds the keys whose
        # ids are not empty (always a subset of the memo's keys: both are emptied together), so a
        # scanner can find the few hitting values of an event with one set intersection.
        self.memo: dict[str, frozenset[int]] = {}
        self.hot: set[str] = set()
        # One frozenset per distinct hit set: the memo's values then add no new objects for the
        # garbage collector to track (each full collection walks them all), only new keys.
        self._sets: dict[frozenset[int], frozenset[int]] = {}
        # characters of the memo's short keys (an upper bound: a text seen twice counts twice)
        self._chars = 0
        self._long: list[str] = []  # the memo's long keys (LONG_MEMO+), oldest first
        self._long_chars = 0

    def find(self, text: str) -> set[int]:
        """Ids of the literals occurring in `text` (case-insensitive)."""
        if len(text) < LONG_TEXT:
            low = text.lower()
            if self._anchored is not None:
                if not self._anchored(low):
                    return set()
            elif self._short_left:
                self._short_left -= 1
                if not self._short_left:
                    self._anchored = _anchor_test(anchors(self.literals))
            return {lid for _, lid in self._iter(low)}
        if self._db is None:
            self._long_walked += len(text)
            if self._long_walked < HS_AFTER or hyperscan is None:
                return {lid for _, lid in self._iter(text.lower())}
            self._compile()
        data = (text if text.isascii() else text.lower()).encode("utf-8", "surrogatepass")
        found: set[int] = set()
        self._db.scan(data, match_event_handler=_note, context=found, scratch=self._scratch)
        return found

    def find_memo(self, text: str) -> frozenset[int]:
        """`find`, remembered per text (event streams repeat their values all the time)."""
        found = self.memo.get(text)
        if found is None:
            found = frozenset(self.find(text)) or _NOTHING
            if found:
                found = self._sets.setdefault(found, found)
            self._remember(text, found)
        return found

    def remember_clean(self, texts: Sequence[str]) -> None:
        """Remember texts known to contain none of the literals (a joined scan found nothing)."""
        memo, chars = self.memo, sum(map(len, texts))
        if chars >= LONG_MEMO:  # one of them may be long: each to its budget
            for text in texts:
                self._remember(text, _NOTHING)
            return
        if len(memo) + len(texts) > MEMO_SIZE or self._chars + chars > MEMO_CHARS:
            self._forget()
        self._chars += chars
        for text in texts:
            memo[text] = _NOTHING

    def _remember(self, text: str, found: frozenset[int]) -> None:
        n = len(text)
        if len(self.memo) >= MEMO_SIZE:
            self._forget()
        if n >= LONG_MEMO:
            if self._long_chars + n > LONG_MEMO_CHARS:
                self._forget_long()
            self._long.append(text)
            self._long_chars += n
        else:
            if self._chars + n > MEMO_CHARS:
                self._forget()
            self._chars += n
        if found:
            self.hot.add(text)
        self.memo[text] = found

    def _forget_long(self) -> None:
        memo, hot = self.memo, self.hot
        for text in self._long:
            memo.pop(text, None)
            hot.discard(text)
        self._long.clear()
        self._long_chars = 0

    def _forget(self) -> None:
        self._chars = self._long_chars = 0
        self._long.clear()
        self.memo.clear()
        self.hot.clear()
        self._sets.clear()

    def _compile(self) -> None:
        patterns = [literal.encode("utf-8", "surrogatepass") for literal in self.literals]
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(
            expressions=patterns,
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=_HS_FLAGS,
            literal=True,
        )
        self._db, self._scratch = db, hyperscan.Scratch(db)


def anchors(literals: Sequence[str]) -> tuple[str, ...]:
    """A few substrings (2-4 characters) of which every literal contains one; () when more are needed.

    The keyword literals of SigmaHQ's Windows rules (mimikatz commands, tool names) all contain '::',
    'kiwi' or 'mimi' (and '.dat' where a bucket adds '\\\\perfc.dat'). The new values a keyword search
    sees are mostly timestamps, GUIDs and paths that hold none: three or four `in` tests (C, a few ns
    per character) then answer for a walk of the automaton (~20 ns per character plus the call):
    0.43 against 1.17 us for a 65-character text, 0.33 such searches per steady-state event
    (benchmarks/engine-results.md, session 8). A literal occurs in a text only if its anchor does, so
    the test never hides a hit. Chosen greedily: the substring in most of the literals not yet
    covered, the longer one on a tie, then the first in sorted order (deterministic)."""
    todo = set(literals)
    chosen: list[str] = []
    while todo:
        if len(chosen) == MAX_ANCHORS:
            return ()
        counts: dict[str, int] = {}
        for lit in todo:
            subs = {lit[i : i + n] for n in (2, 3, 4) for i in range(len(lit) - n + 1)}
            for sub in subs:
                counts[sub] = counts.get(sub, 0) + 1
        if not counts:  # a one-character literal: no anchor
            return ()
        best = min(counts, key=lambda sub: (-counts[sub], -len(sub), sub))
        chosen.append(best)
        todo = {lit for lit in todo if best not in lit}
    return tuple(chosen)


def _anchor_test(found: tuple[str, ...]) -> Callable[[str], bool] | None:
    """`any(a in text for a in found)` without a generator (None: no anchors)."""
    if len(found) == 1:
        (a,) = found
        return lambda text: a in text
    if len(found) == 2:
        a, b = found
        return lambda text: a in text or b in text
    if len(found) == 3:
        a, b, c = found
        return lambda text: a in text or b in text or c in text
    if len(found) == 4:
        a, b, c, d = found
        return lambda text: a in text or b in text or c in text or d in text
    return None
