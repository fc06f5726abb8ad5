"""File tail: ship a file's lines (JSON lines or plain text), follow rotation and truncation, resume.

Exactly once across crashes (the default): the lines of each batch, their dead letters and the
checkpoint (inode, offset) go to Kafka in one transaction; readers use read_committed (KafkaBus's
consumers do). After a SIGKILL the producer's next `init_transactions` aborts the open transaction,
and the tail resumes from the last committed checkpoint: no line is lost, none appears twice.
`exactly_once=False` (brokers without transactions) resumes from the local checkpoint file written
after each acknowledged batch: nothing is lost, and a crash between the acknowledgement and that
write repeats at most one batch, whose records carry the same deterministic ids as before.

Rotation: when the path names a new file, the old one is read to its end first. On restart, a
checkpoint for an inode that the path no longer names is looked for among the path's siblings
(`app.log.1`), and that file is finished before the new one starts. Truncation (copytruncate) is
noticed when the file becomes shorter than what was read, and reading restarts at 0.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ingest.shippers.checkpoint import (
    KafkaCheckpoints,
    LocalCheckpoints,
    commit_with,
    start_transactions,
    tail_publisher,
)
from ingest.shippers.lines import Line, LineSplitter
from ingest.shippers.records import (
    DEFAULT_MAX_RECORD_BYTES,
    Origin,
    RawSink,
    SinkStats,
    source_timezone,
)
from ingest.shippers.shipper_metrics import ShipperMetrics
from ingest.shippers.stream import ship_lines
from schemas.raw import FileCheckpoint
from socpipe.bus import KafkaBus, Publisher
from socpipe.logging import get_logger
from socpipe.metrics import Metrics

log = get_logger(__name__)


@dataclass(frozen=True)
class TailOptions:
    tenant: str
    parser: str
    host: str
    state_dir: Path
    follow: bool = False
    exactly_once: bool = True
    from_beginning: bool = False
    chunk_bytes: int = 1024 * 1024
    batch_bytes: int = 8 * 1024 * 1024
    commit_interval_s: float = 1.0
    poll_interval_s: float = 0.2
    rescan_interval_s: float = 5.0  # glob tail: how often the patterns are expanded again
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    producer_overrides: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None  # IANA zone of times without an offset (syslog parser only)

    def __post_init__(self) -> None:
        source_timezone(self.timezone, self.parser)


@dataclass
class _Open:
    handle: BinaryIO
    path: Path
    device: int
    inode: int
    splitter: LineSplitter


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


class FileTail:
    def __init__(
        self,
        path: Path,
        options: TailOptions,
        bus: KafkaBus,
        stop: threading.Event | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.path = path.absolute()
        self.options = options
        self.bus = bus
        self.stop = stop or threading.Event()
        self.metrics = ShipperMetrics(metrics)
        self.origin = Origin(
            options.tenant, f"file:{self.path}", options.parser, options.host, str(self.path),
            options.timezone,
        )  # fmt: skip
        # One identity per (pipeline, tenant, host, path): the checkpoint key and the transactional id.
        self.checkpoint_id = f"{bus.settings.topic_prefix}{options.tenant}:{options.host}:{self.path}"
        digest = hashlib.sha256(self.checkpoint_id.encode()).hexdigest()[:24]
        self.transactional_id = f"socpipe-ingest-{digest}"
        self.local = LocalCheckpoints(options.state_dir, self.checkpoint_id)
        self.kafka = KafkaCheckpoints(bus, self.checkpoint_id)
        self._publisher: Publisher | None = None
        self._sink: RawSink | None = None
        self._committed: tuple[int, int] | None = None  # (inode, offset) of the last commit
        self._last_commit = time.monotonic()
        self._batch_bytes = 0
        self._acknowledged = 0  # records (shipped or dead-lettered) covered by the last commit

    # --- life cycle ---------------------------------------------------------------------------

    def run(self) -> SinkStats:
        if self.path.suffix == ".gz" and self.options.follow:
            raise ValueError(f"{self.path}: a compressed file cannot be followed; ship it without --follow")
        transactional_id = self.transactional_id if self.options.exactly_once else None
        publisher = tail_publisher(self.bus, self.options.producer_overrides, transactional_id)
        self._publisher = publisher
        self._sink = RawSink(publisher, self.bus.topics, self.options.max_record_bytes, metrics=self.metrics)
        try:
            start_transactions(self.bus, publisher, self.options.exactly_once)
            current = self._resume(self._load_checkpoint())
            self._loop(current)
        finally:
            publisher.close()
        return self._sink.stats

    def _load_checkpoint(self) -> FileCheckpoint | None:
        if self.options.from_beginning:
            return None
        local = self.local.load()
        remote = self.kafka.load() if self.options.exactly_once else None
        chosen = remote or local
        if chosen:
            log.info("resuming", path=str(self.path), inode=chosen.inode, offset=chosen.offset,
                     line=chosen.line, from_kafka=remote is not None)  # fmt: skip
        return chosen

    def _resume(self, checkpoint: FileCheckpoint | None) -> _Open:
        """Open the file at the checkpoint; finish a rotated predecessor first if there is one."""
        while not self.path.exists():
            if not self.options.follow or self.stop.wait(self.options.poll_interval_s):
                raise FileNotFoundError(self.path)
        device, inode = _identity(self.path)
        if checkpoint is None:
            return self._open(self.path, 0, 0)
        if (checkpoint.device, checkpoint.inode) == (device, inode):
            return self._open(self.path, checkpoint.offset, checkpoint.line)
        rotated = self._find_rotated(checkpoint.device, checkpoint.inode)
        if rotated is None:
            log.warning("checkpointed file is gone: starting the current file from its start",
                        path=str(self.path), inode=checkpoint.inode, offset=checkpoint.offset)  # fmt: skip
        else:
            log.info("finishing rotated file", rotated=str(rotated), offset=checkpoint.offset)
            old = self._open(rotated, checkpoint.offset, checkpoint.line)
            self._drain(old)
            old.handle.close()
        return self._open(self.path, 0, 0)

    def _find_rotated(self, device: int, inode: int) -> Path | None:
        for sibling in self.path.parent.glob(self.path.name + "*"):
            try:
                if sibling != self.path and _identity(sibling) == (device, inode):
                    return sibling
            except OSError:
                continue
        return None

    def _open(self, path: Path, offset: int, line: int) -> _Open:
        raw = path.open("rb")
        st = os.fstat(raw.fileno())
        handle: BinaryIO = raw
        if path.suffix == ".gz":
            handle = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
        if offset > st.st_size and path.suffix != ".gz":
            log.warning("file shorter than the checkpoint (truncated): reading from 0", path=str(path))
            offset, line = 0, 0
        if path.suffix == ".gz":
            remaining = offset
            while remaining > 0:
                skipped = handle.read(min(remaining, self.options.chunk_bytes))
                if not skipped:
                    break
                remaining -= len(skipped)
        else:
            handle.seek(offset)
        splitter = LineSplitter(offset, line, self.options.max_record_bytes)
        return _Open(handle, path, st.st_dev, st.st_ino, splitter)

    # --- the loop -----------------------------------------------------------------------------

    def _loop(self, current: _Open) -> None:
        try:
            while not self.stop.is_set():
                if self._read(current):
                    if self._due():
                        self._commit(current)
                    continue
                if not self.options.follow:
                    self._ship_last(current)
                    break
                if self._batch_bytes or self._committed != (current.inode, current.splitter.offset):
                    self._commit(current)
                current = self._check_rotation(current)
                self.stop.wait(self.options.poll_interval_s)
            self._commit(current)
        finally:
            current.handle.close()

    def _read(self, current: _Open) -> bool:
        chunk = current.handle.read(self.options.chunk_bytes)
        if not chunk:
            return False
        self._ship(current.splitter.feed(chunk))
        self._batch_bytes += len(chunk)
        return True

    def _ship(self, lines: list[Line]) -> None:
        if not lines:
            return
        assert self._sink is not None
        ship_lines(self._sink, self.origin, lines)
        self.metrics.pending(self._sink.stats.shipped + self._sink.stats.dead_letters - self._acknowledged)
        self.metrics.export_if_due()

    def _ship_last(self, current: _Open) -> None:
        last = current.splitter.finish()
        if last is not None:
            self._ship([last])

    def _drain(self, current: _Open) -> None:
        """Read a file that will not grow any more to its end, last incomplete line included."""
        while self._read(current):
            if self._due():
                self._commit(current)
        self._ship_last(current)
        self._commit(current)

    def _check_rotation(self, current: _Open) -> _Open:
        try:
            device, inode = _identity(self.path)
        except FileNotFoundError:
            return current  # rotated away and not yet re-created: keep reading the old file
        if (device, inode) != (current.device, current.inode):
            log.info("file rotated", path=str(self.path), old_inode=current.inode, new_inode=inode)
            self._drain(current)
            current.handle.close()
            return self._open(self.path, 0, 0)
        size = os.fstat(current.handle.fileno()).st_size
        if size < current.splitter.offset + current.splitter.pending:
            log.warning("file truncated: reading from 0", path=str(self.path), size=size)
            current.handle.seek(0)
            current.splitter = LineSplitter(0, 0, self.options.max_record_bytes)
            self._commit(current)
        return current

    # --- commits ------------------------------------------------------------------------------

    def _due(self) -> bool:
        return (
            self._batch_bytes >= self.options.batch_bytes
            or time.monotonic() - self._last_commit >= self.options.commit_interval_s
        )

    def _commit(self, current: _Open) -> None:
        """Make everything shipped so far durable, together with the checkpoint that covers it."""
        assert self._publisher is not None
        checkpoint = FileCheckpoint(
            tenant=self.options.tenant,
            source=self.origin.source,
            path=str(current.path),
            device=current.device,
            inode=current.inode,
            offset=current.splitter.offset,
            line=current.splitter.line,
            updated_at=datetime.now(UTC),
        )
        commit_with(self._publisher, [self.kafka.outbound(checkpoint)], self.options.exactly_once)
        self.local.save(checkpoint)
        self._committed = (current.inode, current.splitter.offset)
        self._last_commit = time.monotonic()
        self._batch_bytes = 0
        assert self._sink is not None
        self._acknowledged = self._sink.stats.shipped + self._sink.stats.dead_letters
        self.metrics.pending(0)
        self.metrics.acknowledged()
