"""`socpipe scan`: rules over flat and nested event files, jsonl output, strict load."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from socpipe.cli.main import cli

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
    assert lines[0]["rule"]["author"] == "tester" and "attack.t1033" in lines[0]["tags"]
    assert "not JSON" in result.stderr  # the bad line is reported with its position


def test_scan_strict_refuses_broken_rules(tmp_path: Path) -> None:
    """--strict exits non-zero and lists the rule that failed."""
    rules, events = _setup(tmp_path)
    (rules / "bad.yml").write_text(RULE.replace("sel\n", "nothere\n").replace("0001", "0002"))
    result = CliRunner().invoke(cli, ["scan", "--strict", "--rules", str(rules), str(events)])
    assert result.exit_code == 2
    assert "bad.yml" in result.stderr
