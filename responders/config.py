"""The responders' configuration files: tenants, incident grouping and the control map (in `rules/`).

Each is validated whole when the responder starts; every problem is reported with its file and key
path, all at once, so a bad file stops the program before it touches a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from responders.notices.channels import CHANNELS
from schemas.durations import parse_timedelta
from schemas.evidence import EvidenceType
from schemas.sla import ServiceLevels
from schemas.tenant import NoticeRoute, Provider, Tenant
from socpipe.errors import ConfigurationError, Problem
from socpipe.paths import rules_dir
from socpipe.registry import UnknownNameError
from socpipe.settings import Settings

GroupKey = Literal["rule", "host", "user", "source_ip"]


class ConfigError(ConfigurationError):
    """One or more configuration files are wrong; the message lists every problem with its location."""

    def __init__(
        self, problems: Sequence[Problem | str] | str, *, title: str = "invalid responder configuration"
    ) -> None:
        super().__init__(problems, title=title)


# The one duration grammar (schemas/durations.py), under the name callers import from here.
parse_duration = parse_timedelta


class GroupingOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[GroupKey] | None = None
    window: timedelta | None = None
    max_detections: int | None = Field(default=None, ge=1, le=100_000)

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else parse_duration(value)

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: list[GroupKey] | None) -> list[GroupKey] | None:
        if value is not None and not value:
            raise ValueError("at least one grouping key")
        return None if value is None else sorted(set(value), key=["rule", "host", "user", "source_ip"].index)


class TenantGrouping(GroupingOverride):
    rules: dict[str, GroupingOverride] = Field(default_factory=dict)


class Grouping(BaseModel):
    """What a detection is grouped by, resolved for one tenant and rule."""

    model_config = ConfigDict(frozen=True)

    keys: tuple[GroupKey, ...]
    window: timedelta
    max_detections: int


class GroupingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: GroupingOverride = Field(default_factory=GroupingOverride)
    rules: dict[str, GroupingOverride] = Field(default_factory=dict)
    tenants: dict[str, TenantGrouping] = Field(default_factory=dict)

    def resolve(self, tenant: str, rule_id: str) -> Grouping:
        """Most specific first: tenant+rule, rule, tenant, default."""
        layers: list[GroupingOverride] = []
        tenant_cfg = self.tenants.get(tenant)
        if tenant_cfg and rule_id in tenant_cfg.rules:
            layers.append(tenant_cfg.rules[rule_id])
        if rule_id in self.rules:
            layers.append(self.rules[rule_id])
        if tenant_cfg:
            layers.append(tenant_cfg)
        layers.append(self.default)

        def first(name: str, fallback: Any) -> Any:
            for layer in layers:
                value = getattr(layer, name)
                if value is not None:
                    return value
            return fallback

        return Grouping(
            keys=tuple(first("keys", ["rule", "host", "user", "source_ip"])),
            window=first("window", timedelta(hours=1)),
            max_detections=first("max_detections", 1000),
        )


class ControlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frameworks: dict[str, str]
    controls: dict[str, str]
    records: dict[EvidenceType, list[str]]
    personal_data: list[str] = Field(default_factory=list)

    def check(self) -> list[str]:
        problems = []
        for control in self.controls:
            framework = control.split(":", 1)[0]
            if ":" not in control or framework not in self.frameworks:
                problems.append(f"controls.{control}: framework {framework!r} is not under frameworks")
        for record_type, controls in [*self.records.items(), ("personal_data", self.personal_data)]:
            problems += [
                f"records.{record_type}: control {c!r} is not under controls"
                for c in controls
                if c not in self.controls
            ]
        problems += [f"records: no controls for {t.value}" for t in EvidenceType if t not in self.records]
        return problems

    def for_record(self, record_type: EvidenceType, *, personal_data: bool = False) -> list[str]:
        controls = list(self.records.get(record_type, []))
        if personal_data:
            controls += [c for c in self.personal_data if c not in controls]
        return controls


class TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider = Field(default_factory=Provider)
    service_levels: ServiceLevels = Field(
        default_factory=ServiceLevels, description="The provider's default; a tenant overrides it."
    )
    tenants: list[Tenant] = Field(default_factory=list)


@dataclass
class ResponderConfig:
    tenants: dict[str, Tenant]
    grouping: GroupingConfig
    controls: ControlsConfig
    sources: dict[str, Path] = field(default_factory=dict)
    provider: Provider = field(default_factory=Provider)
    service_levels: ServiceLevels = field(default_factory=ServiceLevels)

    def levels(self, tenant_id: str) -> ServiceLevels:
        """The tenant's service levels: the provider's default with the tenant's own overrides."""
        return self.service_levels.merged(self.tenant(tenant_id).service_levels)

    def tenant(self, tenant_id: str) -> Tenant:
        """A configured tenant, or a default one (no routes) for a tenant nobody configured yet."""
        return self.tenants.get(tenant_id) or Tenant(id=tenant_id, name=tenant_id)

    def route_secret(self, tenant_id: str, route: NoticeRoute) -> str | None:
        """The route's secret (its channel says whether it has one); ConfigError when it is unset."""
        kind = CHANNELS.get(route.channel)
        missing = kind.missing_secret(route)
        if missing:
            raise ConfigError(f"tenant {tenant_id}: {route.channel} secret variable {missing} is not set")
        return kind.secret(route)


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror}")
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML: {exc}")
    return None


def _validate(model: type[BaseModel], data: Any, path: Path, problems: list[str]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(root)"
            problems.append(f"{path}: {where}: {error['msg']}")
    return None


def tenants_path(settings: Settings | None, rules: Path | None = None) -> Path:
    if settings and settings.tenants_file:
        return settings.tenants_file
    return (rules or rules_dir()) / "tenants.yaml"


def _tenants_file(raw: Any, path: Path, problems: list[str]) -> TenantsFile | None:
    """The tenants file validated; every problem (with its key path) added to `problems`."""
    tenants_file: TenantsFile | None = _validate(TenantsFile, raw, path, problems) if raw else None
    seen: set[str] = set()
    for i, tenant in enumerate(tenants_file.tenants if tenants_file else []):
        if tenant.id in seen:
            problems.append(f"{path}: tenants.{i}: tenant {tenant.id!r} is listed twice")
        seen.add(tenant.id)
    return tenants_file


def load_tenants(settings: Settings | None = None, *, rules: Path | None = None) -> dict[str, Tenant]:
    """The tenants file alone (for stages that need no grouping or controls: the events indexer)."""
    path = tenants_path(settings, rules)
    problems: list[str] = []
    tenants_file = _tenants_file(_read_yaml(path, problems), path, problems)
    if problems:
        raise ConfigError(problems, title="invalid tenants file")
    return {t.id: t for t in (tenants_file.tenants if tenants_file else [])}


def load_config(settings: Settings | None = None, *, rules: Path | None = None) -> ResponderConfig:
    """Load and check the three files; raise ConfigError listing every problem found."""
    base = rules or rules_dir()
    sources = {
        "tenants": tenants_path(settings, base),
        "grouping": base / "incident_grouping.yaml",
        "controls": base / "controls.yaml",
    }
    problems: list[str] = []
    raw = {name: _read_yaml(path, problems) for name, path in sources.items()}
    grouping = (
        _validate(GroupingConfig, raw["grouping"], sources["grouping"], problems) if raw["grouping"] else None
    )
    controls = (
        _validate(ControlsConfig, raw["controls"], sources["controls"], problems) if raw["controls"] else None
    )
    if controls:
        problems += [f"{sources['controls']}: {p}" for p in controls.check()]
    elif raw["controls"] == {}:
        problems.append(f"{sources['controls']}: empty: every evidence record type needs its controls")
    tenants_file = _tenants_file(raw["tenants"], sources["tenants"], problems)
    tenants = {t.id: t for t in (tenants_file.tenants if tenants_file else [])}
    for i, tenant in enumerate(tenants_file.tenants if tenants_file else []):
        problems += _route_problems(f"{sources['tenants']}: tenants.{i}.routes", tenant.routes)
    provider = tenants_file.provider if tenants_file else Provider()
    problems += _route_problems(f"{sources['tenants']}: provider.oncall", provider.oncall)
    if problems:
        raise ConfigError(problems)
    assert controls is not None  # a missing or empty file is a problem above
    return ResponderConfig(
        tenants=tenants,
        grouping=grouping or GroupingConfig(),
        controls=controls,
        sources=sources,
        provider=provider,
        service_levels=tenants_file.service_levels if tenants_file else ServiceLevels(),
    )


def _route_problems(where: str, routes: list[NoticeRoute]) -> list[str]:
    problems = []
    for j, route in enumerate(routes):
        try:
            kind = CHANNELS.get(route.channel)
        except UnknownNameError as exc:
            problems.append(f"{where}.{j}.channel: {exc}")
            continue
        problems += [f"{where}.{j}: {p}" for p in kind.route_problems(route)]
    return problems


def missing_secrets(config: ResponderConfig) -> list[str]:
    """Routes whose secret variable is unset: checked at start, so delivery never finds out."""
    owners = [(f"tenant {t.id}", t.routes) for t in config.tenants.values()]
    return [
        f"{who}: {r.channel} {r.destination}: variable {missing} is not set"
        for who, routes in [*owners, ("provider on-call", config.provider.oncall)]
        for r in routes
        if (missing := CHANNELS.get(r.channel).missing_secret(r))
    ]
