"""The prefilter's literal search (literals.py): both paths (short texts by the automaton, long
ones by Hyperscan) must find exactly the literals `str.lower` + `in` finds."""

from __future__ import annotations

import pytest

from detectors.sigma import literals
from detectors.sigma.literals import LONG_TEXT, LiteralSearch, literal_search

LITERALS = (
    "mimikatz",
    "sekurlsa::",
    "kerberos::",
    "kerberos::ptt",
    "\\mimilib.dll",
    "straße",
    "İstanbul".lower(),
)


def expected(literals: tuple[str, ...], text: str) -> set[int]:
    low = text.lower()
    return {i for i, lit in enumerate(literals) if lit in low}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nothing here",
        "Invoke-MIMIKATZ",
        "SEKURLSA::logonpasswords and Kerberos::PTT",  # overlapping literals: both reported
        "C:\\Tools\\MimiLib.DLL",
        "Straße",
        "STRASSE",  # str.lower gives 'strasse', not 'straße': no hit, as with `in`
        "İSTANBUL",  # 'İ'.lower() is 'i̇' (two code points): lower-casing the text must still apply
        "\ud800 mimikatz",  # a lone surrogate must not break the UTF-8 path
    ],
)
@pytest.mark.parametrize(
    ("pad", "hs_after", "hyperscan"), [(0, 0, False), (LONG_TEXT, 10**9, False), (LONG_TEXT, 0, True)]
)
def test_find_agrees_with_lower_and_in(
    monkeypatch: pytest.MonkeyPatch, text: str, pad: int, hs_after: int, hyperscan: bool
) -> None:
    """Short texts, long texts before Hyperscan pays off (automaton) and long texts after (Hyperscan)
    give the same ids as a plain lower-cased `in`."""
    monkeypatch.setattr(literals, "HS_AFTER", hs_after)
    padded = "x" * pad + text
    search = LiteralSearch(LITERALS)
    assert search.find(padded) == expected(LITERALS, padded)
    assert (search._db is not None) is hyperscan


def test_hyperscan_is_compiled_once_long_texts_add_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(literals, "HS_AFTER", 3 * LONG_TEXT)
    search = LiteralSearch(("needle",))
    long = "y" * LONG_TEXT
    for _ in range(2):
        assert search.find(long + "NEEDLE") == {0}
        assert search._db is None
    assert search.find("short needle") == {0}  # short texts never count
    assert search._db is None
    assert search.find(long + "needle") == {0}
    assert search._db is not None


def test_literal_spanning_the_separator_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values are joined with NUL before a keyword scan: no literal may span two values."""
    monkeypatch.setattr(literals, "HS_AFTER", 0)
    search = LiteralSearch(("ab",))
    assert search.find("a\x00b" + " " * LONG_TEXT) == set()
    assert search.find("a\x00b") == set()


def test_long_non_ascii_text_is_lowercased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(literals, "HS_AFTER", 0)
    search = LiteralSearch(("édition",))
    assert search.find("É" * LONG_TEXT + "ÉDITION") == {0}


def test_searches_are_shared_per_literal_set() -> None:
    """Buckets with the same literals share one compiled search (Hyperscan compiles cost ms)."""
    assert literal_search(("abc", "def")) is literal_search(("abc", "def"))
    assert literal_search(("abc", "def")) is not literal_search(("def", "abc"))


def test_empty_literals_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        LiteralSearch(("a", ""))


def test_memo_remembers_and_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_memo answers like find and remembers per text; remember_clean marks texts a joined scan
    cleared; a full memo is emptied, never grown past MEMO_SIZE."""
    monkeypatch.setattr(literals, "MEMO_SIZE", 3)
    search = LiteralSearch(("evil",))
    assert search.find_memo("an EVIL one") == frozenset({0})
    assert search.find_memo("fine") == frozenset()
    assert search.memo == {"an EVIL one": frozenset({0}), "fine": frozenset()}
    search.remember_clean(["a", "b"])  # 2 + 2 > 3: emptied first
    assert search.memo == {"a": frozenset(), "b": frozenset()}
    search.find_memo("c")
    search.find_memo("d")
    assert len(search.memo) <= 3


def test_memo_is_bounded_in_characters_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many values of some hundred characters fill memory long before MEMO_SIZE values: the memo is
    also emptied once its short texts hold MEMO_CHARS characters."""
    monkeypatch.setattr(literals, "MEMO_CHARS", 10_000)
    search = LiteralSearch(("evil",))
    texts = [f"call trace {n} " + "x" * 900 for n in range(30)]
    for text in texts:
        search.find_memo(text)
        assert sum(map(len, search.memo)) <= 10_000
    assert texts[-1] in search.memo and texts[0] not in search.memo
    search.remember_clean(["y" * 600, "z" * 300])  # as one joined scan cleared them
    assert {"y" * 600, "z" * 300} <= set(search.memo) and sum(map(len, search.memo)) <= 10_000
    search.find_memo("evil " + "w" * 10)
    assert search.find_memo("evil " + "w" * 10) == frozenset({0}) and "evil " + "w" * 10 in search.hot


def test_long_texts_have_a_budget_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts of LONG_MEMO+ characters (a script block, a 4103 ContextInfo: unique per event) are
    forgotten when they hold LONG_MEMO_CHARS characters, and only they: the short values that make the
    memo pay stay. Long texts hitting a literal leave the hot set with them."""
    monkeypatch.setattr(literals, "LONG_MEMO_CHARS", 10_000)
    search = LiteralSearch(("evil",))
    short = ["C:\\Windows\\System32\\svchost.exe", "2020-05-02 03:00:15.123", "an evil one"]
    for text in short:
        search.find_memo(text)
    blocks = [f"script {n} {'evil' if n % 2 else ''} " + "x" * 3000 for n in range(10)]
    for n, block in enumerate(blocks):
        assert search.find_memo(block) == (frozenset({0}) if n % 2 else frozenset())
        assert sum(len(t) for t in search.memo if len(t) >= literals.LONG_MEMO) <= 10_000
        assert set(short) <= set(search.memo)
    assert blocks[-1] in search.memo and blocks[0] not in search.memo
    assert search.hot <= search.memo.keys() and blocks[1] not in search.hot and "an evil one" in search.hot
    search.remember_clean(["y" * 6000, "z" * 30])
    assert "y" * 6000 in search.memo and "z" * 30 in search.memo and set(short) <= set(search.memo)
    assert search.find_memo("y" * 6000) == frozenset()


def test_equal_hit_sets_are_one_object() -> None:
    """Values hitting the same literals share one frozenset in the memo (no new object for the garbage
    collector per remembered value)."""
    search = LiteralSearch(("evil", "bad"))
    a, b, c = (search.find_memo(t) for t in ("EVIL one", "an evil", "bad and evil"))
    assert a == b == frozenset({0}) and a is b
    assert c == frozenset({0, 1})


def test_without_the_hyperscan_wheel_the_automaton_searches_long_texts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a machine without the x86-64-only wheel, long texts get the same answers from the automaton."""
    monkeypatch.setattr(literals, "hyperscan", None)
    monkeypatch.setattr(literals, "HS_AFTER", 0)
    search = LiteralSearch(LITERALS)
    text = "x" * LONG_TEXT + "SEKURLSA::logonpasswords and Kerberos::PTT İSTANBUL"
    assert search.find(text) == expected(LITERALS, text) and search._db is None


KEYWORDS = ("sekurlsa::", "lsadump::", "gentilkiwi.com", "kiwi legit printer", "\\mimilib.dll", "mimidrv.sys")


def test_anchors_cover_every_literal_or_are_not_used() -> None:
    """Every literal contains one of the anchors; a set needing more than MAX_ANCHORS gets none."""
    found = literals.anchors(KEYWORDS)
    assert 0 < len(found) <= literals.MAX_ANCHORS
    assert all(any(a in lit for a in found) for lit in KEYWORDS)
    many = tuple(f"{c}{c}x" for c in "abcdefgh")  # no substring shared: one anchor each
    assert literals.anchors(many[: literals.MAX_ANCHORS]) != ()
    assert literals.anchors(many[: literals.MAX_ANCHORS + 1]) == ()
    assert literals.anchors(("a", "bcd")) == ()  # a one-character literal has no 2-character anchor


def test_large_literal_sets_never_work_out_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sets of more than MAX_ANCHOR_LITERALS literals (8,718 command-line needles) would spend seconds
    on it, and need more than MAX_ANCHORS anyway: they walk every text."""
    monkeypatch.setattr(literals, "ANCHOR_AFTER", 1)
    search = LiteralSearch(tuple(f"needle{n}" for n in range(literals.MAX_ANCHOR_LITERALS + 1)))
    assert search.find("needle7 here") == {7} and search.find("x") == set()
    assert search._anchored is None and search._short_left == 0


SCATTERED = ("aax", "bbx", "ccx", "ddx", "eex", "ffx")  # one anchor each: too many, none used


@pytest.mark.parametrize("words", [KEYWORDS, SCATTERED], ids=["anchored", "not-anchored"])
def test_anchored_search_finds_what_the_walk_finds(
    words: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The anchor test before the walk never hides a hit: texts with and without anchors, literals
    in any case, anchors without their literal, across the LONG_TEXT boundary. The anchors are worked
    out once the search has walked ANCHOR_AFTER short texts."""
    monkeypatch.setattr(literals, "ANCHOR_AFTER", 3)
    search = LiteralSearch(words)
    for text in ("a", "b", "c"):
        assert search._anchored is None
        assert search.find(text) == set()
    assert (search._anchored is not None) is (words == KEYWORDS)
    texts = ["", "2020-05-02 03:00:15.123", "{A1B2-C3}", "a::b", "KIWI", "mimi", "xx" * 200]
    texts += [f"pad {w.upper()} pad" for w in words] + [f"{w}" for w in words]
    texts += ["x" * (LONG_TEXT - 12) + w for w in words]
    for text in texts:
        assert search.find(text) == expected(words, text), text
