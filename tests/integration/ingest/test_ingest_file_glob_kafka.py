"""The glob tail against real Kafka: files that appear later, rotation under the pattern, restarts, and
SIGKILL with two globbed files (no line lost, none twice)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from ingest_helpers import kill_repeatedly, raw_records, socpipe_command, socpipe_env, write_json_lines

from ingest.shippers.tail import FileTail, TailOptions
from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _options(tmp_path: Path, **overrides: object) -> TailOptions:
    base: dict[str, object] = {
        "tenant": "acme", "parser": "text", "host": "web1", "state_dir": tmp_path / "state",
        "poll_interval_s": 0.05, "commit_interval_s": 0.2, "rescan_interval_s": 0.2,
    }  # fmt: skip
    base.update(overrides)
    return TailOptions(**base)  # type: ignore[arg-type]


def _glob(
    settings: Settings, patterns: list[str], options: TailOptions, stop: threading.Event | None = None
) -> FileTail:
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    return FileTail(patterns, options, bus, stop=stop)


def _wait_for(predicate: object, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)


def _lines(prefix: str, numbers: range) -> str:
    return "".join(f"{prefix} {i}\n" for i in numbers)


def test_a_file_created_after_start_is_picked_up(settings: Settings, tmp_path: Path) -> None:
    """`*.log` while following: a second file created later is found by the rescan and shipped, each
    file's records with their own path; files not matching (`.txt`) are left alone; the tenant is
    the shipper's."""
    (tmp_path / "a.log").write_text(_lines("a", range(10)))
    (tmp_path / "notes.txt").write_text("not matched\n")
    stop = threading.Event()
    tail = _glob(settings, [f"{tmp_path}/*.log"], _options(tmp_path, follow=True), stop)
    thread = threading.Thread(target=tail.run)
    thread.start()
    try:
        _wait_for(lambda: len(raw_records(settings)) >= 10)
        (tmp_path / "b.log").write_text(_lines("b", range(5)))
        with (tmp_path / "a.log").open("a") as handle:
            handle.write(_lines("a", range(10, 12)))
        _wait_for(lambda: len(raw_records(settings)) >= 17)
    finally:
        stop.set()
        thread.join(30)
    raws = raw_records(settings)
    by_path = Counter((Path(r.path or "").name, r.data) for r in raws)
    expected = {("a.log", f"a {i}") for i in range(12)} | {("b.log", f"b {i}") for i in range(5)}
    assert set(by_path) == expected and set(by_path.values()) == {1}
    assert {r.tenant for r in raws} == {"acme"}


def test_a_rotation_matched_by_the_glob_is_not_read_twice(settings: Settings, tmp_path: Path) -> None:
    """Under `app.log*`, `app.log` renamed to `app.log.1` is the same file (its identity), read on and
    never again as new; across a restart nothing is shipped twice; a file deleted while followed is
    finished first, and its lines are all there."""
    path = tmp_path / "app.log"
    path.write_text(_lines("line", range(20)))
    (tmp_path / "gone.log").write_text(_lines("gone", range(3)))
    options = _options(tmp_path, follow=True)
    patterns = [f"{tmp_path}/app.log*", f"{tmp_path}/gone.log"]
    stop = threading.Event()
    thread = threading.Thread(target=_glob(settings, patterns, options, stop).run)
    thread.start()
    try:
        _wait_for(lambda: len(raw_records(settings)) >= 23)
        with path.open("a") as handle:
            handle.write(_lines("line", range(20, 30)))
        os.rename(path, tmp_path / "app.log.1")
        path.write_text(_lines("line", range(30, 35)))
        with (tmp_path / "gone.log").open("a") as handle:
            handle.write(_lines("gone", range(3, 5)))
        (tmp_path / "gone.log").unlink()
        _wait_for(lambda: len(raw_records(settings)) >= 37)
        time.sleep(1)  # a few rescans: a re-read of app.log.1 would show now
    finally:
        stop.set()
        thread.join(30)
    assert _glob(settings, patterns, _options(tmp_path)).run().shipped == 0, "a restart ships nothing"
    data = Counter(r.data for r in raw_records(settings))
    assert set(data) == {f"line {i}" for i in range(35)} | {f"gone {i}" for i in range(5)}
    assert set(data.values()) == {1}


def test_a_restart_finishes_a_file_rotated_out_of_the_pattern_while_down(
    settings: Settings, tmp_path: Path
) -> None:
    """Under `*.log`, the file grows and is rotated to `app.log.1` (not matched) while the tail is down:
    the next run finishes it from its checkpoint, then reads the new `app.log`; a single-file tail's
    checkpoint is taken up too, so switching `app.log` to `*.log` repeats nothing."""
    path = tmp_path / "app.log"
    path.write_text(_lines("line", range(10)))
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    assert FileTail(path, _options(tmp_path), bus).run().shipped == 10
    patterns = [f"{tmp_path}/*.log"]
    with path.open("a") as handle:
        handle.write(_lines("line", range(10, 20)))
    assert _glob(settings, patterns, _options(tmp_path)).run().shipped == 10
    with path.open("a") as handle:
        handle.write(_lines("line", range(20, 30)))
    os.rename(path, tmp_path / "app.log.1")
    path.write_text(_lines("line", range(30, 35)))
    assert _glob(settings, patterns, _options(tmp_path)).run().shipped == 15
    assert _glob(settings, patterns, _options(tmp_path)).run().shipped == 0
    assert [r.data for r in raw_records(settings, at_least=35)] == [f"line {i}" for i in range(35)]


LINES = 40_000  # per file


def _start(settings: Settings, pattern: str, state: Path) -> subprocess.Popen[bytes]:
    command = socpipe_command(
        "ingest", "file", pattern, "--tenant", "acme", "--parser", "json", "--follow",
        "--host", "app1", "--state-dir", str(state), "--rescan-interval", "0.5",
    )  # fmt: skip
    return subprocess.Popen(
        command, env=socpipe_env(settings), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )


def test_sigkill_with_two_globbed_files_loses_nothing_and_repeats_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    """`ingest file 'DIR/*.jsonl' --follow` killed three times while two files grow (the second created
    after the first start): after restarts every line of each file is in events.raw exactly once."""
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    first, second = logs / "one.jsonl", logs / "two.jsonl"
    first.touch()
    done, killed = [threading.Event(), threading.Event()], threading.Event()
    # Written over about 35 s: three restarts of the shipper must land before the writers finish, even
    # on a loaded machine where each start takes seconds (their last lines trickle until the last kill).
    writers = [threading.Thread(target=write_json_lines, args=(p, d, LINES, seed, (25, 200), killed))
               for p, d, seed in ((first, done[0], 7), (second, done[1], 8))]  # fmt: skip
    writers[0].start()
    threading.Timer(2.0, writers[1].start).start()  # the second file appears about when the shipper is up
    try:
        shipper, shipped_at_kill = kill_repeatedly(
            settings,
            lambda: _start(settings, f"{logs}/*.jsonl", state),
            lambda: not all(d.is_set() for d in done),
        )
    finally:
        killed.set()
    try:
        for writer in writers:
            writer.join(60)
        raws = raw_records(settings, at_least=2 * LINES)
    finally:
        shipper.send_signal(signal.SIGTERM)
        try:
            shipper.wait(30)
        except subprocess.TimeoutExpired:
            shipper.kill()
    seen = Counter((Path(r.path or "").name, json.loads(r.data)["seq"]) for r in raws)
    wanted = {(p.name, n) for p in (first, second) for n in range(LINES)}
    lost = sorted(wanted - set(seen))
    twice = sorted(k for k, count in seen.items() if count > 1)
    assert (lost[:5], twice[:5]) == ([], []), (
        f"{len(lost)} lost, {len(twice)} twice; shipped at kills {shipped_at_kill}"
    )
    assert 0 < shipped_at_kill[0] < shipped_at_kill[-1] < 2 * LINES, "the kills landed mid-stream"
    assert len(raws) == 2 * LINES
