"""A message that could not be processed, kept with why and where so it can be fixed and replayed."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from schemas.common import utc_now


class SourcePosition(BaseModel):
    """Where the bad input was: a Kafka position, or a file and line/offset, or a network peer."""

    model_config = ConfigDict(extra="forbid")

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    path: str | None = None
    line: int | None = None
    peer: str | None = None


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str
    stage: str = Field(description="What refused it: 'ingest', 'normalise', 'detector', 'responder'.")
    parser: str | None = None
    source: str | None = Field(default=None, description="The shipper input, as in RawRecord.source.")
    tenant: str | None = Field(default=None, description="Unvalidated: bad input may carry a bad tenant.")
    error_type: str
    position: SourcePosition = Field(default_factory=SourcePosition)
    original: bytes
    failed_at: datetime = Field(default_factory=utc_now)
    replay_topic: str | None = Field(default=None, description="Where `socpipe dlq replay` sends it.")

    @field_serializer("original")
    def _encode_original(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    @field_validator("original", mode="before")
    @classmethod
    def _decode_original(cls, value: object) -> object:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value
