"""Upgrading from the single-file tail: its path-keyed checkpoints are taken over once, then deleted."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ingest_helpers import raw_records

from ingest.shippers.checkpoint import KafkaCheckpoints, LocalCheckpoints
from ingest.shippers.tail import FileTail, TailOptions
from schemas.raw import FileCheckpoint
from socpipe.bus import KafkaBus
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _legacy_checkpoint(bus: KafkaBus, path: Path, state: Path, offset: int, line: int) -> str:
    """What the earlier single-file tail left: a checkpoint keyed by `<prefix><tenant>:<host>:<path>`,
    in Kafka and in the state folder."""
    checkpoint_id = f"{bus.settings.topic_prefix}acme:web1:{path}"
    st = path.stat()
    checkpoint = FileCheckpoint(
        tenant="acme", source=f"file:{path}", path=str(path), device=st.st_dev, inode=st.st_ino,
        offset=offset, line=line, updated_at=datetime.now(UTC),
    )  # fmt: skip
    LocalCheckpoints(state, checkpoint_id).save(checkpoint)
    publisher = bus.publisher()
    publisher.send(KafkaCheckpoints(bus, checkpoint_id).outbound(checkpoint))
    publisher.flush()
    publisher.close()
    return checkpoint_id


def test_upgrade_resumes_from_path_keyed_checkpoints_and_migrates_them(
    settings: Settings, tmp_path: Path
) -> None:
    """The tail resumes where the old one stopped (line 41: nothing lost, nothing repeated), deletes the
    old checkpoint (Kafka tombstone, local file) after its first commit, and a second run ships nothing."""
    bus = KafkaBus(settings)
    bus.ensure_pipeline_topics()
    bus.ensure_topics([bus.topics.ingest_checkpoints], compacted=[bus.topics.ingest_checkpoints])
    path, state = tmp_path / "app.jsonl", tmp_path / "state"
    lines = [json.dumps({"seq": n}) + "\n" for n in range(100)]
    path.write_text("".join(lines))
    offset = sum(len(line) for line in lines[:40])
    legacy = _legacy_checkpoint(bus, path.absolute(), state, offset, 40)
    options = TailOptions(tenant="acme", parser="json", host="web1", state_dir=state)

    assert FileTail(path, options, bus).run().shipped == 60
    seqs = sorted(json.loads(r.data)["seq"] for r in raw_records(settings, at_least=60))
    assert seqs == list(range(40, 100))

    remaining = KafkaCheckpoints.load_all(bus, f"{settings.topic_prefix}acme:web1:")
    assert legacy.encode() not in remaining  # tombstoned
    st = os.stat(path)
    assert [(c.device, c.inode, c.offset) for c in remaining.values()] == [(st.st_dev, st.st_ino, st.st_size)]
    assert [p.name for p in state.glob("*.json")] == [
        f"{settings.topic_prefix}acme_web1_inode_{st.st_dev}_{st.st_ino}.json".replace(":", "_")
    ]

    assert FileTail(path, options, bus).run().shipped == 0
    assert len(raw_records(settings)) == 60
