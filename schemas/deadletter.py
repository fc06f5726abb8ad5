"""A message that could not be processed, kept with why and where so it can be fixed and replayed."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
)

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
    timezone: str | None = Field(
        default=None,
        description="RawRecord.timezone of the refused record (its source's IANA zone), so a replay "
        "reads its local times as the shipper would have; None: no zone was set.",
    )

    @model_serializer(mode="wrap")
    def _omit_unset_timezone(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """Without a zone the letter serialises as before, so older readers (extra=forbid) still read it."""
        data: dict[str, Any] = handler(self)
        if data.get("timezone") is None:
            data.pop("timezone", None)
        return data

    @field_serializer("original")
    def _encode_original(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    @field_validator("original", mode="before")
    @classmethod
    def _decode_original(cls, value: object) -> object:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value
