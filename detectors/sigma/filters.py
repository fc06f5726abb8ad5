"""Sigma filters (global and per tenant) and per-tenant placeholder values.

A provider tunes a rule for one client without forking it: a Sigma filter document
(`filter: {rules: [...], <selections>, condition: not ...}`) names the rules it applies to and a
condition the event must also satisfy, and a tenant may give its own values to `%placeholders%`
of rules that use the `expand` modifier. TenantConfig is the data; CompiledFilter the matcher.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from detectors.sigma.compiler import CompiledRule
from detectors.sigma.conditions import Compiler, Fn
from detectors.sigma.loader import parse_file, rule_files
from detectors.sigma.modifiers import UnsupportedValueError
from detectors.sigma.pipeline import Pipeline
from detectors.sigma.report import LoadReport, RuleProblem


class TenantSettings(BaseModel):
    """Tuning of one tenant: placeholder values, filter files, rules switched off."""

    model_config = ConfigDict(extra="forbid")
    placeholders: dict[str, list[str]] = Field(default_factory=dict)
    filters: list[Path] = Field(default_factory=list)
    disabled_rules: list[str] = Field(default_factory=list)


class TenantConfig(BaseModel):
    """Global tuning plus per-tenant overrides (tenant values win over global ones)."""

    model_config = ConfigDict(extra="forbid")
    placeholders: dict[str, list[str]] = Field(default_factory=dict)
    filters: list[Path] = Field(default_factory=list)
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> TenantConfig:
        """Read YAML; relative filter paths are taken relative to the file."""
        cfg = cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        base = path.parent
        cfg.filters = [p if p.is_absolute() else base / p for p in cfg.filters]
        for t in cfg.tenants.values():
            t.filters = [p if p.is_absolute() else base / p for p in t.filters]
        return cfg

    def placeholders_for(self, tenant: str | None) -> dict[str, list[str]]:
        merged = dict(self.placeholders)
        if tenant is not None and tenant in self.tenants:
            merged.update(self.tenants[tenant].placeholders)
        return merged


@dataclass
class CompiledFilter:
    """A Sigma filter: for the rules it applies to, a match stands only if `fn(event)` is true."""

    title: str
    id: str | None
    source: Any  # the pySigma SigmaFilter
    fn: Fn

    def applies_to(self, rule: CompiledRule) -> bool:
        """pySigma's `_should_apply_on_rule`, decided on the rule's metadata (no pySigma rule needed):
        the filter's logsource contains the rule's, and its `rules` is `any` or names the rule by id
        or name."""
        ls = self.source.logsource
        mine = rule.info.logsource
        for attr in ("category", "product", "service"):
            want = getattr(ls, attr)
            if want is not None and want != mine.get(attr):
                return False
        refs = self.source.filter.rules
        if isinstance(refs, str):
            return refs.lower() == "any"
        return any(_names_rule(ref.reference, rule) for ref in refs)


def _names_rule(reference: str, rule: CompiledRule) -> bool:
    """pySigma's lookup of a reference: as a UUID when it parses as one, else as a rule name."""
    try:
        return uuid.UUID(reference) == uuid.UUID(rule.info.id)
    except ValueError:
        if _is_uuid(reference):
            return False
        return reference == rule.info.name


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def compile_filter(flt: Any, pipeline: Pipeline, placeholders: Mapping[str, Sequence[str]]) -> CompiledFilter:
    from detectors.sigma.lower import lower_condition

    compiler = Compiler(placeholders)
    nodes = [
        compiler.compile(lower_condition(c.parsed, pipeline, flt.logsource))
        for c in flt.filter.parsed_condition
    ]
    fns = tuple(n.fn for n in nodes)
    return CompiledFilter(
        title=flt.title, id=str(flt.id) if flt.id else None, source=flt, fn=lambda e: all(f(e) for f in fns)
    )


def load_filters(
    paths: Sequence[Path], pipeline: Pipeline, placeholders: Mapping[str, Sequence[str]], report: LoadReport
) -> list[CompiledFilter]:
    """Compile filter documents from files/folders; anything else in them is reported."""
    out: list[CompiledFilter] = []
    for path in rule_files(paths) if paths else []:
        for obj in parse_file(path, report):
            out.extend(_one(obj, path, pipeline, placeholders, report))
    return out


def compile_filters(
    filters: Sequence[Any],
    pipeline: Pipeline,
    placeholders: Mapping[str, Sequence[str]],
    report: LoadReport,
) -> list[CompiledFilter]:
    out: list[CompiledFilter] = []
    for flt in filters:
        path = flt.source.path if flt.source is not None else None
        out.extend(_one(flt, path, pipeline, placeholders, report))
    return out


def _one(
    obj: Any, path: Any, pipeline: Pipeline, placeholders: Mapping[str, Sequence[str]], report: LoadReport
) -> list[CompiledFilter]:
    from sigma.filters import SigmaFilter

    if not isinstance(obj, SigmaFilter):
        report.failed.append(
            RuleProblem(
                path=str(path),
                title=getattr(obj, "title", None),
                kind="filter",
                reason="only Sigma filter documents belong in a filter file",
            )
        )
        return []
    if obj.errors:
        report.failed.append(
            RuleProblem(
                path=str(path), title=obj.title, kind="filter", reason="; ".join(map(str, obj.errors))
            )
        )
        return []
    try:
        return [compile_filter(obj, pipeline, placeholders)]
    except (UnsupportedValueError, Exception) as exc:
        report.failed.append(RuleProblem(path=str(path), title=obj.title, kind="filter", reason=str(exc)))
        return []
