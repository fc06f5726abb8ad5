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

from detectors.sigma.cache import RuleCache, cache_key
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


@dataclass(frozen=True)
class LoweredFilter:
    """What the cache keeps of a Sigma filter: plain data (see ir.py), no pySigma object."""

    title: str
    id: str | None
    logsource: dict[str, str]  # the set ones of product / category / service
    rules: str | tuple[str, ...]  # "any", or the references (ids or names) it applies to
    conditions: tuple[Any, ...]  # lowered condition trees, all of which must hold
    path: str | None = None

    def record(self) -> tuple[Any, ...]:
        return (self.title, self.id, self.logsource, self.rules, self.conditions, self.path)

    @classmethod
    def from_record(cls, rec: Sequence[Any]) -> LoweredFilter:
        title, fid, logsource, rules, conditions, path = rec
        return cls(
            title,
            fid,
            dict(logsource),
            rules if isinstance(rules, str) else tuple(rules),
            tuple(conditions),
            path,
        )


@dataclass
class CompiledFilter:
    """A Sigma filter: for the rules it applies to, a match stands only if `fn(event)` is true."""

    title: str
    id: str | None
    spec: LoweredFilter
    fn: Fn

    def applies_to(self, rule: CompiledRule) -> bool:
        """pySigma's `_should_apply_on_rule`, decided on the rule's metadata (no pySigma rule needed):
        the filter's logsource contains the rule's, and its `rules` is `any` or names the rule by id
        or name."""
        mine = rule.info.logsource
        for attr, want in self.spec.logsource.items():
            if want != mine.get(attr):
                return False
        refs = self.spec.rules
        if isinstance(refs, str):
            return refs.lower() == "any"
        return any(_names_rule(ref, rule) for ref in refs)


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


def lower_filter(flt: Any, pipeline: Pipeline, path: str | None) -> LoweredFilter:
    """The cacheable form of a pySigma filter (its conditions lowered through the pipeline)."""
    from detectors.sigma.lower import lower_condition

    ls = flt.logsource
    refs = flt.filter.rules
    spec = LoweredFilter(
        title=flt.title,
        id=str(flt.id) if flt.id else None,
        logsource={a: v for a in ("product", "category", "service") if (v := getattr(ls, a)) is not None},
        rules=refs if isinstance(refs, str) else tuple(r.reference for r in refs),
        conditions=tuple(lower_condition(c.parsed, pipeline, ls) for c in flt.filter.parsed_condition),
        path=path,
    )
    build_filter(spec, {})  # refuses what cannot be built before it is cached
    return spec


def build_filter(spec: LoweredFilter, placeholders: Mapping[str, Sequence[str]]) -> CompiledFilter:
    compiler = Compiler(placeholders)
    fns = tuple(compiler.compile(c).fn for c in spec.conditions)
    return CompiledFilter(title=spec.title, id=spec.id, spec=spec, fn=lambda e: all(f(e) for f in fns))


def compile_filter(flt: Any, pipeline: Pipeline, placeholders: Mapping[str, Sequence[str]]) -> CompiledFilter:
    """pySigma filter -> CompiledFilter in one step."""
    return build_filter(lower_filter(flt, pipeline, None), placeholders)


def load_filters(
    paths: Sequence[Path],
    pipeline: Pipeline,
    placeholders: Mapping[str, Sequence[str]],
    report: LoadReport,
    cache: RuleCache | None = None,
) -> list[CompiledFilter]:
    """Compile filter documents from files/folders (through the rule cache, like rules); anything
    else in them is reported."""
    if not paths:
        return []
    files = rule_files(paths)
    store = cache if cache is not None else RuleCache.default()
    key = cache_key(files, pipeline, extra="filter files")
    payload = store.get(key)
    if payload is None:
        problems = LoadReport(pipeline=pipeline.label)
        lowered: list[LoweredFilter] = []
        for path in files:
            for obj in parse_file(path, problems):
                lowered.extend(lower_filters([obj], pipeline, problems, path=str(path)))
        payload = {
            "filters": [f.record() for f in lowered],
            "failed": [p.model_dump() for p in problems.failed],
        }
        store.put(key, payload)
    report.failed.extend(RuleProblem.model_validate(p) for p in payload["failed"])
    return build_filters([LoweredFilter.from_record(r) for r in payload["filters"]], placeholders, report)


def build_filters(
    specs: Sequence[LoweredFilter], placeholders: Mapping[str, Sequence[str]], report: LoadReport
) -> list[CompiledFilter]:
    """Matchers of lowered filters with the placeholder values of the day."""
    out: list[CompiledFilter] = []
    for spec in specs:
        try:
            out.append(build_filter(spec, placeholders))
        except (UnsupportedValueError, ValueError) as exc:
            report.failed.append(
                RuleProblem(path=spec.path, title=spec.title, kind="filter", reason=str(exc))
            )
    return out


def lower_filters(
    objs: Sequence[Any], pipeline: Pipeline, report: LoadReport, *, path: str | None = None
) -> list[LoweredFilter]:
    """Lowered filters of pySigma objects; anything else, or a filter that cannot run, is reported."""
    from sigma.filters import SigmaFilter

    out: list[LoweredFilter] = []
    for obj in objs:
        where = path or (str(obj.source.path) if getattr(obj, "source", None) and obj.source.path else None)
        if not isinstance(obj, SigmaFilter):
            report.failed.append(
                RuleProblem(
                    path=where,
                    title=getattr(obj, "title", None),
                    kind="filter",
                    reason="only Sigma filter documents belong in a filter file",
                )
            )
            continue
        if obj.errors:
            report.failed.append(
                RuleProblem(
                    path=where, title=obj.title, kind="filter", reason="; ".join(map(str, obj.errors))
                )
            )
            continue
        try:
            out.append(lower_filter(obj, pipeline, where))
        except Exception as exc:
            report.failed.append(RuleProblem(path=where, title=obj.title, kind="filter", reason=str(exc)))
    return out
