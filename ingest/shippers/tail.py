"""The file tail: ship the lines of a file set (literal paths or glob patterns), follow, resume.

One tail for one path and for many: the set is expanded at start and again while following (every
poll for literal paths, whose rotation must be seen at once; every `rescan_interval_s` for patterns).
Each file has its own checkpoint, keyed by its identity (device, inode) under the shipper's tenant and
host, so a file renamed while it is read (rotation) keeps its checkpoint.

Exactly once across crashes (the default): the lines of every file read in a batch, their dead letters
and all the checkpoints that cover them go to Kafka in one transaction; readers use read_committed.
After a SIGKILL the producer's next `init_transactions` aborts the open transaction and the tail
resumes from the last committed checkpoints: no line is lost, none appears twice. `exactly_once=False`
(brokers without transactions) resumes from the local checkpoint files written after each acknowledged
batch: a crash between the acknowledgement and that write repeats at most one batch, whose records
carry the same deterministic ids as before.

Kafka outages: a write or commit that fails because Kafka is away ends the session, not the process.
The tail closes its producer, waits (bounded jittered backoff, one log line when Kafka goes and one
when it is back, the `server_available` gauge) and starts a new session from the last committed
checkpoints, as after a crash: nothing lost, nothing twice. A tail started while Kafka is down waits.

- New file: read from its start, or from its checkpoint when it has one.
- Renamed, still matched (`app.log` -> `app.log.1` under `app.log*`): the same file, read on from the
  open handle; never read again as a new one.
- No longer matched (deleted, or rotated away from a literal path or out of the patterns): read to its
  end from the open handle, last incomplete line included, then let go. Its checkpoint is kept, so if
  it matches again it resumes where it stopped. A file rotated away while the tail was down is found
  among its recorded path's siblings at start and finished from its checkpoint.
- Truncated (copytruncate): read again from 0, per file.
- A compressed file (`.gz`) is read only when named literally and without --follow; patterns never
  match one (a rotated `app.log.2.gz` is a copy with a new identity: reading it would repeat its lines).

Upgrade: checkpoints of the earlier single-file tail were keyed by path. They are read at start (below
this tail's own for the same identity), and after the first commit of the file they describe, deleted
(a Kafka tombstone in the same transaction, the local file after it): a one-time migration.
"""

from __future__ import annotations

import fnmatch
import glob
import gzip
import hashlib
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from kafka.errors import KafkaError

from ingest.shippers.checkpoint import (
    KafkaCheckpoints,
    LocalCheckpoints,
    checkpoint_key,
    commit_with,
    safe_name,
    start_transactions,
    tail_publisher,
)
from ingest.shippers.globs import Identity, absolute_pattern, compare, expand, find_renamed, is_pattern
from ingest.shippers.lines import Line, LineSplitter
from ingest.shippers.records import DEFAULT_MAX_RECORD_BYTES, Origin, RawSink, SinkStats, source_timezone
from ingest.shippers.shipper_metrics import ShipperMetrics
from ingest.shippers.stream import ship_lines
from schemas.raw import FileCheckpoint
from socpipe.bus import DeliveryError, KafkaBus, Outbound, Publisher
from socpipe.logging import get_logger
from socpipe.metrics import Metrics, NullMetrics
from socpipe.outage import KAFKA, MAX_WAIT_S, Availability, Backoff, Stopped, server_of

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
    rescan_interval_s: float = 5.0  # how often patterns are expanded again (literal paths: every poll)
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    producer_overrides: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None  # IANA zone of times without an offset (syslog parser only)
    max_backoff_s: float = MAX_WAIT_S  # longest wait between attempts while Kafka is away

    def __post_init__(self) -> None:
        source_timezone(self.timezone, self.parser)


@dataclass
class _File:
    identity: Identity
    path: Path  # its name now
    origin: Origin  # fixed for the file's life: its records keep one source, whatever its name
    handle: BinaryIO
    splitter: LineSplitter
    committed: tuple[str, int, int] | None = None  # (path, offset, line) of its last checkpoint
    compressed: bool = False


@dataclass(frozen=True)
class _Legacy:
    """A path-keyed checkpoint of the earlier single-file tail, deleted once its file has committed."""

    checkpoint_id: str
    in_kafka: bool


class FileTail:
    def __init__(
        self,
        paths: Path | str | Sequence[Path | str],
        options: TailOptions,
        bus: KafkaBus,
        stop: threading.Event | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        given = [paths] if isinstance(paths, Path | str) else list(paths)
        # A Path is always literal; a string is a pattern when it has wildcards (the shell left them).
        self.patterns = sorted(
            {
                absolute_pattern(str(p)) if isinstance(p, str) and is_pattern(p)
                else glob.escape(os.path.abspath(os.path.expanduser(str(p))))
                for p in given
            }
        )  # fmt: skip
        self.literal = all(not is_pattern(p) for p in self.patterns)
        self.options = options
        self.bus = bus
        self.stop = stop or threading.Event()
        self.metrics = ShipperMetrics(metrics)
        self.availability = Availability(metrics or NullMetrics(), {"shipper": "file"})
        # Checkpoint ids: `<group>inode:<dev>:<ino>`; `<group><path>` was the single-file tail's.
        self.group = f"{bus.settings.topic_prefix}{options.tenant}:{options.host}:"
        digest = hashlib.sha256("\0".join([self.group, *self.patterns]).encode()).hexdigest()[:24]
        self.transactional_id = f"socpipe-ingest-glob-{digest}"
        self.files: dict[Identity, _File] = {}
        self._known: dict[Identity, FileCheckpoint] = {}  # the latest checkpoint of every identity
        self._legacy: dict[Identity, list[_Legacy]] = {}
        self._publisher: Publisher | None = None
        self._sink: RawSink | None = None
        self._stats = SinkStats()
        self._last_commit = time.monotonic()
        self._batch_bytes = 0
        self._acknowledged = 0

    def checkpoint_id(self, identity: Identity) -> str:
        return f"{self.group}inode:{identity[0]}:{identity[1]}"

    # --- life cycle ---------------------------------------------------------------------------

    def run(self) -> SinkStats:
        """Sessions until the input ends (without --follow) or `stop`; a Kafka outage ends a session,
        and the next one starts from the last commit once Kafka answers again."""
        if self.options.follow and any(p.endswith(".gz") for p in self.patterns):
            raise ValueError("a compressed file cannot be followed; ship it without --follow")
        backoff = Backoff(max_s=self.options.max_backoff_s)
        while True:
            try:
                self._session()
                self.availability.all_up()
                return self._stats
            except Exception as exc:
                if not _kafka_failure(exc):
                    raise
                self.availability.down(
                    KAFKA, exc, "to ship and commit file lines (resuming from checkpoints)"
                )
            try:
                backoff.sleep(self.stop)
            except Stopped:
                return self._stats

    def _session(self) -> None:
        transactional_id = self.transactional_id if self.options.exactly_once else None
        self.files = {}
        publisher = tail_publisher(self.bus, self.options.producer_overrides, transactional_id)
        self._publisher = publisher
        self._sink = RawSink(publisher, self.bus.topics, self.options.max_record_bytes, self._stats,
                             metrics=self.metrics)  # fmt: skip  # one count over every session
        self._acknowledged = self._stats.shipped + self._stats.dead_letters
        ok = False
        try:
            start_transactions(self.bus, publisher, self.options.exactly_once)
            self._known = {} if self.options.from_beginning else self._load_checkpoints()
            self.availability.all_up()
            found = expand(self.patterns, literal_gz=not self.options.follow)
            self._finish_rotated_away(found)
            self._loop(found)
            ok = True
        finally:
            for file in self.files.values():
                file.handle.close()
            publisher.close(timeout_s=10 if ok else 0)

    def _load_checkpoints(self) -> dict[Identity, FileCheckpoint]:
        """Every checkpoint of this tenant and host, by identity: Kafka's over local ones, and ours over
        the single-file tail's (keyed by path, possibly older), which are kept for deletion."""
        ours = self.group + "inode:"
        ranked: list[tuple[tuple[bool, bool], FileCheckpoint, str]] = [
            ((name.startswith(safe_name(ours)), False), checkpoint, name)
            for name, checkpoint in LocalCheckpoints.load_all(self.options.state_dir, self.group).items()
        ]
        if self.options.exactly_once:
            ranked += [
                ((key.startswith(checkpoint_key(ours)), True), checkpoint, key.decode())
                for key, checkpoint in KafkaCheckpoints.load_all(self.bus, self.group).items()
            ]
        known: dict[Identity, FileCheckpoint] = {}
        self._legacy = {}
        for (own, in_kafka), checkpoint, name in sorted(ranked, key=lambda row: row[0]):
            identity = (checkpoint.device, checkpoint.inode)
            known[identity] = checkpoint
            if not own:
                self._legacy.setdefault(identity, []).append(_Legacy(name, in_kafka))
        log.info("checkpoints loaded", patterns=self.patterns, files=len(known),
                 path_keyed=sum(map(len, self._legacy.values())))  # fmt: skip
        return known

    def _finish_rotated_away(self, found: dict[Identity, Path]) -> None:
        """Files of this set rotated away while the tail was down: finish each one."""
        for identity, checkpoint in list(self._known.items()):
            if identity in found or not self._matches(checkpoint.path):
                continue
            renamed = find_renamed(Path(checkpoint.path), identity)
            file = self._open(identity, renamed) if renamed is not None else None
            if file is not None:
                log.info("finishing rotated file", rotated=str(renamed), offset=checkpoint.offset)
                self._let_go(file)

    def _matches(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) or glob.escape(path) == p for p in self.patterns)

    # --- discovery ----------------------------------------------------------------------------

    def _scan(self, found: dict[Identity, Path]) -> None:
        scan = compare({i: f.path for i, f in self.files.items()}, found)
        for identity in scan.gone:
            log.info("file no longer matched (rotated or deleted): finishing it",
                     path=str(self.files[identity].path))  # fmt: skip
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
            raw: BinaryIO = path.open("rb")
        except OSError:
            return None  # gone since the scan: the next scan tells
        st = os.fstat(raw.fileno())
        if (st.st_dev, st.st_ino) != identity:
            raw.close()  # renamed and replaced since the scan
            return None
        checkpoint = self._known.get(identity)
        offset, line = (checkpoint.offset, checkpoint.line) if checkpoint else (0, 0)
        compressed = path.suffix == ".gz"
        handle = raw
        if compressed:
            handle = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
            _skip(handle, offset, self.options.chunk_bytes)  # offsets count uncompressed bytes
        else:
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
        return _File(identity, path, origin, handle, splitter, committed, compressed)

    def _let_go(self, file: _File) -> None:
        """Read a file that left the set to its end, commit, close; its checkpoint stays."""
        while self._read(file):
            if self._due():
                self._commit([file])
        self._ship_last(file)
        self._commit([file])
        if not file.compressed and os.fstat(file.handle.fileno()).st_nlink == 0:
            self._known.pop(file.identity, None)  # deleted: a new file may reuse its inode
        file.handle.close()

    # --- the loop -----------------------------------------------------------------------------

    def _loop(self, found: dict[Identity, Path]) -> None:
        self._scan(found)
        last_scan = time.monotonic()
        rescan_s = self.options.poll_interval_s if self.literal else self.options.rescan_interval_s
        while not self.stop.is_set():
            if self.options.follow and time.monotonic() - last_scan >= rescan_s:
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
        if file.compressed:
            return
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
        migrated = [legacy for f, _ in changed for legacy in self._legacy.pop(f.identity, [])]
        outbound += [
            Outbound(self.bus.topics.ingest_checkpoints, None, checkpoint_key(m.checkpoint_id))
            for m in migrated
            if m.in_kafka
        ]
        commit_with(self._publisher, outbound, self.options.exactly_once)
        for file, checkpoint in changed:
            LocalCheckpoints(self.options.state_dir, self.checkpoint_id(file.identity)).save(checkpoint)
            file.committed = (checkpoint.path, checkpoint.offset, checkpoint.line)
            self._known[file.identity] = checkpoint
        for m in migrated:
            if not m.in_kafka:
                (self.options.state_dir / f"{m.checkpoint_id}.json").unlink(missing_ok=True)
        if migrated:
            log.info("path-keyed checkpoints migrated", count=len(migrated))
        self._acknowledged = self._sink.stats.shipped + self._sink.stats.dead_letters
        self.metrics.pending(0)
        self.metrics.acknowledged()


def _skip(handle: BinaryIO, count: int, chunk: int) -> None:
    while count > 0:
        skipped = handle.read(min(count, chunk))
        if not skipped:
            return
        count -= len(skipped)


def _kafka_failure(exc: BaseException) -> bool:
    """Ends a session: Kafka away, or a producer left unusable by an outage (a transaction the broker
    aborted, a fenced epoch). A new session's producer and `init_transactions` start clean."""
    return server_of(exc) == KAFKA or isinstance(exc, KafkaError | DeliveryError)
