"""`rules/heuristics.yaml`: defaults for every tenant, per-tenant overrides merged over them.

    max_tenants: 1000            # tenants whose state the engine keeps (LRU beyond)
    defaults:
      allow: {users: [svc_backup]}           # every heuristic, every tenant
      brute_force: {threshold: 10, window: 5m}
    tenants:
      acme:
        brute_force: {threshold: 20}          # replaces the default threshold, keeps the window
        allow: {sources: [10.1.0.0/16]}       # adds to the default allow-lists

Merging: a tenant's value replaces the default's; allow-lists add up (defaults, then the heuristic's
own, then the tenant's). A heuristic not named anywhere runs with its built-in defaults; switch one
off with `enabled: false`. Every section is validated when the engine is built, for every tenant,
and all problems are reported at once, each with the file, line and key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from detectors.heuristics import registry
from detectors.heuristics.base import HeuristicConfig
from schemas.common import TenantId
from socpipe.errors import ConfigurationError, Problem
from socpipe.paths import rules_dir

DEFAULT_FILE = "heuristics.yaml"
_TOP = {"max_tenants", "defaults", "tenants"}
_tenant_id: TypeAdapter[str] = TypeAdapter(TenantId)


class HeuristicConfigError(ConfigurationError, ValueError):
    """Bad heuristics configuration; `problems` lists every one, each with where it is."""

    def __init__(self, problems: Sequence[Problem | str]) -> None:
        super().__init__(problems, title="invalid heuristics configuration")


@dataclass
class HeuristicsConfig:
    """Validated configuration: each heuristic's config for the defaults and for each configured tenant."""

    defaults: dict[str, HeuristicConfig]
    tenants: dict[str, dict[str, HeuristicConfig]] = field(default_factory=dict)
    max_tenants: int = 1000
    source: str = "<built-in defaults>"

    def for_tenant(self, tenant: str) -> dict[str, HeuristicConfig]:
        return self.tenants.get(tenant, self.defaults)

    def enabled(self, tenant: str) -> list[str]:
        return [name for name, cfg in self.for_tenant(tenant).items() if cfg.enabled]


def default_path() -> Path:
    return rules_dir() / DEFAULT_FILE


def load_config(path: Path | str | None = None) -> HeuristicsConfig:
    """Read and validate the file (default `rules/heuristics.yaml`; built-in defaults when it is absent
    and no path was given)."""
    if path is None and not default_path().is_file():
        return parse_config({})
    file = Path(path) if path is not None else default_path()
    try:
        text = file.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except (OSError, yaml.YAMLError) as exc:
        raise HeuristicConfigError([Problem(str(exc), file=str(file))]) from None
    return parse_config(data, source=str(file), root=root)


def parse_config(data: Any, *, source: str = "<config>", root: yaml.Node | None = None) -> HeuristicsConfig:
    problems: dict[Problem, int] = {}  # problem -> line, so a default's error is told once, not per tenant

    def problem(path: tuple[Any, ...], message: str) -> None:
        line = _line_of(root, path)
        key = ".".join(map(str, path)) or "(top)"
        problems.setdefault(Problem(message, file=source, line=line, key=key), line or 0)

    if not isinstance(data, Mapping):
        raise HeuristicConfigError(
            [Problem(f"expected a mapping at the top, got {type(data).__name__}", file=source)]
        )
    for key in data:
        if key not in _TOP:
            problem((key,), f"unknown key; expected one of {', '.join(sorted(_TOP))}")
    max_tenants = data.get("max_tenants", 1000)
    if not isinstance(max_tenants, int) or isinstance(max_tenants, bool) or max_tenants < 1:
        problem(("max_tenants",), f"expected a positive integer, got {max_tenants!r}")
        max_tenants = 1000
    defaults = _section(data.get("defaults"), ("defaults",), problem)
    tenants_raw = data.get("tenants") or {}
    if not isinstance(tenants_raw, Mapping):
        problem(("tenants",), "expected a mapping of tenant id to overrides")
        tenants_raw = {}
    built_defaults = _build(defaults, {}, ("defaults",), ("defaults",), problem)
    tenants: dict[str, dict[str, HeuristicConfig]] = {}
    for tenant, overrides in tenants_raw.items():
        where = ("tenants", tenant)
        try:
            _tenant_id.validate_python(tenant)
        except ValidationError:
            problem(where, "not a valid tenant id (lower-case letters, digits, - and _)")
            continue
        section = _section(overrides, where, problem)
        tenants[tenant] = _build(defaults, section, ("defaults",), where, problem)
    if problems:
        raise HeuristicConfigError([p for p, _ in sorted(problems.items(), key=lambda item: item[1])])
    return HeuristicsConfig(built_defaults, tenants, max_tenants, source)


def _section(raw: Any, where: tuple[Any, ...], problem: Any) -> dict[str, Any]:
    """A defaults or tenant section, its keys checked against the registry."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problem(where, f"expected a mapping, got {type(raw).__name__}")
        return {}
    known = registry.names()
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key != "allow" and key not in known:
            problem((*where, key), f"unknown heuristic; known: {', '.join(known)} (or allow)")
        elif value is not None and not isinstance(value, Mapping):
            problem((*where, key), f"expected a mapping, got {type(value).__name__}")
        else:
            out[key] = dict(value or {})
    return out


def _build(
    defaults: dict[str, Any],
    tenant: dict[str, Any],
    dwhere: tuple[Any, ...],
    twhere: tuple[Any, ...],
    problem: Any,
) -> dict[str, HeuristicConfig]:
    """Each registered heuristic's config for one tenant (or the defaults when `tenant` is empty)."""
    out: dict[str, HeuristicConfig] = {}
    for name in registry.names():
        layers = [
            (defaults.get("allow", {}), (*dwhere, "allow"), True),
            (defaults.get(name, {}), (*dwhere, name), False),
            (tenant.get("allow", {}), (*twhere, "allow"), True),
            (tenant.get(name, {}), (*twhere, name), False),
        ]
        merged: dict[str, Any] = {}
        allow: dict[str, list[Any]] = {}
        for layer, _, is_allow in layers:
            own_allow = layer if is_allow else layer.get("allow", {})
            if isinstance(own_allow, Mapping):
                for category, values in own_allow.items():
                    allow.setdefault(category, []).extend(values if isinstance(values, list) else [values])
            if not is_allow:
                merged.update({k: v for k, v in layer.items() if k != "allow"})
        merged["allow"] = allow
        try:
            out[name] = registry.get(name).config_model.model_validate(merged)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                where = _origin(loc, layers, (*twhere, name))
                if error["type"] == "value_error":  # our own validators already name the value
                    message = str(error.get("ctx", {}).get("error", error["msg"]))
                else:
                    message = error["msg"] + (
                        f" (got {error['input']!r})" if "input" in error and loc else ""
                    )
                problem(where, message)
    return out


def _origin(
    loc: tuple[Any, ...],
    layers: list[tuple[dict[str, Any], tuple[Any, ...], bool]],
    fallback: tuple[Any, ...],
) -> tuple[Any, ...]:
    """The configuration path an error points at: the last layer that set the offending key."""
    if not loc:
        return fallback
    for layer, where, is_allow in reversed(layers):
        if is_allow:
            if loc[0] == "allow" and len(loc) > 1 and loc[1] in layer:
                return (*where, *loc[1:])
        elif loc[0] in layer:
            return (*where, *loc)
    return (*fallback, *loc)


def _line_of(root: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node of `path` found in the composed YAML."""
    node, line = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
