"""The HTTP receiver's API keys: a YAML file of tenants, their keys (hashed) and what each may do.

tenants:
  acme:
    keys: ["sha256:9f86d08..."]      # sha256 of the key; a key in clear is accepted for development
    parsers: [json, cloudtrail]     # optional: the parsers this tenant's keys may name
    client_certs: ["sha256:ab12..."]  # optional: requests must come with one of these certificates
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.parsers import default_registry
from schemas.common import TenantId
from socpipe.errors import ConfigurationError


class KeyFileError(ConfigurationError, ValueError):
    """The API key file is unreadable or wrong; the message lists every problem with its place."""

    def __init__(self, problems: str) -> None:
        super().__init__(problems, title="invalid API key file (--keys, SOCPIPE_INGEST_HTTP_KEYS)")


class _TenantKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[str] = Field(min_length=1)
    parsers: list[str] | None = None
    # SHA-256 fingerprints (`sha256:<hex>` of the DER) of the client certificates this tenant's keys must
    # come with (mutual TLS); none: the key alone is enough.
    client_certs: list[str] | None = None


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenants: dict[TenantId, _TenantKeys]


@dataclass(frozen=True)
class Grant:
    tenant: str
    parsers: frozenset[str] | None  # None: any registered parser
    client_certs: frozenset[str] | None = None  # None: no client certificate needed


def digest(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, grants: dict[str, Grant]) -> None:
        self._by_digest = grants

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            parsed = _KeyFile.model_validate(doc)
        except (OSError, yaml.YAMLError) as exc:
            raise KeyFileError(f"{path}: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise KeyFileError(f"{path}: {problems}") from None
        return cls.from_config(parsed.tenants, where=str(path))

    @classmethod
    def from_config(cls, tenants: dict[str, Any], where: str = "keys") -> ApiKeys:
        registry = default_registry()
        grants: dict[str, Grant] = {}
        problems: list[str] = []
        for tenant, entry in tenants.items():
            spec = entry if isinstance(entry, _TenantKeys) else _TenantKeys.model_validate(entry)
            unknown = [p for p in spec.parsers or () if p not in registry]
            if unknown:
                problems.append(
                    f"tenants.{tenant}.parsers: unknown {unknown}; registered: {registry.names()}"
                )
            for n, key in enumerate(spec.keys):
                hashed = key if key.startswith("sha256:") else digest(key)
                if hashed in grants:
                    problems.append(
                        f"tenants.{tenant}.keys[{n}]: the same key is already {grants[hashed].tenant}'s"
                    )
                grants[hashed] = Grant(
                    tenant,
                    frozenset(spec.parsers) if spec.parsers else None,
                    frozenset(c.lower() for c in spec.client_certs) if spec.client_certs else None,
                )
        if problems:
            raise KeyFileError(f"{where}: " + "; ".join(problems))
        return cls(grants)

    def lookup(self, key: str) -> Grant | None:
        return self._by_digest.get(digest(key))

    @property
    def needs_client_certs(self) -> bool:
        """Whether some tenant demands a client certificate (the receiver then needs --client-ca)."""
        return any(g.client_certs for g in self._by_digest.values())
