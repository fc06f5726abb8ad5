"""`socpipe ingest file --follow` through a Kafka outage of 40 s: it waits, resumes, and every line of the
file reaches events.raw exactly once (issue 17 item 2: it used to die of KafkaTimeoutError)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from fault_helpers import log_lines, socpipe_process, stop_process, topic_values, wait_for

from devtools.private import KAFKA, PrivatePair
from schemas.raw import RawRecord
from socpipe.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

OUTAGE_S = 40


def _append(path: Path, start: int, count: int) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"seq": n}) + "\n" for n in range(start, start + count))


def _seqs(settings: Settings) -> Counter[int]:
    raws = [RawRecord.model_validate_json(v) for v in topic_values(settings, settings.topics.raw)]
    return Counter(json.loads(r.data)["seq"] for r in raws)


def test_file_shipper_waits_out_a_kafka_outage(
    pair: PrivatePair, fault_settings: Settings, tmp_path: Path
) -> None:
    """Lines written before, during and after the outage all arrive once; the shipper never exits, and
    says at most once that Kafka went away, and then once that it is back."""
    path, log = tmp_path / "app.jsonl", tmp_path / "shipper.log"
    _append(path, 0, 500)
    shipper = socpipe_process(
        fault_settings, "ingest", "file", str(path), "--tenant", "acme", "--parser", "json", "--follow",
        "--host", "app1", "--state-dir", str(tmp_path / "state"), log=log,
    )  # fmt: skip
    try:
        wait_for(lambda: len(_seqs(fault_settings)) == 500, 90, "the first 500 lines")
        pair.stop(KAFKA)
        _append(path, 500, 500)
        for second in range(OUTAGE_S):  # the application keeps writing while Kafka is away
            assert shipper.poll() is None, "the shipper exited during the Kafka outage"
            _append(path, 1000 + second * 10, 10)
            time.sleep(1)
        pair.start()
        _append(path, 1000 + OUTAGE_S * 10, 500)
        total = 1000 + OUTAGE_S * 10 + 500
        wait_for(lambda: len(_seqs(fault_settings)) >= total, 120, f"all {total} lines after the outage")
        assert shipper.poll() is None, "the shipper exited after the outage"
        seqs = _seqs(fault_settings)
        assert sorted(seqs) == list(range(total))
        assert [s for s, n in seqs.items() if n > 1] == []
    finally:
        code = stop_process(shipper)
    assert code == 0
    # One line when the shipper finds Kafka gone and one when it is back; none when its producer simply
    # waited (kafka-python blocks a send or commit up to a minute, so a short outage may pass unseen).
    events = [line.get("event") for line in log_lines(log)]
    downs = events.count("kafka unavailable: waiting")
    assert downs <= 1 and events.count("kafka available again: resuming") == downs, events
