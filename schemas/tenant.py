"""A client organisation: who it is and how it wants to hear about its incidents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Severity, TenantId


class NoticeRoute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "webhook"]
    destination: str = Field(description="An email address or an https:// URL.")
    min_severity: Severity = Severity.high


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: TenantId
    name: str
    routes: list[NoticeRoute] = Field(default_factory=list)
    sensitive_fields: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
