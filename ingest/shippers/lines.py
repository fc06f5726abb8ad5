"""Splitting a byte stream into lines, with their byte offsets, in bounded memory.

A line longer than the limit is not buffered whole: its head is kept (for the dead letter) and the
rest skipped up to the next newline, so a hostile writer cannot make a shipper's memory grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.shippers.records import DEAD_LETTER_HEAD_BYTES


@dataclass(frozen=True, slots=True)
class Line:
    offset: int  # byte offset of the line's first byte in the stream
    number: int  # 1-based line number in the stream
    data: bytes  # the line without its newline (and trailing CR); only the head when too long
    length: int  # the line's full length in bytes, without the newline
    too_long: bool = False


class LineSplitter:
    """Feeds chunks, returns complete non-empty lines; `offset` is where a restart should resume."""

    def __init__(self, offset: int = 0, line: int = 0, max_line_bytes: int = 1024 * 1024) -> None:
        self.max_line_bytes = max_line_bytes
        self._buf = b""
        self._start = offset  # stream offset of _buf[0] (or of the line being skipped)
        self._line = line  # lines completed so far
        self._skipping: bytes | None = None  # head of an overlong line whose end is not yet seen
        self._skipped = 0  # bytes of that line seen so far

    @property
    def offset(self) -> int:
        """Offset just after the last complete line: everything before it has been returned."""
        return self._start

    @property
    def line(self) -> int:
        return self._line

    @property
    def pending(self) -> int:
        """Bytes read but not yet returned (an incomplete last line)."""
        return len(self._buf) + self._skipped

    def feed(self, chunk: bytes) -> list[Line]:
        out: list[Line] = []
        if self._skipping is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self._skipped += len(chunk)
                return out
            self._line += 1
            out.append(Line(self._start, self._line, self._skipping, self._skipped + end, True))
            self._start += self._skipped + end + 1
            self._skipping, self._skipped = None, 0
            chunk = chunk[end + 1 :]
        data = self._buf + chunk if self._buf else chunk
        parts = data.split(b"\n")
        rest = parts.pop()
        offset, number, limit = self._start, self._line, self.max_line_bytes
        for part in parts:
            number += 1
            size = len(part)
            if size:
                text = part[:-1] if part[-1] == 13 else part  # drop the CR of a CRLF line end
                if size > limit:
                    out.append(Line(offset, number, text[:DEAD_LETTER_HEAD_BYTES], size, True))
                elif text:
                    out.append(Line(offset, number, text, size))
            offset += size + 1
        self._start, self._line = offset, number
        if len(rest) > limit:
            self._skipping, self._skipped, self._buf = rest[:DEAD_LETTER_HEAD_BYTES], len(rest), b""
        else:
            self._buf = rest
        return out

    def finish(self) -> Line | None:
        """The incomplete last line, at the end of a stream that will not grow (stdin, a one-shot read)."""
        if self._skipping is not None:
            line = Line(self._start, self._line + 1, self._skipping, self._skipped, True)
        elif self._buf.rstrip(b"\r"):
            line = Line(self._start, self._line + 1, self._buf.rstrip(b"\r"), len(self._buf))
        else:
            line = None
        self._start += self.pending
        self._line += 1 if self.pending else 0
        self._buf, self._skipping, self._skipped = b"", None, 0
        return line
