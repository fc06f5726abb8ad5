"""The line splitter: byte offsets and line numbers exact, bounded memory for overlong lines."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.shippers.lines import LineSplitter


def test_offsets_numbers_crlf_and_empty_lines() -> None:
    """Each line carries its byte offset and 1-based number; CR of CRLF is dropped; empty lines skipped."""
    splitter = LineSplitter()
    lines = splitter.feed(b"one\r\n\ntwo\nthr")
    assert [(x.offset, x.number, x.data) for x in lines] == [(0, 1, b"one"), (6, 3, b"two")]
    assert splitter.offset == 10 and splitter.pending == 3, "the incomplete line is not consumed"
    assert [(x.offset, x.number, x.data) for x in splitter.feed(b"ee\n")] == [(10, 4, b"three")]
    assert splitter.offset == 16


def test_overlong_line_keeps_only_a_head_across_chunks() -> None:
    """A line over the limit is returned once, flagged too_long, with its length, in bounded memory."""
    splitter = LineSplitter(max_line_bytes=10)
    assert [x.data for x in splitter.feed(b"ok\n" + b"x" * 8)] == [b"ok"]
    assert splitter.feed(b"y" * 100_000) == []
    assert splitter.pending == 100_008
    lines = splitter.feed(b"z\nnext\n")
    assert [(x.offset, x.length, x.too_long) for x in lines] == [(3, 100_009, True), (100_013, 4, False)]
    assert lines[0].data.startswith(b"xxxxxxxxyy")


def test_finish_returns_the_unterminated_last_line() -> None:
    """At the end of a stream that will not grow, the last line without newline is still shipped."""
    splitter = LineSplitter(offset=100, line=7)
    assert splitter.feed(b"a\nlast") != []
    last = splitter.finish()
    assert last is not None and (last.offset, last.number, last.data) == (102, 9, b"last")
    assert splitter.offset == 106 and splitter.finish() is None


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_any_chunking_gives_the_same_lines(data: bytes, cuts: list[int]) -> None:
    """Splitting a stream in arbitrary chunks yields exactly the lines of splitting it whole."""
    whole = LineSplitter(max_line_bytes=50)
    expected = [*whole.feed(data), whole.finish()]
    chunked = LineSplitter(max_line_bytes=50)
    got, start = [], 0
    for cut in sorted(min(c, len(data)) for c in cuts):
        got += chunked.feed(data[start:cut])
        start = cut
    got += [*chunked.feed(data[start:]), chunked.finish()]
    assert got == expected
    assert chunked.offset == len(data)
