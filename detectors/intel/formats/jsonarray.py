"""The elements of one top-level JSON array (a STIX bundle's `objects`), streamed as raw JSON a chunk at
a time, all parsing done by msgspec.

Why not ijson (used for MISP JSON, detectors.intel.formats.stream): ijson builds every element as a dict
(3.4 s CPU for a million STIX objects) which msgspec must then convert (1.2 s); a million-indicator load
went from 8.2 to 11.5 s CPU, over its 10 s target. Here a chunk of the document is cut after its last
whole element and decoded by msgspec as a list of raw elements (`msgspec.Raw`, zero-copy), each decoded
by the reader straight into its typed struct, as when the bundle was read whole.

Where to cut is decided by msgspec, not by a tokenizer of ours: a candidate is `}` `,` `{` (elements are
objects), and it is a real boundary exactly when `[` + the text from the first element to that `}` + `]`
decodes (a cut inside a string or a nested value leaves it unterminated or unbalanced; a cut past the
array's end leaves trailing characters, and where they begin places the array's end). Any other failure
of that decode is malformed JSON, reported with its element number and byte offset. The error positions
are msgspec's own (`... (byte N)`), read from its messages.
The document around the array is checked the same way: the text before the key plus `null` plus the text
after the array must decode as one JSON object (its members are `members`, e.g. the bundle's `type`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

import msgspec

CHUNK = 4 << 20  # bytes read at a time
LIMIT = 64 << 20  # longest element (or head before the array) taken before the data is called malformed
ATTEMPTS = 16  # candidate cuts tried per chunk, from its end (a miss is a `},{` inside an element)
TAIL = 1 << 16  # where the candidates are looked for first: the chunk's last bytes

_BOUNDARY = re.compile(rb"\}\s*,\s*(?=\{)")
_AT_BYTE = re.compile(r"\(byte (\d+)\)")
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_RAW = msgspec.json.Decoder(msgspec.Raw)
_OBJECT = msgspec.json.Decoder(dict[str, Any])


class MalformedJsonError(ValueError):
    """The document is not the JSON it should be; the message says where (element, byte offset)."""


class NotAnArrayError(MalformedJsonError):
    """The key is there at the top level, but does not hold an array."""


class TopLevelArray:
    """Iterate the raw elements of the array under top-level `key`; afterwards `members` holds the
    document's other top-level members. MalformedJsonError on bad JSON, however far in."""

    def __init__(self, stream: IO[bytes], key: str, *, chunk: int | None = None, limit: int = LIMIT) -> None:
        self.stream, self.chunk, self.limit = stream, chunk or CHUNK, limit
        self.key = re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*')
        self.members: dict[str, Any] = {}
        self.count = 0  # elements yielded so far
        self._prefix = b""  # the document before the key
        self._base = 0  # offset in the document of the buffer's first byte
        self._eof = False

    def __iter__(self) -> Iterator[msgspec.Raw]:
        buf = self._more(b"")
        while True:
            opened = self._open(buf)
            if opened is not None or self._eof:
                break
            if len(buf) > self.limit:
                raise MalformedJsonError(f"no top-level array in the first {len(buf):,} bytes")
            buf = self._more(buf)
        if opened is None:  # no such key: the whole document is an object without it
            self.members = self._decode_object(buf, "the document")
            return
        while len(buf) - opened < 2 and not self._eof:  # the chunk ended just after the key
            buf = self._more(buf)
        pos = _skip_space(buf, opened)
        if buf[pos : pos + 1] != b"[":
            raise NotAnArrayError("the key does not hold an array")
        pos = _skip_space(buf, pos + 1)
        while not self._eof:
            buf = self._more(buf)
            cut = self._cut(buf, pos)
            if cut is not None:
                raws, pos = cut
                self.count += len(raws)
                yield from raws
                self._base += pos
                buf, pos = buf[pos:], 0
            elif len(buf) - pos > self.limit:
                raise self._malformed(buf, pos, f"an element longer than {self.limit:,} bytes")
        yield from self._close(buf, pos)

    def _more(self, buf: bytes) -> bytes:
        data = self.stream.read(self.chunk)
        self._eof = not data
        return buf + data

    def _open(self, buf: bytes) -> int | None:
        """Offset just after `"key":` at the top level of the document, or None (not in `buf`)."""
        for match in self.key.finditer(buf):
            try:
                self.members = _OBJECT.decode(buf[: match.start()] + match.group() + b"null}")
            except msgspec.DecodeError:
                continue  # inside a string or a nested object
            self._prefix = buf[: match.start()] + match.group()
            return match.end()
        return None

    def _cut(self, buf: bytes, pos: int) -> tuple[list[msgspec.Raw], int] | None:
        """The whole elements from `pos` up to the last real boundary, and where the next one starts."""
        candidates = list(_BOUNDARY.finditer(buf, max(pos, len(buf) - TAIL))) or list(
            _BOUNDARY.finditer(buf, pos)
        )
        for match in reversed(candidates[-ATTEMPTS:]):
            end = match.start() + 1
            try:
                return _RAWS.decode(b"[" + buf[pos:end] + b"]"), match.end()
            except msgspec.DecodeError as exc:
                if _trailing(exc) is not None:
                    return None  # the array ends in this buffer: `_close` takes the rest, at the end
                if not _at_end(exc, end - pos + 2):
                    raise self._malformed(buf, pos, str(exc)) from exc
        return None

    def _close(self, buf: bytes, pos: int) -> Iterator[msgspec.Raw]:
        """The last elements, the array's end and the rest of the document, at the end of the data.
        `[` + all that is left + `]` decodes up to the array's own `]` and fails just after it
        (trailing characters: at least the document's closing `}`), which places the end in one decode."""
        try:
            _RAWS.decode(b"[" + buf[pos:] + b"]")
        except msgspec.DecodeError as exc:
            after = _trailing(exc)
            if after is None:
                why = "the data ends before the array does" if _at_end(exc, len(buf) - pos + 2) else str(exc)
                raise self._malformed(buf, pos, why) from exc
            end = buf.rfind(b"]", pos, pos + after - 1)  # only whitespace between it and `after`
            raws = _RAWS.decode(b"[" + buf[pos:end] + b"]")
            self.members = self._decode_object(self._prefix + b"null" + buf[end + 1 :], "the document's end")
            self.count += len(raws)
            yield from raws
            return
        raise MalformedJsonError("the data ends before the document does (no closing brace)")

    def _decode_object(self, data: bytes, what: str) -> dict[str, Any]:
        try:
            return _OBJECT.decode(data)
        except msgspec.DecodeError as exc:
            raise MalformedJsonError(f"{what} is not a JSON object: {exc}") from exc

    def _malformed(self, buf: bytes, pos: int, why: str) -> MalformedJsonError:
        """Which element is bad: each piece between candidate boundaries is decoded alone (error path
        only); a piece that fails before its end is the bad one."""
        start, number = pos, self.count + 1
        for match in _BOUNDARY.finditer(buf, pos):
            try:
                _RAW.decode(buf[start : match.start() + 1])
            except msgspec.DecodeError as exc:
                if _at_end(exc, match.start() + 1 - start):
                    continue  # a `},{` inside the element: take the next piece with it
                why = str(exc)
                break
            start, number = match.end(), number + 1
        why = why.removeprefix("JSON is malformed: ")
        return MalformedJsonError(f"element {number} (from byte {self._base + start:,}) is malformed: {why}")


def _trailing(exc: msgspec.DecodeError) -> int | None:
    """Where the trailing characters begin, when the decoded list closed early: a `]` of the data (the
    array's own end) closed it, and the rest follows."""
    found = _AT_BYTE.search(str(exc))
    return int(found[1]) if found is not None and "trailing characters" in str(exc) else None


def _at_end(exc: msgspec.DecodeError, length: int) -> bool:
    """Whether a decode failed only at the end of its input (truncated, or at the last byte), as a cut
    inside an element makes it; anything earlier is malformed JSON."""
    found = _AT_BYTE.search(str(exc))
    if found is None:
        return "truncated" in str(exc)
    return int(found[1]) >= length - 1


def _skip_space(buf: bytes, pos: int) -> int:
    while pos < len(buf) and buf[pos] in b" \t\r\n":
        pos += 1
    return pos
