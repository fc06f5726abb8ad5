"""What the pipeline benchmark watches while the load runs, each from outside the workers.

- LagSampler: every second, per stage, its consumer group's committed offsets against the end offsets
  of its input topic (what `socpipe_consumer_lag` reports, summed), and the detector group's partition
  assignment, from the broker.
- LatencyProbe: every detection on the detections topic, with its event's shipper receipt time (the
  detection's `event_ref.received_at`, or else the `ingest.received_at` of the ECS event at
  `event_ref`'s Kafka position), the detection's Kafka timestamp, and the moments the incident holding
  it and its evidence record became searchable in Elasticsearch (polled every POLL_S; so up to POLL_S
  late, and including the indices' 1 s refresh, as an analyst would see them).
- cpu_seconds: user + system CPU of a process from /proc/<pid>/stat.
- detector_share: the largest tenant's events on events.ecs, attributed to the detector worker that
  owned their partition when they were written.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from socpipe.consumer_lag import group_lag
from socpipe.settings import Settings

POLL_S = 0.25
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_DETECTION_EVIDENCE = {"term": {"evidence.record_type": "detection"}}
_TENANT = re.compile(rb'"tenant"\s*:\s*"([^"]+)"')


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (fields 14 and 15 of /proc/<pid>/stat), in seconds."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass
class LagSample:
    t: float  # monotonic
    lag: dict[str, int]  # stage -> records behind
    ends: dict[str, int]  # stage -> records written to its input topic so far (end offsets summed)
    assignment: dict[int, str]  # detector input partition -> member id


class LagSampler(threading.Thread):
    """Samples each stage's lag (and the detector group's assignment) once a second until stopped."""

    def __init__(
        self,
        settings: Settings,
        stages: dict[str, tuple[str, str]],
        detector_stage: str,
        interval_s: float = 1.0,
    ) -> None:
        super().__init__(daemon=True, name="lag-sampler")
        self.stages = stages  # stage -> (consumer group, input topic)
        self.detector_stage = detector_stage
        self.interval_s = interval_s
        servers = settings.kafka_bootstrap_servers.split(",")
        self.admin = KafkaAdminClient(bootstrap_servers=servers)
        self.ends = KafkaConsumer(bootstrap_servers=servers, group_id=None)
        self.samples: list[LagSample] = []
        self.stop = threading.Event()

    def lag_of(self, group: str, topic: str) -> tuple[int, int] | None:
        """(records behind, end offsets summed) of a group on a topic; None before the topic exists."""
        found = group_lag(self.admin, self.ends, group, topic)
        return None if found is None else (found.lag, found.end)

    def assignment(self, group: str, topic: str) -> dict[int, str]:
        out: dict[int, str] = {}
        try:
            described = self.admin.describe_groups([group])[group]
        except Exception:  # a group not formed yet
            return out
        for member in described.get("members") or []:
            for assigned in (member.get("member_assignment") or {}).get("assigned_partitions") or []:
                if assigned["topic"] == topic:
                    out.update(dict.fromkeys(assigned["partitions"], member["member_id"]))
        return out

    def sample(self) -> LagSample:
        lags, ends = {}, {}
        for stage, (group, topic) in self.stages.items():
            found = self.lag_of(group, topic)
            if found is not None:
                lags[stage], ends[stage] = found
        group, topic = self.stages[self.detector_stage]
        return LagSample(time.monotonic(), lags, ends, self.assignment(group, topic))

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self.samples.append(self.sample())
            except Exception as exc:  # a broker hiccup costs one sample, not the run
                print(f"lag sample failed: {exc}")
            self.stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=10)
        self.admin.close()
        self.ends.close()


@dataclass
class Detected:
    """One detection, and when each step of its way was reached (epoch seconds)."""

    id: str
    tenant: str
    received: float | None  # shipper receipt of its event
    on_kafka: float  # the detection's Kafka timestamp
    ref: tuple[str, int, int] | None  # (topic, partition, offset) of its event
    incident: float | None = None
    evidence: float | None = None

    @property
    def done(self) -> float | None:
        return max(self.incident, self.evidence) if self.incident and self.evidence else None


@dataclass
class LatencyProbe:
    """Follows every detection from Kafka to its incident and evidence in Elasticsearch (two threads)."""

    settings: Settings
    es: Elasticsearch
    detections: dict[str, Detected] = field(default_factory=dict)
    lookups: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for target in (self._follow_kafka, self._poll_es):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def pending(self) -> int:
        with self._lock:
            return sum(1 for d in self.detections.values() if d.done is None)

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers.split(","),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )

    def _follow_kafka(self) -> None:
        topic = self.settings.topics.detections
        follow, lookup = self._consumer(), self._consumer()
        try:
            while not follow.partitions_for_topic(topic) and not self.stop.is_set():
                time.sleep(0.2)
            follow.assign([TopicPartition(topic, p) for p in follow.partitions_for_topic(topic) or ()])
            follow.seek_to_beginning()
            while not self.stop.is_set():
                for records in follow.poll(timeout_ms=200).values():
                    for record in records:
                        self._add(record, lookup)
        finally:
            follow.close()
            lookup.close()

    def _add(self, record: Any, lookup: KafkaConsumer) -> None:
        envelope = orjson.loads(record.value)
        detection = envelope["payload"]
        ref = detection.get("event_ref") or {}
        position = (
            (ref["topic"], ref["partition"], ref["offset"])
            if ref.get("topic") is not None and ref.get("offset") is not None
            else None
        )
        received = _epoch(ref["received_at"]) if ref.get("received_at") else None
        if received is None and position is not None:
            received = self._received_at(lookup, position)
        found = Detected(detection["id"], detection["tenant"], received, record.timestamp / 1000, position)
        with self._lock:
            self.detections.setdefault(found.id, found)

    def _received_at(self, lookup: KafkaConsumer, position: tuple[str, int, int]) -> float | None:
        """The shipper's receipt time of the ECS event at a Kafka position (one fetch)."""
        topic, partition, offset = position
        tp = TopicPartition(topic, partition)
        lookup.assign([tp])
        lookup.seek(tp, offset)
        self.lookups += 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for record in lookup.poll(timeout_ms=500, max_records=1).get(tp, []):
                if record.offset == offset:
                    payload = orjson.loads(record.value).get("payload", {})
                    stamp = (payload.get("ingest") or {}).get("received_at")
                    return _epoch(stamp) if stamp else None
                return None
        return None

    def _poll_es(self) -> None:
        prefix = self.settings.index_prefix
        while not self.stop.wait(POLL_S):
            with self._lock:
                want_incident = [d.id for d in self.detections.values() if d.incident is None]
                want_evidence = [d.id for d in self.detections.values() if d.evidence is None]
            try:
                seen_incident = self._in_incidents(f"{prefix}-incidents-*", want_incident[:500])
                seen_evidence = self._in_evidence(f"{prefix}-evidence-*", want_evidence[:1000])
            except Exception as exc:  # an index not created yet, or a slow node: next round
                print(f"es poll failed: {exc}")
                continue
            now = time.time()
            with self._lock:
                for detection_id in seen_incident:
                    self.detections[detection_id].incident = now
                for detection_id in seen_evidence:
                    self.detections[detection_id].evidence = now

    def _in_incidents(self, index: str, ids: list[str]) -> list[str]:
        """Which of these detections an incident lists (one count query each, in one msearch)."""
        if not ids:
            return []
        body: list[dict[str, Any]] = []
        for detection_id in ids:
            body += [
                {"index": index, "ignore_unavailable": True, "allow_no_indices": True},
                {
                    "size": 0,
                    "track_total_hits": 1,
                    "query": {"term": {"incident.detection_ids": detection_id}},
                },
            ]
        answer = self.es.msearch(searches=body)
        return [
            i
            for i, r in zip(ids, answer["responses"], strict=True)
            if r.get("hits", {}).get("total", {}).get("value")
        ]

    def _in_evidence(self, index: str, ids: list[str]) -> list[str]:
        if not ids:
            return []
        answer = self.es.search(
            index=index,
            ignore_unavailable=True,
            allow_no_indices=True,
            size=len(ids),
            query={
                "bool": {
                    "filter": [
                        {"terms": {"evidence.subject_id": ids}},
                        {"term": {"evidence.record_type": "detection"}},
                    ]
                }
            },
            source=["evidence.subject_id"],
        )
        return [hit["_source"]["evidence"]["subject_id"] for hit in answer["hits"]["hits"]]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def detector_share(
    settings: Settings, topic: str, tenant: str, samples: list[LagSample], window: tuple[float, float]
) -> dict[str, float]:
    """Share of `tenant`'s events (written in `window`, epoch s) per detector worker, by partition owner.

    Workers are named w1..wK by the order their member ids first own a partition.
    """
    reader = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","), group_id=None, enable_auto_commit=False
    )
    # Assignment samples are in monotonic time: map them onto the wall clock of record timestamps.
    shift = time.time() - time.monotonic()
    history = [(s.t + shift, s.assignment) for s in samples if s.assignment]
    names: dict[str, str] = {}
    for _, assignment in history:
        for member in assignment.values():
            names.setdefault(member, f"w{len(names) + 1}")
    counts: Counter[str] = Counter()
    try:
        tps = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        reader.assign(tps)
        reader.seek_to_beginning()
        ends = reader.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            polled = reader.poll(timeout_ms=1000, max_records=5000)
            if not polled:
                break
            for tp, records in polled.items():
                for record in records:
                    stamp = record.timestamp / 1000
                    found = _TENANT.search(record.value[:200])
                    if found is None or found.group(1).decode() != tenant:
                        continue
                    if window[0] <= stamp <= window[1]:
                        counts[_owner(history, tp.partition, stamp, names)] += 1
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        reader.close()
    total = sum(counts.values())
    shares = {name: 0.0 for name in names.values()}
    shares.update({worker: round(n / total, 4) for worker, n in counts.items()} if total else {})
    return dict(sorted(shares.items()))


def _owner(
    history: list[tuple[float, dict[int, str]]], partition: int, stamp: float, names: dict[str, str]
) -> str:
    """The worker that owned `partition` at the last assignment sample before `stamp` (else the first)."""
    owner = None
    for t, assignment in history:
        if t > stamp and owner is not None:
            break
        if partition in assignment:
            owner = assignment[partition]
    return names.get(owner or "", "unassigned")
