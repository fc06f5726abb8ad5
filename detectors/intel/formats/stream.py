"""Reading a JSON feed as a stream: the items under one path, one at a time, never the whole document.

Read whole and then parsed, a JSON feed costs its own size plus the parsed tree at the peak. ijson's C
backend (yajl2_c) yields each item under a path (e.g. `response.item.Event`) as a small dict and keeps
only its read buffer, so the peak is the indicators kept, not the document. A document malformed
part-way raises ijson.JSONError; `malformed` says in one line which item and at what byte offset.
Used for MISP JSON; STIX bundles, whose million small objects would each be built as a dict here, are
cut by msgspec instead (detectors.intel.formats.jsonarray).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

import ijson

HEAD = 65536  # what is peeked at to tell a document's shape before streaming it


def head(stream: IO[bytes], size: int = HEAD) -> bytes:
    """The first `size` bytes of a seekable stream, which is then rewound."""
    data = stream.read(size)
    stream.seek(0)
    return data


def items(stream: IO[bytes], prefix: str) -> Iterator[Any]:
    """The JSON values at `prefix` (ijson's path syntax: `objects.item`), one at a time: ijson's own
    iterator (no generator of ours between, a million items cross it). It raises ijson.JSONError on
    malformed JSON; `malformed` says where in one line."""
    return ijson.items(stream, prefix, use_float=True)  # type: ignore[no-any-return]


JSONError = ijson.JSONError


def malformed(exc: Exception, stream: IO[bytes], what: str, number: int) -> str:
    """One line for a parse error part-way: the item being read (1-based), the byte offset the parser
    had reached (it reads ahead by its buffer, 64 KiB), and the parser's own words."""
    return f"malformed JSON in or after {what} {number} (parser at byte {_offset(stream)}): {_line(exc)}"


def _offset(stream: IO[bytes]) -> int | str:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return "?"


def _line(exc: Exception) -> str:
    """yajl's message is three lines (what, the text near it, a caret): one line of the first two."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) >= 2 and not lines[1].startswith("(right here)"):
        return f"{lines[0]} near {lines[1]!r}"
    return lines[0] if lines else type(exc).__name__


def path_of(data: bytes, key: str) -> str | None:
    """The ijson path (`response.item.Event`) of the first member named `key` in `data` (a head), or None."""
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(data)):
            if event == "map_key" and value == key:
                return f"{prefix}.{key}" if prefix else key
    except ijson.JSONError:
        pass
    return None
