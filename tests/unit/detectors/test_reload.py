"""Rule hot reload: a valid new rule set is swapped in between batches with the open correlation
windows carried over; an invalid one is refused whole, every problem logged, the old rules kept."""

from __future__ import annotations

import signal
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from split_helpers import Reloaders, Split, split_for_rules
from structlog.testing import capture_logs

from detectors.build import build_detector_stage, build_engine
from detectors.reload import RuleReloader, fingerprint
from detectors.worker import DetectionEnvelope, DetectorStage
from schemas import EcsEvent, Envelope
from schemas.detection import Detection
from socpipe.bus import Inbound
from socpipe.settings import Settings, load_settings

BASE = """\
title: Suspicious Tool Alpha
id: 5a1e0000-0000-4000-8000-00000000000a
status: test
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: alpha.exe}
  condition: sel
level: high
"""
CORRELATION = """\
title: Alpha Three Times On One Host
id: 5a1e0000-0000-4000-8000-0000000000c0
status: test
correlation:
  type: event_count
  rules: [5a1e0000-0000-4000-8000-00000000000a]
  group-by: [Computer]
  timespan: 10m
  condition: {gte: 3}
  generate: true  # the base rule alerts on its own too (Sigma's default is false)
level: critical
"""
NEW = BASE.replace("Alpha", "Beta").replace("alpha.exe", "beta.exe").replace("00000000000a", "00000000000b")
BROKEN = NEW.replace("CommandLine|contains", "CommandLine|nosuchmodifier").replace("0000b", "0000d")
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def make_stage(
    rules: Path, *, poll_s: float | None = None, clock: list[float] | None = None
) -> tuple[Split, Reloaders]:
    """The detector and correlate stages on `rules`, each with its reloader (tests/.../split_helpers.py)."""
    return split_for_rules(rules, poll_s=poll_s, clock=clock)


def batch(start: int, *commands: str) -> list[Inbound]:
    out = []
    for i, command in enumerate(commands):
        event = EcsEvent.model_validate(
            {
                "@timestamp": T0 + timedelta(minutes=start + i),
                "tenant": "acme",
                "host": {"name": "WS-1"},
                "ingest": {"source": "test", "parser": "windows", "received_at": T0},
                "original": {
                    "EventID": 1,
                    "Channel": "Microsoft-Windows-Sysmon/Operational",
                    "Computer": "WS-1",
                    "Image": "C:\\\\x.exe",
                    "CommandLine": command,
                },
            }
        )
        envelope = Envelope[EcsEvent](kind="event", tenant="acme", id=event.event_id(), payload=event)
        out.append(Inbound("events.ecs", 0, start + i, envelope.model_dump_json(by_alias=True).encode()))
    return out


def detections(stage: DetectorStage | Split, records: list[Inbound]) -> list[Detection]:
    out = stage.process(records)
    return [
        DetectionEnvelope.model_validate_json(m.value).payload
        for m in out.messages
        if m.topic == stage.topics.detections
    ]


def titles(found: list[Detection]) -> list[str]:
    return sorted(d.rule.title for d in found)


def test_a_good_rule_set_is_swapped_in_and_open_windows_carry_on(tmp_path: Path) -> None:
    """After a reload request the next batch runs the new rules (a new rule fires), and the correlation
    window opened under the old rules still counts: two alphas before, one after, fire once."""
    (tmp_path / "base.yml").write_text(BASE)
    (tmp_path / "corr.yml").write_text(CORRELATION)
    stage, reloader = make_stage(tmp_path)
    before = detections(stage, batch(0, "alpha.exe", "alpha.exe", "beta.exe"))
    assert titles(before) == ["Suspicious Tool Alpha"] * 2

    (tmp_path / "new.yml").write_text(NEW)
    reloader.request()
    found = detections(stage, batch(3, "alpha.exe", "beta.exe"))
    assert titles(found) == ["Alpha Three Times On One Host", "Suspicious Tool Alpha", "Suspicious Tool Beta"]
    (correlation,) = [d for d in found if d.kind == "correlation"]
    assert correlation.matched["value"] == 3
    assert (reloader.reloads, reloader.refused) == (1, 0)
    assert reloader.take() is None  # taken once


def test_a_bad_rule_set_is_refused_whole_and_every_problem_logged(tmp_path: Path) -> None:
    """A new rule set with one broken rule is not loaded at all (not even its good new rule): the old
    rules keep running, and the log names the broken file and rule id."""
    (tmp_path / "base.yml").write_text(BASE)
    stage, reloader = make_stage(tmp_path)
    (tmp_path / "new.yml").write_text(NEW)
    (tmp_path / "broken.yml").write_text(BROKEN)
    reloader.request()
    with capture_logs() as logs:
        found = detections(stage, batch(0, "alpha.exe", "beta.exe"))
    assert titles(found) == ["Suspicious Tool Alpha"]
    assert (reloader.reloads, reloader.refused) == (0, 1)
    problems = [e for e in logs if e["event"] == "rule reload refused"]
    # Each worker (detector, correlate) refuses the reload on its own and logs it.
    assert sorted({(p["path"], p["rule_id"]) for p in problems}) == [
        (str(tmp_path / "broken.yml"), "5a1e0000-0000-4000-8000-00000000000d")
    ]
    assert "nosuchmodifier" in problems[0]["reason"]


def test_a_changed_rule_file_is_picked_up_by_polling(tmp_path: Path) -> None:
    """With polling on, a new rule file triggers a reload once the poll interval has passed, and an
    unchanged folder triggers none."""
    (tmp_path / "base.yml").write_text(BASE)
    clock = [0.0]
    stage, reloader = make_stage(tmp_path, poll_s=5.0, clock=clock)
    clock[0] = 10.0
    detections(stage, batch(0, "alpha.exe"))
    assert reloader.reloads == 0
    (tmp_path / "new.yml").write_text(NEW)
    clock[0] = 12.0  # before the next poll is due
    assert titles(detections(stage, batch(1, "beta.exe"))) == []
    clock[0] = 15.0
    assert titles(detections(stage, batch(2, "beta.exe"))) == ["Suspicious Tool Beta"]
    assert reloader.reloads == 1


def test_fingerprint_sees_size_time_and_missing_paths(tmp_path: Path) -> None:
    """The poll's fingerprint changes when a rule file is added or edited, and names a missing path."""
    (tmp_path / "a.yml").write_text(BASE)
    before = fingerprint([tmp_path, tmp_path / "absent.yaml"])
    assert before is not None and before[-1] == (str(tmp_path / "absent.yaml"), -1, -1)
    (tmp_path / "a.yml").write_text(BASE + "\n")
    assert fingerprint([tmp_path, tmp_path / "absent.yaml"]) != before


def test_sighup_requests_a_reload(tmp_path: Path) -> None:
    """The built stage reloads on SIGHUP: the signal only sets a flag, the swap waits for a batch. The
    replaced rules are freed at the swap although the loaded rules are frozen (socpipe/heap.py)."""
    (tmp_path / "base.yml").write_text(BASE)
    settings = load_settings(rules_dirs=[tmp_path])
    previous = signal.getsignal(signal.SIGHUP)
    try:
        stage = build_detector_stage(settings, reload_on_sighup=True)
        assert isinstance(stage.rules, RuleReloader)
        old = weakref.ref(stage.detector.engine.rules[0].load_source)  # held by a rule in a cycle
        reloader = stage.rules
        signal.raise_signal(signal.SIGHUP)
        (tmp_path / "new.yml").write_text(NEW)
        assert titles(detections(stage, batch(0, "beta.exe"))) == ["Suspicious Tool Beta"]
        assert reloader.reloads == 1
        assert old() is None
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_poll_interval_must_be_positive() -> None:
    """A zero or negative poll interval is a configuration error at start."""
    with pytest.raises(ValueError, match="positive"):
        RuleReloader(lambda: build_engine(Settings()), list, poll_s=0)


def test_a_correlation_the_engine_cannot_run_refuses_the_reload(tmp_path: Path) -> None:
    """Validation covers the correlations too: two correlations chained on each other (a cycle: neither
    can ever be fed) refuse the reload instead of being left out silently."""
    (tmp_path / "base.yml").write_text(BASE)
    (tmp_path / "corr.yml").write_text(CORRELATION)
    stage, reloader = make_stage(tmp_path)
    first = CORRELATION.replace("0000000000c0", "0000000000c1").replace(
        "rules: [5a1e0000-0000-4000-8000-00000000000a]", "rules: [5a1e0000-0000-4000-8000-0000000000c2]"
    )
    second = first.replace("0000000000c1", "0000000000c2").replace("0000000000c2]", "0000000000c1]")
    (tmp_path / "cycle1.yml").write_text(first)
    (tmp_path / "cycle2.yml").write_text(second)
    reloader.request()
    with capture_logs() as logs:
        detections(stage, batch(0, "alpha.exe"))
    assert (reloader.reloads, reloader.refused) == (0, 1)
    problems = sorted(
        {(e["rule_id"], e["path"], e["reason"]) for e in logs if e["event"] == "rule reload refused"}
    )
    assert problems == [
        ("5a1e0000-0000-4000-8000-0000000000c1", str(tmp_path / "cycle1.yml"), CYCLE),
        ("5a1e0000-0000-4000-8000-0000000000c2", str(tmp_path / "cycle2.yml"), CYCLE),
    ]


CYCLE = "chained correlations reference each other in a cycle"


def test_sighup_also_refreshes_the_intel_feeds(tmp_path: Path) -> None:
    """One SIGHUP reloads the rules and fetches the intel feeds again: an address added to a feed
    matches from the next batch, without waiting for the feeds' schedule (here: none)."""
    feed = tmp_path / "feed.txt"
    feed.write_text("198.51.100.1\n")
    intel = tmp_path / "intel.yaml"
    intel.write_text(f"refresh_s: 0\nfeeds:\n  - name: f\n    path: {feed}\n")
    (tmp_path / "rules").mkdir()
    settings = load_settings(rules_dirs=[tmp_path / "rules"], intel_file=intel)
    event = EcsEvent.model_validate(
        {
            "@timestamp": T0,
            "tenant": "acme",
            "host": {"name": "WS-1"},
            "destination": {"ip": "198.51.100.9"},
            "ingest": {"source": "test", "parser": "json", "received_at": T0},
            "original": {},
        }
    )
    envelope = Envelope[EcsEvent](kind="event", tenant="acme", id=event.event_id(), payload=event)
    records = [Inbound("events.ecs", 0, 0, envelope.model_dump_json(by_alias=True).encode())]
    previous = signal.getsignal(signal.SIGHUP)
    try:
        stage = build_detector_stage(settings, reload_on_sighup=True)
        assert detections(stage, records) == []
        feed.write_text("198.51.100.1\n198.51.100.9\n")
        signal.raise_signal(signal.SIGHUP)
        found = detections(stage, records)
        assert [(str(d.kind), d.matched["field"], d.matched["value"]) for d in found] == [
            ("intel", "destination.ip", "198.51.100.9")
        ]
    finally:
        signal.signal(signal.SIGHUP, previous)
