"""The prefilter's literal search (literals.py): both paths (short texts by the automaton, long
ones by Hyperscan) must find exactly the literals `str.lower` + `in` finds."""

from __future__ import annotations

import pytest

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
@pytest.mark.parametrize("pad", [0, LONG_TEXT])
def test_find_agrees_with_lower_and_in(text: str, pad: int) -> None:
    """Short (automaton) and padded-long (Hyperscan) texts give the same ids as a plain search."""
    padded = "x" * pad + text
    assert LiteralSearch(LITERALS).find(padded) == expected(LITERALS, padded)


def test_literal_spanning_the_separator_is_not_found() -> None:
    """Values are joined with NUL before a keyword scan: no literal may span two values."""
    search = LiteralSearch(("ab",))
    assert search.find("a\x00b" + " " * LONG_TEXT) == set()
    assert search.find("a\x00b") == set()


def test_long_non_ascii_text_is_lowercased() -> None:
    search = LiteralSearch(("édition",))
    assert search.find("É" * LONG_TEXT + "ÉDITION") == {0}


def test_searches_are_shared_per_literal_set() -> None:
    """Buckets with the same literals share one compiled search (Hyperscan compiles cost ms)."""
    assert literal_search(("abc", "def")) is literal_search(("abc", "def"))
    assert literal_search(("abc", "def")) is not literal_search(("def", "abc"))


def test_empty_literals_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        LiteralSearch(("a", ""))
