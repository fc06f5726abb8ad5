"""Pydantic models of every message and document socpipe exchanges.

This package imports nothing else of socpipe's: every other layer depends on it, never the reverse.
"""

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
