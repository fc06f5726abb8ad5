"""Pydantic models of every message and document socpipe exchanges.

This package imports nothing else of socpipe's: every other layer depends on it, never the reverse.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.common import SCHEMA_VERSION, TenantId
    from schemas.deadletter import DeadLetter, SourcePosition
    from schemas.detection import Detection, DetectionKind, EventRef, RuleRef
    from schemas.envelope import Envelope
    from schemas.event import EcsEvent
    from schemas.evidence import EvidenceRecord, EvidenceType
    from schemas.incident import Incident, IncidentStatus, Verdict
    from schemas.notice import Notice, NoticeStatus
    from schemas.raw import RawRecord
    from schemas.tenant import Tenant
    from schemas.topics import Topics

# Each name's module, imported on first use (PEP 562): importing the package must not build every
# model's schema (about 0.1 s), since a command that needs one model (`socpipe scan` needs Detection)
# would pay for all of them at start-up (benchmarks/engine-results.md, session 9).
_MODULE_OF = {
    "SCHEMA_VERSION": "schemas.common",
    "TenantId": "schemas.common",
    "DeadLetter": "schemas.deadletter",
    "SourcePosition": "schemas.deadletter",
    "Detection": "schemas.detection",
    "DetectionKind": "schemas.detection",
    "EventRef": "schemas.detection",
    "RuleRef": "schemas.detection",
    "Envelope": "schemas.envelope",
    "EcsEvent": "schemas.event",
    "EvidenceRecord": "schemas.evidence",
    "EvidenceType": "schemas.evidence",
    "Incident": "schemas.incident",
    "IncidentStatus": "schemas.incident",
    "Verdict": "schemas.incident",
    "Notice": "schemas.notice",
    "NoticeStatus": "schemas.notice",
    "RawRecord": "schemas.raw",
    "Tenant": "schemas.tenant",
    "Topics": "schemas.topics",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'schemas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "SCHEMA_VERSION",
    "DeadLetter",
    "Detection",
    "DetectionKind",
    "EcsEvent",
    "Envelope",
    "EventRef",
    "EvidenceRecord",
    "EvidenceType",
    "Incident",
    "IncidentStatus",
    "Notice",
    "NoticeStatus",
    "RawRecord",
    "RuleRef",
    "SourcePosition",
    "Tenant",
    "TenantId",
    "Topics",
    "Verdict",
]
