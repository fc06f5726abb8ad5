"""Load Sigma rules, correlation rules and filters from files and folders into a RuleSet.

Every rule either compiles or lands in the LoadReport with its path, id and reason; with
`strict=True` the load raises RuleLoadError (carrying the whole report) if anything failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.rule import SigmaRule

from detectors.sigma.compiler import CompiledRule, RuleCompileError, compile_rule
from detectors.sigma.pipeline import Pipeline
from detectors.sigma.report import LoadReport, RuleLoadError, RuleProblem
from socpipe.logging import get_logger

log = get_logger(__name__)
# Sigma 2.x names `utf16le` as an alias of `wide`; pySigma 1.5 registers only `wide`.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class RuleSet:
    """Compiled detection rules plus the correlation rules and filters that came with them."""

    pipeline: Pipeline
    rules: list[CompiledRule]
    correlations: list[SigmaCorrelationRule]
    filters: list[SigmaFilter]
    report: LoadReport
    placeholders: dict[str, list[str]] = field(default_factory=dict)

    def by_id(self) -> dict[str, CompiledRule]:
        return {r.info.id: r for r in self.rules}


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every .yml/.yaml file under the given files and folders, sorted, hidden folders skipped."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(
                f
                for f in p.rglob("*")
                if f.suffix in (".yml", ".yaml")
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"rule path {p} does not exist")
    return out


def parse_file(path: Path, report: LoadReport) -> list[SigmaRule | SigmaCorrelationRule | SigmaFilter]:
    """pySigma objects of one YAML file (collection actions honoured); problems go to the report."""
    try:
        docs = [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader) if d]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        report.failed.append(RuleProblem(path=str(path), reason=f"YAML: {exc}", kind="parse"))
        return []
    if any(not isinstance(d, dict) for d in docs):
        report.failed.append(RuleProblem(path=str(path), reason="not a YAML mapping", kind="parse"))
        return []
    try:
        coll = SigmaCollection.from_dicts(
            docs,
            collect_errors=True,
            source=SigmaRuleLocation(path),
            collect_filters=True,
            resolve_references=False,
        )
    except SigmaError as exc:
        report.failed.append(RuleProblem(path=str(path), reason=str(exc), kind="parse"))
        return []
    return [*coll.rules, *coll.filters]


def load_rules(
    paths: Sequence[str | Path],
    *,
    strict: bool = False,
    pipeline: Pipeline | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> RuleSet:
    """Load and compile every rule under `paths` (files or folders).

    `placeholders` gives the global values of `%name%` placeholders used with the `expand`
    modifier (per-tenant values come from TenantConfig). In strict mode any failure raises
    RuleLoadError after everything was tried, so all problems are reported at once.
    """
    pipeline = pipeline or Pipeline.load()
    report = LoadReport(pipeline=pipeline.label)
    values: dict[str, list[str]] = {k: list(v) for k, v in (placeholders or {}).items()}
    compiled: list[CompiledRule] = []
    correlations: list[SigmaCorrelationRule] = []
    filters: list[SigmaFilter] = []
    seen: dict[str, str] = {}
    for path in rule_files(paths):
        report.files += 1
        for obj in parse_file(path, report):
            if isinstance(obj, SigmaFilter):
                _collect(obj, filters, report, path, "filter")
            elif isinstance(obj, SigmaCorrelationRule):
                _collect(obj, correlations, report, path, "correlation")
            else:
                _compile(
                    obj,
                    pipeline=pipeline,
                    path=path,
                    placeholders=values,
                    out=compiled,
                    report=report,
                    seen=seen,
                )
    correlations = _resolve_correlations(compiled, correlations, report)
    report.silent = _silence_referenced(compiled, correlations)
    report.loaded = len(compiled)
    report.correlations, report.filters = len(correlations), len(filters)
    log.info("sigma rules loaded", loaded=report.loaded, failed=len(report.failed), pipeline=report.pipeline)
    if strict and report.failed:
        raise RuleLoadError(report)
    return RuleSet(pipeline, compiled, correlations, filters, report, values)


def _collect(obj: Any, bucket: list[Any], report: LoadReport, path: Path, kind: str) -> None:
    if obj.errors:
        reason = "; ".join(str(e) for e in obj.errors)
        report.failed.append(
            RuleProblem(path=str(path), rule_id=_id(obj), title=obj.title, reason=reason, kind=kind)
        )
    else:
        bucket.append(obj)


def _compile(
    rule: SigmaRule,
    *,
    pipeline: Pipeline,
    path: Path,
    placeholders: Mapping[str, Sequence[str]],
    out: list[CompiledRule],
    report: LoadReport,
    seen: dict[str, str],
) -> None:
    try:
        c = compile_rule(rule, pipeline, str(path), placeholders)
    except RuleCompileError as exc:
        report.failed.append(
            RuleProblem(path=str(path), rule_id=_id(rule), title=rule.title, reason=str(exc), kind=exc.kind)
        )
        return
    if c.info.id in seen:
        report.failed.append(
            RuleProblem(
                path=str(path),
                rule_id=c.info.id,
                title=rule.title,
                kind="parse",
                reason=f"duplicate rule id, first loaded from {seen[c.info.id]}",
            )
        )
        return
    seen[c.info.id] = str(path)
    missing = sorted(p for p in c.placeholders if p not in placeholders)
    if missing:
        report.warnings.append(
            RuleProblem(
                path=str(path),
                rule_id=c.info.id,
                title=rule.title,
                kind="warning",
                reason=f"placeholders without a global value (match nothing unless a tenant sets them):"
                f" {missing}",
            )
        )
    out.append(c)


def _resolve_correlations(
    compiled: list[CompiledRule], correlations: list[SigmaCorrelationRule], report: LoadReport
) -> list[SigmaCorrelationRule]:
    """Resolve rule references against the loaded rules; unresolvable correlations fail."""
    base = [c.source for c in compiled if c.source is not None]
    coll = SigmaCollection([*base, *correlations], resolve_references=False)
    ok: list[SigmaCorrelationRule] = []
    for corr in correlations:
        try:
            corr.resolve_rule_references(coll)
        except SigmaError as exc:
            path = str(corr.source.path) if corr.source and corr.source.path else None
            report.failed.append(
                RuleProblem(
                    path=path, rule_id=_id(corr), title=corr.title, reason=str(exc), kind="correlation"
                )
            )
            continue
        ok.append(corr)
    return ok


def _silence_referenced(compiled: list[CompiledRule], correlations: list[SigmaCorrelationRule]) -> int:
    """Mark the rules that only `generate: false` correlations reference as feeding them only.

    Decided here from the correlations that resolved, not from pySigma's own flag: a correlation that
    failed half-way through resolving has already switched off some rules' output there, and those
    rules must keep alerting on their own since the correlation will never run. A rule that any
    correlation references with `generate: true` keeps alerting (pySigma silences it as soon as one
    says false): of two readings, the one that never hides an alert its author asked for.
    """
    silent: set[int] = set()
    loud: set[int] = set()
    for corr in correlations:
        for ref in corr.referenced_rules or []:
            if isinstance(ref.rule, SigmaRule):
                (loud if corr.generate else silent).add(id(ref.rule))
    count = 0
    for rule in compiled:
        if rule.source is not None and id(rule.source) in silent - loud:
            rule.info = rule.info.model_copy(update={"output": False})
            count += 1
    return count


def _id(obj: Any) -> str | None:
    return str(obj.id) if getattr(obj, "id", None) else None
