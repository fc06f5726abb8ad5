"""The intel configuration file (rules/intel.yaml, or the file SOCPIPE_INTEL_FILE names).

refresh_s: 3600            # re-read every feed this often (0: only at start and on reload)
severity: high             # of intel detections
feeds:
  - name: cert-feed
    url: https://feeds.example/indicators.json   # or path: relative to this file
    format: stix           # stix | misp | csv | text; guessed from the content when left out
    tlp: amber             # for entries that carry no marking of their own
    tenants: [acme]        # a client's own list; left out: applies to every tenant
allow:                     # per tenant: values never reported for it (IPs/CIDRs, domains, ...)
  acme: [203.0.113.7, partner.example]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from detectors.intel.model import Tlp
from schemas.common import Severity, TenantId

Format = Literal["stix", "misp", "csv", "text"]


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    path: Path | None = None
    url: HttpUrl | None = None
    format: Format | None = None
    tlp: Tlp = Tlp.amber
    tenants: list[TenantId] = Field(default_factory=list)
    timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_location(self) -> FeedConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError(f"feed {self.name!r}: give exactly one of path or url")
        return self

    @property
    def location(self) -> str:
        return str(self.url or self.path)


class IntelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_s: float = Field(default=3600.0, ge=0)
    severity: Severity = Severity.high
    feeds: list[FeedConfig] = Field(default_factory=list)
    allow: dict[TenantId, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_names(self) -> IntelConfig:
        names = [f.name for f in self.feeds]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"feed names must be unique: {', '.join(dupes)}")
        return self


def load_config(path: Path) -> IntelConfig:
    """The file's configuration, feed paths made relative to it; ValueError names the file and field."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        config = IntelConfig.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the intel configuration: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from exc
    for feed in config.feeds:
        if feed.path is not None and not feed.path.is_absolute():
            feed.path = path.parent / feed.path
    return config
