"""Sigma correlations split as production runs them: the stateless detector computes each match's
group-by values, the stateful stage holds the windows per partition of the repartition topic. Any
number of partitions finds what one process finds, chained correlations included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka.partitioner.default import murmur2

from detectors.detector import ComponentFactory, Detector, OfflineDetector, apply
from detectors.sigma.engine import Engine
from detectors.sigma.loader import load_rules
from schemas.detection import Detection, EventRef

BASE = """\
title: Tool Alpha
id: 5a1e0000-0000-4000-8000-00000000010a
status: test
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: alpha.exe}
  condition: sel
level: high
"""
BURST = """\
title: Alpha Three Times On One Host
id: 5a1e0000-0000-4000-8000-0000000001c0
status: test
correlation:
  type: event_count
  rules: [5a1e0000-0000-4000-8000-00000000010a]
  group-by: [Computer]
  timespan: 30m
  condition: {gte: 3}
level: high
"""
USERS = """\
title: Alpha By Many Users On One Host
id: 5a1e0000-0000-4000-8000-0000000001c1
status: test
correlation:
  type: value_count
  rules: [5a1e0000-0000-4000-8000-00000000010a]
  group-by: [Computer]
  timespan: 30m
  condition: {field: User, gte: 2}
  generate: true
level: high
"""
TWICE = """\
title: Alpha Bursts On Two Hosts
id: 5a1e0000-0000-4000-8000-0000000001c9
status: test
correlation:
  type: event_count
  rules: [5a1e0000-0000-4000-8000-0000000001c0]
  timespan: 2h
  condition: {gte: 2}
level: critical
"""
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _events() -> list[tuple[datetime, dict[str, Any]]]:
    """12 hosts; every third bursts alpha three times, every fourth runs it as two users; noise between."""
    out = []
    for minute in range(60):
        host = f"WS-{minute % 12:02d}"
        n = minute % 12
        command = (
            "alpha.exe" if (n % 3 == 0 and minute < 36) or (n % 4 == 1 and minute < 30) else "notepad.exe"
        )
        out.append(
            (
                T0 + timedelta(minutes=minute),
                {
                    "EventID": 1,
                    "Channel": "Microsoft-Windows-Sysmon/Operational",
                    "Computer": host,
                    "User": f"ACME\\user{(minute // 12) % 2}",
                    "Image": "C:\\x.exe",
                    "CommandLine": command,
                },
            )
        )
    return out


def test_any_partitioning_finds_what_one_process_finds(tmp_path: Path) -> None:
    """Same correlation detections (ids, groups, values) on 1, 3 and 6 partitions as in one process;
    the chain (a correlation over a correlation) lives on one partition and still fires."""
    for name, text in {"base": BASE, "burst": BURST, "users": USERS, "twice": TWICE}.items():
        (tmp_path / f"{name}.yml").write_text(text)
    engine = Engine(load_rules([tmp_path], strict=True), strict=True)

    def one_process() -> list[Detection]:
        detector = OfflineDetector.build(engine, None)
        found: list[Detection] = []
        for i, (ts, event) in enumerate(_events()):
            found += detector.detect(event, tenant="acme", time=ts, ref=EventRef(event_id=f"e{i}"))
        return found

    def split(partitions: int) -> list[Detection]:
        detector = Detector(engine, None)
        states = [ComponentFactory(engine.ruleset, None)() for _ in range(partitions)]
        found: list[Detection] = []
        for i, (ts, event) in enumerate(_events()):
            sigma, contributions = detector.detect(
                event, tenant="acme", time=ts, ref=EventRef(event_id=f"e{i}")
            )
            found += sigma
            for c in contributions:
                found += apply(states[(murmur2(c.partition_key()) & 0x7FFFFFFF) % partitions], c)
        return found

    def view(found: list[Detection]) -> list[tuple[str, str, str]]:
        return sorted((d.id, d.rule.title, str(d.matched)) for d in found if d.kind == "correlation")

    expected = view(one_process())
    titles = {title for _, title, _ in expected}
    assert titles == {"Alpha By Many Users On One Host", "Alpha Bursts On Two Hosts"}, expected
    for partitions in (1, 3, 6):
        assert view(split(partitions)) == expected, partitions
