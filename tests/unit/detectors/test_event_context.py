"""The event a detection carries: whole when it fits, cut to its triage fields (marked) when not, and
carried by Sigma and correlation detections (heuristics: heuristics/test_heuristic_event_context.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from test_reload import BASE, CORRELATION, batch, detections, make_stage

from detectors.event_context import MAX_EVENT_BYTES, TRUNCATED, bounded, ecs_event, from_flat
from schemas.event import EcsEvent


def _event(**extra: Any) -> dict[str, Any]:
    return ecs_event(
        EcsEvent.model_validate(
            {
                "@timestamp": datetime(2026, 5, 4, 10, 0, tzinfo=UTC),
                "tenant": "acme",
                "event": {"kind": "event", "code": "4688", "original": "raw line " * 8},
                "host": {"name": "WS-1"},
                "user": {"name": "alice", "domain": "ACME"},
                "process": {
                    "name": "powershell.exe",
                    "command_line": "powershell -enc AAAA",
                    "parent": {"name": "winword.exe", "command_line": "winword.exe doc.docx"},
                },
                "source": {"ip": "192.0.2.10", "port": 50000},
                "destination": {"ip": "198.51.100.7", "port": 443},
                "winlog": {"event_id": "4688", "channel": "Security"},
                "ingest": {"source": "test", "parser": "windows", "received_at": "2026-05-04T00:00:00Z"},
                **extra,
            }
        )
    )


def _size(doc: dict[str, Any]) -> int:
    return len(orjson.dumps(doc))


def test_an_event_that_fits_is_kept_whole_and_unmarked() -> None:
    event = _event(original={"EventID": 4688, "NewProcessName": "C:\\x.exe"})
    assert bounded(event) == event
    assert TRUNCATED not in bounded(event)


def test_a_large_event_keeps_its_triage_fields_and_is_marked() -> None:
    """A 40 KiB raw line and a bulky source field: the host, user, process and parent with their command
    lines, source, destination, event.* (without the raw line) and winlog.event_id stay; the rest goes."""
    event = _event(
        event={"kind": "event", "code": "4688", "original": "x" * 40_000},
        original={"EventID": 4688, "ScriptBlockText": "y" * 30_000},
    )
    cut = bounded(event)
    assert cut[TRUNCATED] is True
    assert _size(cut) <= MAX_EVENT_BYTES
    assert cut["host"] == {"name": "WS-1"} and cut["user"]["name"] == "alice"
    assert cut["process"]["parent"]["command_line"] == "winword.exe doc.docx"
    assert cut["process"]["command_line"] == "powershell -enc AAAA"
    assert cut["source"]["ip"] == "192.0.2.10" and cut["destination"]["port"] == 443
    assert cut["event"] == {"kind": "event", "code": "4688"}
    assert cut["winlog"] == {"event_id": "4688"}
    assert cut["original"] == {"EventID": 4688}
    assert "original" not in cut["event"] and "ScriptBlockText" not in str(cut)
    assert event["event"]["original"] == "x" * 40_000, "the input is not changed"


def test_a_kept_field_too_long_for_the_bound_is_shortened() -> None:
    """A 100 KiB command line (a kept field) is cut until the event fits, its start kept."""
    event = _event(process={"name": "cmd.exe", "command_line": "cmd /c " + "z" * 100_000})
    cut = bounded(event)
    assert _size(cut) <= MAX_EVENT_BYTES and cut[TRUNCATED] is True
    assert cut["process"]["command_line"].startswith("cmd /c zzz")
    assert cut["process"]["command_line"].endswith("...[truncated]")


def test_a_flat_event_nests_again_with_the_sources_names_under_original() -> None:
    event = EcsEvent.model_validate(
        {
            "@timestamp": "2026-05-04T10:00:00Z",
            "tenant": "acme",
            "host": {"name": "WS-1"},
            "process": {"parent": {"name": "winword.exe"}},
            "ingest": {"source": "t", "parser": "windows", "received_at": "2026-05-04T10:00:00Z"},
            "original": {"EventID": 1, "CommandLine": "whoami", "winlog.event_id": 1},
        }
    )
    nested = from_flat(event.flat())
    assert nested["host"] == {"name": "WS-1"}
    assert nested["process"] == {"parent": {"name": "winword.exe"}}
    assert nested["original"] == {"EventID": 1, "CommandLine": "whoami", "winlog.event_id": 1}


def test_sigma_and_correlation_detections_carry_their_event(tmp_path: Path) -> None:
    """Through the detector and correlate stages: the base rule's detections carry their own event;
    the correlation's carries the event that completed its window, and names all three by id."""
    (tmp_path / "base.yml").write_text(BASE)
    (tmp_path / "corr.yml").write_text(CORRELATION)
    stage, _ = make_stage(tmp_path)
    records = batch(0, "alpha.exe 1", "alpha.exe 2", "alpha.exe 3")
    found = detections(stage, records)
    sigma = sorted((d for d in found if d.kind == "sigma"), key=lambda d: d.event_time)
    (correlation,) = [d for d in found if d.kind == "correlation"]
    assert [d.event and d.event["original"]["CommandLine"] for d in sigma] == [
        "alpha.exe 1",
        "alpha.exe 2",
        "alpha.exe 3",
    ]
    assert sigma[0].event is not None and sigma[0].event["host"] == {"name": "WS-1"}
    assert correlation.event is not None and correlation.event["original"]["CommandLine"] == "alpha.exe 3"
    assert correlation.related is not None and correlation.related.count == 3
    assert correlation.related.event_ids == [d.event_ref.event_id for d in sigma]
