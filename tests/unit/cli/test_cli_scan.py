"""`socpipe scan`: rules over flat and nested event files, jsonl output, strict load."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from schemas.detection import Detection

RULE = """title: whoami
id: 5f1e0c7e-0000-4000-8000-000000000001
author: tester
level: medium
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\\\whoami.exe'
  condition: sel
"""
FLAT = {
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "EventID": 1,
    "Image": "C:\\\\Windows\\\\whoami.exe",
}
NESTED = {
    "Event": {
        "System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1},
        "EventData": {"Image": "C:\\\\Windows\\\\whoami.exe"},
    }
}


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(FLAT) + "\n" + "not json\n" + json.dumps(NESTED) + "\n")
    return rules, events


def test_scan_jsonl_reports_each_detection_with_rule_id_and_position(tmp_path: Path) -> None:
    """--format jsonl prints one object per detection with rule.id and the event's path and line."""
    rules, events = _setup(tmp_path)
    result = CliRunner().invoke(cli, ["scan", "--rules", str(rules), "--format", "jsonl", str(events)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [d["rule"]["id"] for d in lines] == ["5f1e0c7e-0000-4000-8000-000000000001"] * 2
    assert [d["event_ref"]["line"] for d in lines] == [1, 3]  # flat and nested both detected
    assert lines[0]["rule"]["author"] == "tester" and "attack.t1033" in lines[0]["rule"]["tags"]
    for line in lines:  # one row shape for every kind: the Detection the workers publish
        assert Detection.model_validate(line).kind == "sigma" and line["tenant"] == "scan"
    assert "not JSON" in result.stderr  # the bad line is reported with its position


def test_scan_strict_refuses_broken_rules(tmp_path: Path) -> None:
    """--strict exits non-zero and lists the rule that failed."""
    rules, events = _setup(tmp_path)
    (rules / "bad.yml").write_text(RULE.replace("sel\n", "nothere\n").replace("0001", "0002"))
    result = CliRunner().invoke(cli, ["scan", "--strict", "--rules", str(rules), str(events)])
    assert result.exit_code == 2
    assert "bad.yml" in result.stderr


CORRELATIONS = """title: whoami three times
id: 5f1e0c7e-0000-4000-8000-0000000000c1
level: high
tags: [attack.discovery]
correlation:
  type: event_count
  rules: [5f1e0c7e-0000-4000-8000-000000000001]
  group-by: [Computer]
  timespan: 5m
  condition: {gte: 3}
---
title: whoami at most once
id: 5f1e0c7e-0000-4000-8000-0000000000c2
level: low
correlation:
  type: event_count
  rules: [5f1e0c7e-0000-4000-8000-000000000001]
  group-by: [Computer]
  timespan: 5m
  condition: {lt: 2}
  generate: true
"""


def test_scan_runs_correlations_and_honours_generate(tmp_path: Path) -> None:
    """The scan feeds matches to the correlations at each event's time: three whoamis on one host within
    5 minutes fire the first correlation, one on another host fires the 'fewer than' one when the input
    ends. The base rule alerts on its own too, since one correlation says `generate: true`."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    (rules / "c.yml").write_text(CORRELATIONS)
    events = tmp_path / "events.jsonl"
    times = [
        ("WS-1", "2026-11-30T10:00:00Z"),
        ("WS-1", "2026-11-30T10:01:00Z"),
        ("WS-2", "2026-11-30T10:01:30Z"),
    ]
    times.append(("WS-1", "2026-11-30T10:02:00Z"))
    events.write_text("".join(json.dumps({**FLAT, "Computer": h, "UtcTime": t}) + "\n" for h, t in times))
    result = CliRunner().invoke(cli, ["scan", "--rules", str(rules), "--format", "jsonl", str(events)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    fired = [
        (r["rule"]["id"][-2:], r["matched"]["group"]["Computer"]) for r in rows if r["kind"] == "correlation"
    ]
    assert fired == [("c1", "WS-1"), ("c2", "WS-2")]
    assert sum(1 for r in rows if r["kind"] == "sigma") == 4  # the base rule's own rows
    three = rows[[r["kind"] for r in rows].index("correlation")]
    assert three["matched"]["value"] == 3 and three["event_ref"]["line"] == 4


def test_scan_keeps_base_rules_quiet_under_generate_false(tmp_path: Path) -> None:
    """With only the `generate: false` correlation, the base rule's matches are not printed."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    (rules / "c.yml").write_text(CORRELATIONS.split("---", maxsplit=1)[0])
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({**FLAT, "Computer": "WS-1", "UtcTime": "2026-11-30T10:00:00Z"}) + "\n")
    result = CliRunner().invoke(cli, ["scan", "--rules", str(rules), "--format", "jsonl", str(events)])
    assert result.exit_code == 0, result.output
    assert [x for x in result.stdout.splitlines() if x.startswith("{")] == []
    assert "1 only feeding correlations" in result.stderr


def test_scan_reads_winlogbeat_events(tmp_path: Path) -> None:
    """A Winlogbeat / Elastic Agent event is flattened to the original names like a nested one; a
    malformed one is reported with its position."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    beat = {
        "@timestamp": "2026-11-30T10:00:00Z",
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": "1",
            "computer_name": "WS-1",
            "event_data": {"Image": "C:\\Windows\\whoami.exe"},
        },
    }
    broken = {"winlog": {"channel": "Security", "event_id": {"not": "a number"}}}
    events = tmp_path / "beats.jsonl"
    events.write_text(json.dumps(beat) + "\n" + json.dumps(broken) + "\n")
    result = CliRunner().invoke(cli, ["scan", "--rules", str(rules), "--format", "jsonl", str(events)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [(r["rule"]["id"], r["event_ref"]["line"]) for r in rows] == [
        ("5f1e0c7e-0000-4000-8000-000000000001", 1)
    ]
    assert f"{events}:2:" in result.stderr


def test_scan_matches_intel_feeds_offline(tmp_path: Path) -> None:
    """`scan --intel LIST`: an event contacting a listed address is an intel Detection; a feed that does
    not load stops the scan with exit 2 naming it."""
    feed = tmp_path / "bad-ips.txt"
    feed.write_text("203.0.113.77\n")
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "EventID": 3,
                "Computer": "ws1",
                "DestinationIp": "203.0.113.77",
                "UtcTime": "2026-11-30 08:00:00",
            }
        )
        + "\n"
        + json.dumps(
            {
                "EventID": 3,
                "Computer": "ws1",
                "DestinationIp": "198.51.100.1",
                "UtcTime": "2026-11-30 08:00:01",
            }
        )
        + "\n"
    )
    args = ["scan", "--no-heuristics", "--format", "jsonl", "--intel", str(feed), str(events)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = [Detection.model_validate_json(x) for x in result.stdout.splitlines() if x.startswith("{")]
    intel = [d for d in rows if d.kind == "intel"]
    assert [d.event_ref.line for d in intel] == [1]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = CliRunner().invoke(cli, ["scan", "--intel", str(broken), str(events)])
    assert result.exit_code == 2 and "broken.json" in result.output


def test_scan_flattens_nested_ecs_as_the_json_parser_does(tmp_path: Path) -> None:
    """ECS as Elasticsearch stores it is nested; scan reads it under the dotted names the pipeline's
    json parser gives it, so an intel feed and a rule on `destination.ip` both see the address."""
    feed = tmp_path / "bad-ips.txt"
    feed.write_text("203.0.113.77\n")
    rule = tmp_path / "rules" / "dest.yml"
    rule.parent.mkdir()
    rule.write_text(
        "title: dest\nid: 5f1e0c7e-0000-4000-8000-000000000009\nlevel: low\n"
        "logsource: {category: network_connection}\n"
        "detection:\n  sel:\n    destination.ip: 203.0.113.77\n  condition: sel\n"
    )
    event = {
        "@timestamp": "2026-11-30T08:00:00Z",
        "destination": {"ip": "203.0.113.77", "port": 443},
        "dns": {"question": {"name": "x.example"}},
    }
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(event) + "\n")
    args = ["scan", "--no-heuristics", "--format", "jsonl", "--rules", str(rule.parent), "--intel", str(feed)]
    result = CliRunner().invoke(cli, [*args, str(events)])
    assert result.exit_code == 0, result.output
    rows = [Detection.model_validate_json(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert sorted(d.kind for d in rows) == ["intel", "sigma"]
    assert {d.rule.title for d in rows if d.kind == "sigma"} == {"dest"}
