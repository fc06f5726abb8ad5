"""Shipping a byte stream that cannot be re-read (stdin): lines in, RawRecords out, flushed at the end.

There is no checkpoint (a pipe cannot be rewound); what was acknowledged before a crash is in Kafka,
the rest must be sent again by whoever feeds the pipe.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import BinaryIO

from ingest.shippers.lines import Line, LineSplitter
from ingest.shippers.records import Origin, RawSink, SinkStats


def ship_stream(
    stream: BinaryIO,
    origin: Origin,
    sink: RawSink,
    *,
    chunk_bytes: int = 256 * 1024,
    flush_interval_s: float = 1.0,
    stop: threading.Event | None = None,
) -> SinkStats:
    """Read until EOF (or `stop`), ship every line, and wait for Kafka's acknowledgements."""
    splitter = LineSplitter(0, 0, sink.max_record_bytes)
    read = getattr(stream, "read1", stream.read)
    last_flush = time.monotonic()
    while stop is None or not stop.is_set():
        chunk = read(chunk_bytes)
        if not chunk:
            break
        ship_lines(sink, origin, splitter.feed(chunk))
        if time.monotonic() - last_flush >= flush_interval_s:
            sink.flush()
            last_flush = time.monotonic()
    last = splitter.finish()
    if last is not None:
        ship_lines(sink, origin, [last])
    sink.flush()
    return sink.stats


def ship_lines(sink: RawSink, origin: Origin, lines: list[Line]) -> None:
    """The lines read from one source in one go, counted as received and shipped (or dead-lettered)."""
    if not lines:
        return
    received = datetime.now(UTC)
    sink.metrics.received(origin.source, origin.tenant, len(lines))
    for line in lines:
        ship_line(sink, origin, line, received)


def ship_line(sink: RawSink, origin: Origin, line: Line, received: datetime) -> None:
    """One line to Kafka, or to the dead letters when it was too long to keep."""
    if line.too_long:
        reason = f"line of {line.length} bytes exceeds the limit of {sink.max_record_bytes} bytes"
        sink.refuse(
            origin, line.data, reason, "RecordTooLarge", received, offset=line.offset, line=line.number
        )
    else:
        sink.ship(origin, line.data, received, offset=line.offset, line=line.number)
