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
    assert frames == [Frame(b"a" * 20, 20, True, 20), Frame(b"<1>ok", 5)]
    assert framer.feed(b"b" * 50) == []
    assert framer.feed(b"b\n") == [Frame(b"b" * 51, 51, True)]


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


def test_a_bogus_octet_count_does_not_swallow_the_next_messages() -> None:
    """99999999, then 89 bytes: dead-lettered with the 89 bytes that arrived, and the valid line and
    the octet-counted frame after it come through (resynchronised at the newline / the next frame)."""
    framer = SyslogFramer(64 * 1024)
    junk = b"x" * 89
    frames = framer.feed(b"99999999 " + junk + b"\n<13>valid line\n")
    frames += framer.feed(b"99999999 " + junk + b"14 <13>next frame")
    frames += framer.finish()
    assert frames == [
        Frame(junk, 89, True, 99999999), Frame(b"<13>valid line", 14),
        Frame(junk, 89, True, 99999999), Frame(b"<13>next frame", 14),
    ]  # fmt: skip


def test_a_bogus_count_then_a_close_reports_what_arrived() -> None:
    """A count of 99999999, 89 bytes and a close: one dead letter of 89 bytes, the count named."""
    framer = SyslogFramer(64 * 1024)
    assert framer.feed(b"99999999 " + b"y" * 89) == []
    assert framer.finish() == [Frame(b"y" * 89, 89, True, 99999999)]
    assert SyslogFramer(64 * 1024).feed(b"1 <1>") == [Frame(b"<", 1)]  # the framer is fresh again


def test_an_honest_oversized_count_cut_by_a_close_reports_the_bytes_that_arrived() -> None:
    """A plausible count (within PLAUSIBLE_OVERSIZE x the limit) is skipped by its count; cut short by a
    close, the dead letter says how many bytes arrived, not what was announced."""
    framer = SyslogFramer(10)
    assert framer.feed(b"30 " + b"a" * 12) == []
    assert framer.finish() == [Frame(b"a" * 12, 12, True, 30)]
