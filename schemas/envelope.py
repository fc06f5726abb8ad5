"""The versioned envelope every Kafka message travels in.

Consumers check `kind` and `schema_version` before they trust the payload, so a producer can move to
a new version while old messages are still in the topic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import SCHEMA_VERSION, TenantId, utc_now

PayloadT = TypeVar("PayloadT", bound=BaseModel)

MessageKind = Literal["event", "detection", "dead_letter", "detector_state"]


class Envelope(BaseModel, Generic[PayloadT]):
    model_config = ConfigDict(extra="forbid")

    kind: MessageKind
    schema_version: int = SCHEMA_VERSION
    tenant: TenantId
    id: str = Field(description="Deterministic id of the payload; the idempotency key downstream.")
    produced_at: datetime = Field(default_factory=utc_now)
    payload: PayloadT
