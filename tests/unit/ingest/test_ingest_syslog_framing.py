"""TCP syslog framing (RFC 6587): octet counting and newline framing, oversized frames bounded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.shippers.syslog import Frame, SyslogFramer


def test_octet_counting_and_newlines_mixed() -> None:
    """`LEN SP MSG` frames may contain newlines; LF-terminated frames are split at LF (CR dropped)."""
    framer = SyslogFramer(1000)
    frames = framer.feed(b"11 <13>a\nb c d<14>plain line\r\n6 <15>xy")
    assert [f.data for f in frames] == [b"<13>a\nb c d", b"<14>plain line", b"<15>xy"]


def test_frames_split_across_reads() -> None:
    """A frame cut anywhere, even inside its length prefix, is completed by the next read."""
    framer = SyslogFramer(1000)
    assert framer.feed(b"1") == []
    assert framer.feed(b"1 <13>hello") == []
    assert [f.data for f in framer.feed(b"!!<1>x\n")] == [b"<13>hello!!", b"<1>x"]


def test_oversized_frames_are_flagged_not_buffered() -> None:
    """Over the limit, only the head is kept and the frame comes back flagged with its length."""
    framer = SyslogFramer(10)
    frames = framer.feed(b"20 " + b"a" * 20 + b"<1>ok\n")
    assert frames == [Frame(b"a" * 20, 20, True), Frame(b"<1>ok", 5)]
    assert framer.feed(b"b" * 50) == []
    assert framer.feed(b"b\n") == [Frame(b"b" * 50, 51, True)]


def test_finish_returns_an_unterminated_last_message() -> None:
    """When the peer closes, a last message without LF is still a message."""
    framer = SyslogFramer(100)
    assert framer.feed(b"<1>last words") == []
    assert framer.finish() == [Frame(b"<1>last words", 13)]


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(st.binary(min_size=1, max_size=40), max_size=8),
    cut=st.integers(0, 400),
)
def test_octet_counted_stream_roundtrip_under_any_cut(messages: list[bytes], cut: int) -> None:
    """Whatever the bytes of the messages, octet-counted frames come back intact, however cut."""
    stream = b"".join(b"%d %s" % (len(m), m) for m in messages)
    framer = SyslogFramer(1000)
    frames = framer.feed(stream[:cut]) + framer.feed(stream[cut:]) + framer.finish()
    assert [f.data for f in frames] == messages
