"""Glob tail: ship every file that glob patterns match, including files that appear later.

The patterns are expanded at start and again every `rescan_interval_s`. Each file has its own
checkpoint, keyed by its identity (device, inode) under the shipper's tenant and host, so a file
renamed while it is read (rotation) keeps its checkpoint. As in the single-file tail, the lines of
every file read in a batch, their dead letters and all the checkpoints that cover them go to Kafka in
one transaction: a SIGKILL neither loses nor repeats a line of any file.

- New file: read from its start, or from its checkpoint when it has one (also a single-file tail's
  checkpoint for the same file, so `ingest file app.log` can become `ingest file '*.log'`).
- Renamed, still matched (`app.log` -> `app.log.1` under `app.log*`): the same file, read on from
  the open handle; never read again as a new one.
- No longer matched (deleted, or rotated out of the patterns): read to its end from the open handle,
  last incomplete line included, then let go. Its checkpoint is kept, so if it matches again it
  resumes where it stopped. A file rotated out while the tail was down is found among its recorded
  path's siblings at start and finished from its checkpoint, as the single-file tail does.
- Truncated (copytruncate): read again from 0, per file.

Not handled: a copy (copytruncate's `app.log.1`, a compressed `.gz`) is a new file with its own
identity; let the patterns not match copies (`*.log`, not `*.log*`). `.gz` files never match.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ingest.shippers.checkpoint import (
    KafkaCheckpoints,
    LocalCheckpoints,
    checkpoint_key,
    commit_with,
    safe_name,
    start_transactions,
    tail_publisher,
)
from ingest.shippers.filetail import TailOptions
from ingest.shippers.globs import Identity, absolute_pattern, compare, expand, find_renamed
from ingest.shippers.lines import Line, LineSplitter
from ingest.shippers.records import Origin, RawSink, SinkStats
from ingest.shippers.shipper_metrics import ShipperMetrics
from ingest.shippers.stream import ship_lines
from schemas.raw import FileCheckpoint
from socpipe.bus import KafkaBus, Publisher
from socpipe.logging import get_logger
from socpipe.metrics import Metrics

log = get_logger(__name__)


@dataclass
class _File:
    identity: Identity
    path: Path  # its name now
    origin: Origin  # fixed for the file's life: its records keep one source, whatever its name
    handle: BinaryIO
    splitter: LineSplitter
    committed: tuple[str, int, int] | None = None  # (path, offset, line) of its last checkpoint


class GlobTail:
    def __init__(
        self,
        patterns: Sequence[str],
        options: TailOptions,
        bus: KafkaBus,
        stop: threading.Event | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.patterns = sorted({absolute_pattern(p) for p in patterns})
        self.options = options
        self.bus = bus
        self.stop = stop or threading.Event()
        self.metrics = ShipperMetrics(metrics)
        # Checkpoint ids: `<group>:<path>` is a single-file tail's, `<group>:inode:<dev>:<ino>` ours.
        self.group = f"{bus.settings.topic_prefix}{options.tenant}:{options.host}:"
        digest = hashlib.sha256("\0".join([self.group, *self.patterns]).encode()).hexdigest()[:24]
        self.transactional_id = f"socpipe-ingest-glob-{digest}"
        self.files: dict[Identity, _File] = {}
        self._known: dict[Identity, FileCheckpoint] = {}  # the latest checkpoint of every identity
        self._publisher: Publisher | None = None
        self._sink: RawSink | None = None
        self._last_commit = time.monotonic()
        self._batch_bytes = 0
        self._acknowledged = 0

    def checkpoint_id(self, identity: Identity) -> str:
        return f"{self.group}inode:{identity[0]}:{identity[1]}"

    # --- life cycle ---------------------------------------------------------------------------

    def run(self) -> SinkStats:
        transactional_id = self.transactional_id if self.options.exactly_once else None
        publisher = tail_publisher(self.bus, self.options.producer_overrides, transactional_id)
        self._publisher = publisher
        self._sink = RawSink(publisher, self.bus.topics, self.options.max_record_bytes, metrics=self.metrics)
        try:
            start_transactions(self.bus, publisher, self.options.exactly_once)
            self._known = {} if self.options.from_beginning else self._load_checkpoints()
            found = expand(self.patterns)
            self._finish_rotated_away(found)
            self._loop(found)
        finally:
            for file in self.files.values():
                file.handle.close()
            publisher.close()
        return self._sink.stats

    def _load_checkpoints(self) -> dict[Identity, FileCheckpoint]:
        """Every checkpoint of this tenant and host, by identity: Kafka's over local ones, and ours over
        single-file tails' (theirs are keyed by path, and may be older)."""
        ours = self.group + "inode:"
        ranked = [
            ((name.startswith(safe_name(ours)), False), checkpoint)
            for name, checkpoint in LocalCheckpoints.load_all(self.options.state_dir, self.group).items()
        ]
        if self.options.exactly_once:
            ranked += [
                ((key.startswith(checkpoint_key(ours)), True), checkpoint)
                for key, checkpoint in KafkaCheckpoints.load_all(self.bus, self.group).items()
            ]
        known: dict[Identity, FileCheckpoint] = {}
        for _, checkpoint in sorted(ranked, key=lambda pair: pair[0]):
            known[(checkpoint.device, checkpoint.inode)] = checkpoint
        log.info("checkpoints loaded", patterns=self.patterns, files=len(known))
        return known

    def _finish_rotated_away(self, found: dict[Identity, Path]) -> None:
        """Files of these patterns rotated out of them while the tail was down: finish each one."""
        for identity, checkpoint in list(self._known.items()):
            if identity in found or not any(fnmatch.fnmatchcase(checkpoint.path, p) for p in self.patterns):
                continue
            renamed = find_renamed(Path(checkpoint.path), identity)
            file = self._open(identity, renamed) if renamed is not None else None
            if file is not None:
                log.info("finishing rotated file", rotated=str(renamed), offset=checkpoint.offset)
                self._let_go(file)

    # --- discovery ----------------------------------------------------------------------------

    def _scan(self, found: dict[Identity, Path]) -> None:
        scan = compare({i: f.path for i, f in self.files.items()}, found)
        for identity in scan.gone:
            log.info("file no longer matched: finishing it", path=str(self.files[identity].path))
            self._let_go(self.files.pop(identity))
        for identity, path in scan.moved.items():
            log.info("file renamed", old=str(self.files[identity].path), new=str(path))
            self.files[identity].path = path
        for identity, path in scan.new.items():
            file = self._open(identity, path)
            if file is not None:
                self.files[identity] = file

    def _open(self, identity: Identity, path: Path) -> _File | None:
        """Open at its checkpoint (from 0 without one, or when it is shorter: truncated)."""
        try:
            handle: BinaryIO = path.open("rb")
        except OSError:
            return None  # gone since the scan: the next scan tells
        st = os.fstat(handle.fileno())
        if (st.st_dev, st.st_ino) != identity:
            handle.close()  # renamed and replaced since the scan
            return None
        checkpoint = self._known.get(identity)
        offset, line = (checkpoint.offset, checkpoint.line) if checkpoint else (0, 0)
        if offset > st.st_size:
            log.warning("file shorter than the checkpoint (truncated): reading from 0", path=str(path))
            offset, line = 0, 0
        handle.seek(offset)
        source = checkpoint.source if checkpoint else f"file:{path}"  # kept through renames and restarts
        origin = Origin(self.options.tenant, source, self.options.parser, self.options.host,
                        source.removeprefix("file:"), self.options.timezone)  # fmt: skip
        log.info("reading file", path=str(path), offset=offset, resumed=checkpoint is not None)
        splitter = LineSplitter(offset, line, self.options.max_record_bytes)
        committed = (checkpoint.path, checkpoint.offset, checkpoint.line) if checkpoint else None
        return _File(identity, path, origin, handle, splitter, committed)

    def _let_go(self, file: _File) -> None:
        """Read a file that left the patterns to its end, commit, close; its checkpoint stays."""
        while self._read(file):
            if self._due():
                self._commit([file])
        self._ship_last(file)
        self._commit([file])
        if os.fstat(file.handle.fileno()).st_nlink == 0:
            self._known.pop(file.identity, None)  # deleted: a new file may reuse its inode
        file.handle.close()

    # --- the loop -----------------------------------------------------------------------------

    def _loop(self, found: dict[Identity, Path]) -> None:
        self._scan(found)
        last_scan = time.monotonic()
        while not self.stop.is_set():
            if self.options.follow and time.monotonic() - last_scan >= self.options.rescan_interval_s:
                self._scan(expand(self.patterns))
                last_scan = time.monotonic()
            progressed = False
            for file in list(self.files.values()):
                progressed = self._read(file) or progressed
                if self._due():
                    self._commit()
            if progressed:
                continue
            if not self.options.follow:
                for file in self.files.values():
                    self._ship_last(file)
                break
            self._commit()
            for file in self.files.values():
                self._check_truncation(file)
            self.stop.wait(self.options.poll_interval_s)
        self._commit()

    def _read(self, file: _File) -> bool:
        chunk = file.handle.read(self.options.chunk_bytes)
        if not chunk:
            return False
        self._batch_bytes += len(chunk)
        self._ship(file, file.splitter.feed(chunk))
        return True

    def _ship(self, file: _File, lines: list[Line]) -> None:
        if not lines:
            return
        assert self._sink is not None
        ship_lines(self._sink, file.origin, lines)
        self.metrics.pending(self._sink.stats.shipped + self._sink.stats.dead_letters - self._acknowledged)
        self.metrics.export_if_due()

    def _ship_last(self, file: _File) -> None:
        last = file.splitter.finish()
        if last is not None:
            self._ship(file, [last])

    def _check_truncation(self, file: _File) -> None:
        size = os.fstat(file.handle.fileno()).st_size
        if size < file.splitter.offset + file.splitter.pending:
            log.warning("file truncated: reading from 0", path=str(file.path), size=size)
            file.handle.seek(0)
            file.splitter = LineSplitter(0, 0, self.options.max_record_bytes)
            self._commit()

    # --- commits ------------------------------------------------------------------------------

    def _due(self) -> bool:
        return (
            self._batch_bytes >= self.options.batch_bytes
            or time.monotonic() - self._last_commit >= self.options.commit_interval_s
        )

    def _commit(self, extra: Sequence[_File] = ()) -> None:
        """Make everything shipped so far durable, with the checkpoints of every file that moved on."""
        assert self._publisher is not None and self._sink is not None
        changed: list[tuple[_File, FileCheckpoint]] = []
        now = datetime.now(UTC)
        for file in [*self.files.values(), *(f for f in extra if f.identity not in self.files)]:
            state = (str(file.path), file.splitter.offset, file.splitter.line)
            if state != file.committed:
                changed.append((file, FileCheckpoint(
                    tenant=self.options.tenant, source=file.origin.source, path=state[0],
                    device=file.identity[0], inode=file.identity[1], offset=state[1], line=state[2],
                    updated_at=now,
                )))  # fmt: skip
        self._last_commit, self._batch_bytes = time.monotonic(), 0
        if not changed:
            return  # nothing was shipped either: records are shipped only with an offset moving on
        outbound = [
            KafkaCheckpoints(self.bus, self.checkpoint_id(f.identity)).outbound(c) for f, c in changed
        ]
        commit_with(self._publisher, outbound, self.options.exactly_once)
        for file, checkpoint in changed:
            LocalCheckpoints(self.options.state_dir, self.checkpoint_id(file.identity)).save(checkpoint)
            file.committed = (checkpoint.path, checkpoint.offset, checkpoint.line)
            self._known[file.identity] = checkpoint
        self._acknowledged = self._sink.stats.shipped + self._sink.stats.dead_letters
        self.metrics.pending(0)
        self.metrics.acknowledged()
