"""The heuristics over event files, as `socpipe scan` runs them: rows shaped like published detections."""

from __future__ import annotations

import json

from detectors.heuristics.offline import ScanHeuristics
from schemas.detection import Detection
from socpipe.paths import samples_dir


def test_sample_intrusion_gives_first_time_rows_with_file_positions() -> None:
    """On the acme sample, the service from a Temp folder and the cleared log come out as detection rows."""
    path = samples_dir() / "acme-windows.jsonl"
    scan = ScanHeuristics("acme")
    rows = []
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        rows += scan.feed(json.loads(text), path, n)
    assert {r["rule"]["id"] for r in rows} == {
        "socpipe-heuristic-first-time-service",
        "socpipe-heuristic-log-cleared",
    }
    for row in rows:
        detection = Detection.model_validate(row)
        assert detection.kind == "heuristic" and detection.tenant == "acme"
        assert detection.event_ref.path == str(path) and detection.event_ref.line
        assert detection.explanation
    assert scan.untimed == 0


def test_events_without_a_time_are_counted_not_fed() -> None:
    """An event with no time field cannot join a window: it is counted as untimed."""
    scan = ScanHeuristics()
    assert scan.feed({"EventID": 1102, "Provider_Name": "Microsoft-Windows-Eventlog"}, samples_dir(), 1) == []
    assert scan.untimed == 1
