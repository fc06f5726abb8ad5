"""Read a raw log file with a named parser: (line number, ECS event or ParseError) for each line.

    from ingest.read import read_log
    for line, result in read_log(Path("auth.log"), "syslog", tenant="acme"):
        if isinstance(result, ParseError): ...   # result.reason says why
        else: result.flat()                      # what rules and heuristics see

What `socpipe parse` prints and what an offline scan of raw logs reads: the same parsers and the same
RawRecord the shippers build, so a line reads here as it would through Kafka. Times without a year or
an offset (RFC 3164 syslog) are placed with the file's modification time as the receive time (a log
file is written up to its mtime), in `timezone`; standard input uses the current time. `.gz` files
are decompressed. A line that is not UTF-8 is a ParseError, like the shippers' dead letter. A parser
that yields several events for one line (container formats) yields them all, with the same line number.
A format whose events span several lines (auditd: SYSCALL, EXECVE ... of one serial) is read through
its parser's joiner: each event at the line of its first record, when its last has been read.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from ingest.parsers import ParseError, Parser, ParserRegistry, default_registry
from ingest.parsers.base import Joined, Joiner
from schemas.event import EcsEvent
from schemas.raw import RawRecord

LineResult = tuple[int, EcsEvent | ParseError]


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_log(
    path: Path | None,
    parser: str,
    *,
    tenant: str = "local",
    timezone: str | None = None,
    received_at: datetime | None = None,
    registry: ParserRegistry | None = None,
) -> Iterator[LineResult]:
    """(line number, event or ParseError) for every non-blank line of `path` (None: standard input).

    Raises UnknownParserError for a parser name that is not registered, and OSError when the file
    cannot be read, before the first line; never for a bad line.
    """
    chosen = (registry or default_registry()).get(parser)
    if path is None:
        when = received_at or datetime.now(UTC)
        yield from _lines(sys.stdin.buffer, "stdin", None, chosen, tenant, timezone, when)
        return
    when = received_at or datetime.fromtimestamp(path.stat().st_mtime, UTC)
    with _open(path) as fh:
        yield from _lines(fh, f"file:{path}", str(path), chosen, tenant, timezone, when)


def _lines(  # noqa: PLR0917 - private, called twice, each argument a RawRecord field
    fh: IO[bytes],
    source: str,
    path: str | None,
    parser: Parser,
    tenant: str,
    timezone: str | None,
    received_at: datetime,
) -> Iterator[LineResult]:
    joiner = parser.joiner() if parser.joiner else None
    offset = 0
    for number, data in enumerate(fh, 1):
        start, offset = offset, offset + len(data)
        if not data.strip():
            continue
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            yield number, ParseError(f"not UTF-8 at byte {exc.start}")
            continue
        raw = RawRecord(
            tenant=tenant,
            source=source,
            parser=parser.name,
            received_at=received_at,
            path=path,
            offset=start,
            line=number,
            data=text,
            timezone=timezone,
        )
        try:
            if joiner is None:
                for event in parser.events(raw):
                    yield number, event
                continue
            joined = joiner.add(raw)
        except ParseError as exc:
            yield number, exc
            continue
        yield from _joined(joined, joiner)
    if joiner is not None:
        yield from _joined(joiner.flush(), joiner)


def _joined(joined: list[Joined], joiner: Joiner) -> Iterator[LineResult]:
    """Joined events at the line of their first record, sorted by it; then the records refused."""
    for first, event in sorted(joined, key=lambda pair: pair[0].line or 0):
        yield first.line or 0, event
    for raw, exc in joiner.refused:
        yield raw.line or 0, exc
    joiner.refused.clear()
