"""JSON Schema export of every message and document, for producers written in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.deadletter import DeadLetter
from schemas.detection import Detection
from schemas.envelope import Envelope
from schemas.event import EcsEvent
from schemas.evidence import EvidenceRecord
from schemas.incident import Incident
from schemas.notice import Notice
from schemas.raw import RawRecord
from schemas.tenant import Tenant

EXPORTED: dict[str, type[BaseModel]] = {
    "raw-record": RawRecord,
    "event": EcsEvent,
    "event-envelope": Envelope[EcsEvent],
    "detection": Detection,
    "detection-envelope": Envelope[Detection],
    "incident": Incident,
    "notice": Notice,
    "evidence-record": EvidenceRecord,
    "dead-letter": DeadLetter,
    "tenant": Tenant,
}


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one `<name>.schema.json` per model; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = directory / f"{name}.schema.json"
        schema = model.model_json_schema(by_alias=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
