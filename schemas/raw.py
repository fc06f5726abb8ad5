"""A raw record as a shipper saw it: the bytes, whose they are, and where they came from.

Shippers do no parsing, so they stay fast and never lose a line to a parser bug; the normalise
stage parses raw records into ECS events and dead-letters what it cannot parse.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import TenantId, deterministic_id


class RawRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: TenantId = Field(description="From the shipper's configuration or credentials, never the log.")
    source: str = Field(
        description="Shipper and input, e.g. 'file:/var/log/auth.log', 'syslog-udp:0.0.0.0:514'."
    )
    parser: str = Field(description="Name of the registered parser that normalises this record.")
    received_at: datetime
    path: str | None = None
    offset: int | None = Field(default=None, description="Byte offset in the file, when read from a file.")
    line: int | None = None
    peer: str | None = None
    host_hint: str | None = Field(
        default=None, description="Kafka key hint: keeps one host's events in order."
    )
    data: str = Field(
        description="The record's text (bytes that are not UTF-8 are dead-lettered at the shipper)."
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the source, for times its text gives without an offset "
        "(RFC 3164 syslog); None: such times are UTC. Set by the shipper's configuration.",
    )

    def record_id(self) -> str:
        return deterministic_id("raw", self.tenant, self.source, self.path, self.offset, self.line, self.data)


class FileCheckpoint(BaseModel):
    """How far a file tail has shipped one file: written in the same Kafka transaction as the lines.

    `offset` is the byte offset just after the last shipped line of the file with this `inode`.
    """

    model_config = ConfigDict(extra="forbid")

    tenant: TenantId
    source: str
    path: str
    device: int
    inode: int
    offset: int = Field(ge=0)
    line: int = Field(ge=0, description="Lines shipped from this file so far.")
    updated_at: datetime
