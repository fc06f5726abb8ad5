"""`socpipe ingest file --follow` killed with SIGKILL mid-stream, three times: no line lost, none twice."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest
from ingest_helpers import (
    events,
    kill_repeatedly,
    raw_records,
    run_normalise,
    socpipe_command,
    socpipe_env,
    write_json_lines,
)

from socpipe.settings import Settings

pytestmark = pytest.mark.kafka

# Written over about 27 seconds: each kill waits for the shipper's first commit (a slow start under load
# once put the first kill before it), and all three land while lines are being written (the last lines
# trickle in until the last kill: write_json_lines' `hold`).
LINES = 60_000


def _writer(path: Path, done: threading.Event, hold: threading.Event) -> None:
    """Appends LINES JSON lines in bursts, like a busy application."""
    write_json_lines(path, done, LINES, hold=hold)


def _start(settings: Settings, path: Path, state: Path) -> subprocess.Popen[bytes]:
    command = socpipe_command("ingest", "file", str(path), "--tenant", "acme", "--parser", "json", "--follow",
                              "--host", "app1", "--state-dir", str(state))  # fmt: skip
    return subprocess.Popen(
        command, env=socpipe_env(settings), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )


def test_sigkill_mid_stream_loses_nothing_and_repeats_nothing(settings: Settings, tmp_path: Path) -> None:
    """Each kill lands while lines are being shipped; after restarts every line is in events.raw exactly
    once (read_committed), and normalise turns them into as many distinct events."""
    path, state = tmp_path / "app.jsonl", tmp_path / "state"
    path.touch()
    done, killed = threading.Event(), threading.Event()
    writer = threading.Thread(target=_writer, args=(path, done, killed))
    writer.start()
    try:
        shipper, shipped_at_kill = kill_repeatedly(
            settings, lambda: _start(settings, path, state), lambda: not done.is_set()
        )
    finally:
        killed.set()
    try:
        writer.join(90)
        assert done.is_set()
        raws = raw_records(settings, at_least=LINES)
    finally:
        shipper.send_signal(signal.SIGTERM)
        try:
            shipper.wait(30)
        except subprocess.TimeoutExpired:
            shipper.kill()
    seqs = Counter(json.loads(r.data)["seq"] for r in raws)
    lost = sorted(set(range(LINES)) - set(seqs))
    twice = sorted(s for s, count in seqs.items() if count > 1)
    assert (lost, twice) == ([], []), (
        f"{len(lost)} lost, {len(twice)} twice; shipped at kills {shipped_at_kill}"
    )
    assert 0 < shipped_at_kill[0] < shipped_at_kill[-1] < LINES, "the kills landed mid-stream"
    assert len(raws) == LINES
    run_normalise(settings)
    ids = Counter(e.id for e in events(settings, at_least=LINES))
    assert len(ids) == LINES
