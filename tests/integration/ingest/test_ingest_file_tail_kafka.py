"""The file tail against real Kafka: lines and refusals, rotation, truncation, resuming after a stop."""

from __future__ import annotations

import gzip
import os
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ingest_helpers import dead_letters, events, raw_records, run_normalise, socpipe_command, socpipe_env

from ingest.shippers.tail import FileTail, TailOptions
from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _options(tmp_path: Path, **overrides: object) -> TailOptions:
    base: dict[str, object] = {
        "tenant": "acme", "parser": "json", "host": "web1", "state_dir": tmp_path / "state",
        "poll_interval_s": 0.05, "commit_interval_s": 0.2,
    }  # fmt: skip
    base.update(overrides)
    return TailOptions(**base)  # type: ignore[arg-type]


def _tail(
    settings: Settings, path: Path, options: TailOptions, stop: threading.Event | None = None
) -> FileTail:
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    return FileTail(path, options, bus, stop=stop)


def _wait_for(predicate: object, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)


def test_bad_input_ends_in_the_dead_letter_topic_with_reasons(settings: Settings, tmp_path: Path) -> None:
    """Good JSON lines become ECS events; non-UTF-8, oversized, truncated and hostile lines become
    dead letters (at the shipper or at normalise), each with a reason; nothing is lost."""
    path = tmp_path / "app.jsonl"
    lines = [
        b'{"time": "2026-11-30T08:00:00Z", "message": "ok 1", "tenant": "globex"}',
        b"\xff\xfe\x00 not utf-8",
        b'{"message": "' + b"x" * 3000 + b'"}',
        b'{"time": "2026-11-30T08:00:01Z", "message": "trunc',
        b"[[[[[[[[[[" * 200,
        b'{"time": "2026-11-30T08:00:02Z", "message": "ok 2"}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    stats = _tail(settings, path, _options(tmp_path, max_record_bytes=2048)).run()
    assert (stats.shipped, stats.dead_letters) == (4, 2)
    raws = raw_records(settings, at_least=4)
    assert {r.tenant for r in raws} == {"acme"}, "the tenant comes from the shipper, never the log"
    assert [r.line for r in raws] == [1, 4, 5, 6]
    run_normalise(settings)
    got = events(settings, at_least=2)
    assert sorted(e.payload.message or "" for e in got) == ["ok 1", "ok 2"]
    letters = dead_letters(settings, at_least=4)
    by_line = {d.position.line: d for d in letters}
    assert by_line[2].stage == "ingest" and "not UTF-8" in by_line[2].reason
    assert by_line[2].original == lines[1]
    assert by_line[3].stage == "ingest" and "exceeds the limit" in by_line[3].reason
    assert by_line[4].stage == "normalise" and "not valid JSON" in by_line[4].reason
    assert by_line[5].stage == "normalise" and by_line[5].parser == "json"
    assert all(d.tenant == "acme" and d.reason for d in letters)


def test_follow_survives_rotation_and_truncation(settings: Settings, tmp_path: Path) -> None:
    """Lines written before and after a rename-rotation and a copytruncate all arrive exactly once."""
    path = tmp_path / "app.log"
    path.write_text("".join(f'{{"n": {i}}}\n' for i in range(0, 50)))
    stop = threading.Event()
    tail = _tail(settings, path, _options(tmp_path, follow=True), stop)
    thread = threading.Thread(target=tail.run)
    thread.start()
    try:
        _wait_for(lambda: len(raw_records(settings)) >= 50)
        with path.open("a") as handle:  # written just before rotation: read from the old file
            handle.write("".join(f'{{"n": {i}}}\n' for i in range(50, 60)))
        os.rename(path, tmp_path / "app.log.1")
        path.write_text("".join(f'{{"n": {i}}}\n' for i in range(60, 100)))
        _wait_for(lambda: len(raw_records(settings)) >= 100)
        with path.open("r+") as handle:  # copytruncate
            handle.truncate(0)
        time.sleep(0.5)
        path.write_text("".join(f'{{"n": {i}}}\n' for i in range(100, 110)))
        _wait_for(lambda: len(raw_records(settings)) >= 110)
    finally:
        stop.set()
        thread.join(30)
    numbers = Counter(int(r.data.split(":")[1].rstrip("}")) for r in raw_records(settings))
    assert sorted(numbers) == list(range(110)) and set(numbers.values()) == {1}


def test_restart_finishes_a_file_rotated_while_down(settings: Settings, tmp_path: Path) -> None:
    """Stopped, then the file grows and is rotated: the next run finishes the rotated file from the
    checkpoint, then reads the new one; a run with nothing new ships nothing."""
    path = tmp_path / "app.log"
    path.write_text("".join(f"line {i}\n" for i in range(20)))
    options = _options(tmp_path, parser="text")
    assert _tail(settings, path, options).run().shipped == 20
    with path.open("a") as handle:
        handle.write("".join(f"line {i}\n" for i in range(20, 30)))
    os.rename(path, tmp_path / "app.log.1")
    path.write_text("".join(f"line {i}\n" for i in range(30, 35)))
    assert _tail(settings, path, options).run().shipped == 15
    assert _tail(settings, path, options).run().shipped == 0
    data = [r.data for r in raw_records(settings, at_least=35)]
    assert data == [f"line {i}" for i in range(35)]


def test_at_least_once_mode_resumes_from_the_local_checkpoint(settings: Settings, tmp_path: Path) -> None:
    """Without transactions the local checkpoint (written after Kafka's acks) is where a rerun starts."""
    path = tmp_path / "plain.log"
    path.write_text("a\nb\n")
    options = _options(tmp_path, parser="text", exactly_once=False)
    assert _tail(settings, path, options).run().shipped == 2
    with path.open("a") as handle:
        handle.write("c\n")
    assert _tail(settings, path, options).run().shipped == 1
    assert [r.data for r in raw_records(settings, at_least=3)] == ["a", "b", "c"]


def test_compressed_file_is_shipped_once(settings: Settings, tmp_path: Path) -> None:
    """A .gz file (archived logs) is read decompressed, without --follow; a rerun ships nothing new."""
    path = tmp_path / "old.log.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("".join(f"archived {i}\n" for i in range(100)))
    options = _options(tmp_path, parser="text")
    assert _tail(settings, path, options).run().shipped == 100
    assert _tail(settings, path, options).run().shipped == 0
    assert [r.offset for r in raw_records(settings, at_least=100)][:2] == [0, 11]


def test_cli_file_tail_with_a_time_zone_normalises_syslog_times(settings: Settings, tmp_path: Path) -> None:
    """`socpipe ingest file --parser syslog --timezone America/New_York`: lines of a New York host's
    /var/log/messages (no year, no zone) become events at the right UTC instant, a day apart."""
    zone = ZoneInfo("America/New_York")
    moments = [datetime.now(UTC).replace(microsecond=0) - timedelta(days=d, minutes=5) for d in (1, 0)]
    path = tmp_path / "messages"
    path.write_text("".join(f"{m.astimezone(zone):%b} {m.astimezone(zone).day:2d} "
                            f"{m.astimezone(zone):%H:%M:%S} nyc1 cron[{n}]: run {n}\n"
                            for n, m in enumerate(moments)))  # fmt: skip
    command = socpipe_command(
        "ingest", "file", str(path), "--tenant", "acme", "--parser", "syslog",
        "--timezone", "America/New_York", "--state-dir", str(tmp_path / "state"),
    )  # fmt: skip
    done = subprocess.run(command, env=socpipe_env(settings), capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"2 records shipped, 0 dead-lettered" in done.stdout
    run_normalise(settings)
    got = {e.payload.message: e.payload.timestamp for e in events(settings, at_least=2)}
    assert got == {"run 0": moments[0], "run 1": moments[1]}
