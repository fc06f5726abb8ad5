"""The STIX pattern fast path against the reference parser (stix2-patterns) on a generated corpus.

The fast path must read exactly the (kind, value) pairs the reference reads, for every pattern it takes,
and must not take the tricky ones (escapes in a value, lower-case `or`, AND, other operators, odd
spacing): those go to the reference parser, whose answer is then the only one.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from detectors.intel.patterns import UnsupportedPatternError, _reference, comparisons, fast

PATHS = (
    "ipv4-addr:value",
    "ipv6-addr:value",
    "domain-name:value",
    "url:value",
    "email-addr:value",
    "file:hashes.'SHA-256'",
    "file:hashes.SHA256",
    "file:hashes.'SHA-1'",
    "file:hashes.MD5",
    "file:hashes.'MD5'",
    "artifact:hashes.'SHA-256'",
    "process:name",  # a path socpipe does not match
    "file:hashes.'TLSH'",  # nor this one
)
VALUES = (
    "198.51.100.7",
    "2001:db8::1",
    "10.0.0.0/8",
    "evil.example",
    "https://a.example/p?q=1&r=[2]",
    "x@phish.example",
    "d41d8cd98f00b204e9800998ecf8427e",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "a b ] OR [ c",  # brackets and OR inside a value
    "url:value = ",  # a comparison's text inside a value
    "",
    "ünïcode.example",
)
TRICKY_VALUES = ("it\\'s.example", "back\\\\slash.example", "\\'", "a\\\\")
SPACES = ("", " ", "  ", "\t")


def corpus(n: int, seed: int) -> list[str]:
    """Patterns of 1-3 observations of 1-3 comparisons, joined by OR, with random spacing."""
    rng = random.Random(seed)

    def comparison(values: tuple[str, ...]) -> str:
        s = rng.choice(SPACES)
        return f"{rng.choice(PATHS)}{s}={rng.choice(SPACES)}'{rng.choice(values)}'"

    out = []
    for _ in range(n):
        values = TRICKY_VALUES if rng.random() < 0.1 else VALUES
        join = rng.choice((" OR ", " OR ", "  OR\t", " or ", " AND "))
        observations = [
            f"[{rng.choice(SPACES)}"
            + join.join(comparison(values) for _ in range(rng.randint(1, 3)))
            + f"{rng.choice(SPACES)}]"
            for _ in range(rng.randint(1, 3))
        ]
        pattern = rng.choice((" OR ", " OR ", " AND ", " FOLLOWEDBY ")).join(observations)
        out.append(pattern + rng.choice(("", "", " WITHIN 5 SECONDS")))
    return out


def read(reader, pattern: str) -> Counter[tuple[str, str]] | str:  # type: ignore[no-untyped-def]
    """The pairs as a multiset (the reference groups them by object type), or `refused`."""
    try:
        return Counter((str(kind), value) for kind, value in reader(pattern))
    except UnsupportedPatternError:
        return "refused"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_and_reference_read_the_same_pairs(seed: int) -> None:
    """On 400 generated patterns per seed, `comparisons` (fast path or fallback) and the reference
    parser read the same pairs or both refuse; the fast path takes a good share of them."""
    taken = 0
    for pattern in corpus(400, seed):
        taken += fast(pattern)
        assert read(comparisons, pattern) == read(_reference, pattern), pattern
    assert taken > 40


@pytest.mark.parametrize(
    "pattern",
    [
        "[domain-name:value = 'it\\'s.example']",
        "[domain-name:value = 'back\\\\slash.example']",
        "[ipv4-addr:value = '1.2.3.4' or ipv4-addr:value = '5.6.7.8']",
        "[ipv4-addr:value = '1.2.3.4'] or [ipv4-addr:value = '5.6.7.8']",
        "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']",
        "[ipv4-addr:value != '1.2.3.4']",
        "[ipv4-addr:value IN ('1.2.3.4', '5.6.7.8')]",
        "[ipv4-addr : value = '1.2.3.4']",
        "[IPV4-ADDR:value = '1.2.3.4']",
        "[file:hashes.SHA-256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        "[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS",
        "[ipv4-addr:value = '1.2.3.4']OR[ipv4-addr:value = '5.6.7.8']",
    ],
)
def test_tricky_patterns_fall_back_to_the_reference(pattern: str) -> None:
    """Escapes, lower-case `or`, AND, other operators, odd spacing and case: not the fast path's."""
    assert not fast(pattern)
    assert read(comparisons, pattern) == read(_reference, pattern)


def test_or_joined_patterns_take_the_fast_path() -> None:
    pattern = (
        "[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'evil.example'] OR "
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"
    )
    assert fast(pattern)
    assert read(comparisons, pattern) == read(_reference, pattern)
    assert [str(kind) for kind, _ in comparisons(pattern)] == ["ip", "domain", "sha256"]
