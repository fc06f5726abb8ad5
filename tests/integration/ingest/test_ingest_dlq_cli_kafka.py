"""`socpipe dlq inspect` and `socpipe dlq replay` on real Kafka: see why records were refused, then
re-drive them after a fix and find them as events."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ingest_helpers import dead_letters, events, raw_records, run_normalise, socpipe_command, socpipe_env

from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _socpipe(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        socpipe_command(*args),
        env=socpipe_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_inspect_shows_reasons_and_replay_redrives_after_a_fix(settings: Settings, tmp_path: Path) -> None:
    """A plain-text line shipped with the json parser, and a latin-1 line, are dead letters; inspect
    lists them with reason and position; replay re-drives the first under `--as-parser text` and the
    second decoded as latin-1 (as text too); after normalise both are events; a dry run sends nothing."""
    log = tmp_path / "app.log"
    log.write_bytes(b'{"message": "fine"}\nnot json at all\ncaf\xe9 au lait\n')
    state = str(tmp_path / "state")
    _socpipe(
        settings, "ingest", "file", str(log), "--tenant", "acme", "--parser", "json", "--state-dir", state
    )
    run_normalise(settings)
    assert len(dead_letters(settings, at_least=2)) == 2

    listing = _socpipe(settings, "dlq", "inspect", "--tenant", "acme").stdout
    assert "stage=normalise parser=json ParseError" in listing and "not valid JSON" in listing
    assert "stage=ingest parser=json UnicodeDecodeError" in listing and "line=3" in listing
    assert "original: not json at all" in listing and "original: caf\\xe9 au lait" in listing
    assert _socpipe(settings, "dlq", "inspect", "--tenant", "globex").stderr.strip() == "0 dead letters"

    dry = _socpipe(settings, "dlq", "replay", "--stage", "normalise", "--as-parser", "text", "--dry-run")
    assert "would replay 1 dead letters" in dry.stdout
    _socpipe(settings, "dlq", "replay", "--stage", "normalise", "--as-parser", "text")
    skipped = _socpipe(settings, "dlq", "replay", "--stage", "ingest")
    assert "replayed 0" in skipped.stdout and "still not decodable as utf-8" in skipped.stderr
    _socpipe(settings, "dlq", "replay", "--stage", "ingest", "--encoding", "latin-1", "--as-parser", "text")
    assert len(raw_records(settings, at_least=4)) == 4
    run_normalise(settings)
    messages = sorted(e.payload.message or "" for e in events(settings, at_least=3))
    assert messages == ["café au lait", "fine", "not json at all"]


def test_a_replayed_ingest_letter_is_read_in_its_source_time_zone(settings: Settings, tmp_path: Path) -> None:
    """A Paris syslog file with a latin-1 line: the line is an ingest dead letter that keeps
    Europe/Paris; after `dlq replay --encoding latin-1` and normalise its 10:00 is Paris wall-clock time,
    like the UTF-8 line shipped directly, not 10:00 UTC."""
    log = tmp_path / "fw.log"
    log.write_bytes(b"<13>Jan 15 10:00:00 fw1 app: fine\n<13>Jan 15 10:00:00 fw1 app: caf\xe9\n")
    _socpipe(
        settings, "ingest", "file", str(log), "--tenant", "acme", "--parser", "syslog",
        "--timezone", "Europe/Paris", "--state-dir", str(tmp_path / "state"),
    )  # fmt: skip
    (letter,) = dead_letters(settings, at_least=1)
    assert (letter.stage, letter.error_type, letter.timezone) == (
        "ingest",
        "UnicodeDecodeError",
        "Europe/Paris",
    )
    assert "timezone=Europe/Paris" in _socpipe(settings, "dlq", "inspect", "--stage", "ingest").stdout

    _socpipe(settings, "dlq", "replay", "--stage", "ingest", "--encoding", "latin-1")
    replayed = [r for r in raw_records(settings, at_least=2) if r.data.endswith("café")]
    assert [r.timezone for r in replayed] == ["Europe/Paris"]
    run_normalise(settings)
    stamps = {e.payload.message: e.payload.timestamp for e in events(settings, at_least=2)}
    assert set(stamps) == {"fine", "café"}, stamps
    paris = ZoneInfo("Europe/Paris")
    for stamp in stamps.values():  # January: Paris is UTC+1, so 10:00 there is 09:00Z
        assert (stamp.hour, stamp.utcoffset()) == (9, timedelta(0))
        assert stamp.astimezone(paris).hour == 10
