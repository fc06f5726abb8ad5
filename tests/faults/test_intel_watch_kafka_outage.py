"""`socpipe intel hunt --watch` through a Kafka outage: a feed refresh that brings a new indicator while
Kafka is away waits for Kafka, then hunts; the watcher never exits, and the match is reported once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fault_helpers import log_lines, socpipe_process, stop_process, wait_for

from devtools.private import KAFKA, PrivatePair
from socpipe.settings import Settings
from tests.integration.detectors.intel.hunt_helpers import detections, event, hold

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

C2 = "198.51.100.66"
OUTAGE_S = 20


def _events(log: Path) -> list[object]:
    return [line.get("event") for line in log_lines(log)]


def test_intel_watch_waits_out_a_kafka_outage(
    pair: PrivatePair, fault_settings: Settings, tmp_path: Path
) -> None:
    when = datetime.now(UTC) - timedelta(hours=2)
    hold(fault_settings, [(event("acme", when, 1, DestinationIp=C2), when)])
    feed = tmp_path / "feed.txt"
    feed.write_text("198.51.100.1\n")
    config = tmp_path / "intel.yaml"
    config.write_text(f"refresh_s: 2\nfeeds:\n  - name: watch-feed\n    path: {feed}\n")
    log = tmp_path / "watch.log"
    watcher = socpipe_process(
        fault_settings, "intel", "hunt", "--since", "1d", "--watch", log=log, SOCPIPE_INTEL_FILE=str(config)
    )
    try:
        wait_for(lambda: "retro-hunt done" in _events(log), 60, "the first hunt (nothing new yet)")
        pair.stop(KAFKA)
        feed.write_text(f"198.51.100.1\n{C2}\n")  # published while Kafka is away
        deadline = time.monotonic() + OUTAGE_S
        while time.monotonic() < deadline:
            assert watcher.poll() is None, "the watcher exited during the Kafka outage"
            time.sleep(1)
        pair.start()
        wait_for(lambda: len(detections(fault_settings)) >= 1, 120, "the hunt after the outage", step_s=2)
        found = detections(fault_settings)
        assert [(d.tenant, d.matched["intel"]["indicator"], d.matched["retrospective"]) for d in found] == [
            ("acme", C2, True)
        ]
        assert found[0].event_time == when
        assert watcher.poll() is None, "the watcher exited after the outage"
    finally:
        code = stop_process(watcher)
    assert code == 0, _events(log)
    events = _events(log)
    assert events.count("kafka unavailable: waiting") <= 1, events
