"""Load Sigma rules, correlation rules and filters from files and folders into a RuleSet.

Every rule either compiles or lands in the LoadReport with its path, id and reason; with
`strict=True` the load raises RuleLoadError (carrying the whole report) if anything failed.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.sigma.cache import RuleCache, cache_key
from detectors.sigma.compiler import CompiledRule, LoweredRule, RuleCompileError, build_rule, lower_rule
from detectors.sigma.pipeline import Pipeline
from detectors.sigma.report import LoadReport, RuleLoadError, RuleProblem
from socpipe.logging import get_logger

log = get_logger(__name__)


@dataclass
class RuleSet:
    """Compiled detection rules plus the correlation rules and filters that came with them."""

    pipeline: Pipeline
    rules: list[CompiledRule]
    correlations: list[Any]  # pySigma SigmaCorrelationRule
    filters: list[Any]  # filters.LoweredFilter
    report: LoadReport
    placeholders: dict[str, list[str]] = field(default_factory=dict)
    from_cache: bool = False  # the rules came from the on-disk cache (cache.py), not from parsing

    def by_id(self) -> dict[str, CompiledRule]:
        return {r.info.id: r for r in self.rules}


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every .yml/.yaml file under the given files and folders, sorted, hidden folders skipped."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = _rule_paths(str(p))
            found.sort(key=lambda f: f.split(os.sep))  # the order of sorting Paths, without making them
            out += map(Path, found)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"rule path {p} does not exist")
    return out


def _rule_paths(top: str) -> list[str]:
    """Rule files under a folder, as os.walk would find them (hidden entries skipped, symlinked folders
    not entered, only what is a file or links to one), with os.scandir's entry types: a regular file
    costs no stat call, where `os.path.isfile` on each of SigmaHQ's 2,858 Windows rules cost about a
    twentieth of a warm `socpipe scan` (benchmarks/engine-results.md, session 9)."""
    found: list[str] = []
    todo = [top]
    while todo:
        try:
            entries = os.scandir(todo.pop())
        except OSError:  # an unreadable folder is passed over, as os.walk does
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                if entry.is_dir():
                    if not entry.is_symlink():
                        todo.append(entry.path)
                elif name.endswith((".yml", ".yaml")) and entry.is_file():
                    found.append(entry.path)
    return found


def parse_file(path: Path, report: LoadReport) -> list[Any]:
    """pySigma objects of one YAML file (collection actions honoured); problems go to the report."""
    import yaml
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError, SigmaRuleLocation
    from sigma.modifiers import SigmaWideModifier, modifier_mapping

    # Sigma 2.x names `utf16le` as an alias of `wide`; pySigma 1.5 registers only `wide`.
    modifier_mapping.setdefault("utf16le", SigmaWideModifier)
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        docs = [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader) if d]
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


def _is_rule(obj: Any) -> bool:
    from sigma.rule import SigmaRule

    return isinstance(obj, SigmaRule)


def _is_filter(obj: Any) -> bool:
    from sigma.filters import SigmaFilter

    return isinstance(obj, SigmaFilter)


def _lower_files(files: Sequence[Path], pipeline: Pipeline, parsed: dict[str, list[Any]]) -> dict[str, Any]:
    """Parse and lower every file (the slow, pySigma part): the payload the cache stores.

    Files holding correlations are listed under "extra": those few are parsed again on a warm start,
    since correlations are kept as pySigma objects. Filters are lowered like rules.
    """
    report = LoadReport(pipeline=pipeline.label)
    from detectors.sigma.filters import lower_filters

    rules: list[tuple[Any, ...]] = []
    filters: list[Any] = []
    extra: list[str] = []
    seen: dict[str, str] = {}
    for path in files:
        report.files += 1
        objs = parse_file(path, report)
        parsed[str(path)] = objs
        flts = [o for o in objs if _is_filter(o)]
        filters += lower_filters(flts, pipeline, report, path=str(path))
        if any(not _is_rule(o) and not _is_filter(o) for o in objs):
            extra.append(str(path))  # correlations
        for obj in objs:
            if not _is_rule(obj):
                continue
            try:
                lowered = lower_rule(obj, pipeline, str(path))
            except RuleCompileError as exc:
                report.failed.append(
                    RuleProblem(
                        path=str(path), rule_id=_id(obj), title=obj.title, reason=str(exc), kind=exc.kind
                    )
                )
                continue
            rid = lowered.info["id"]
            if rid in seen:
                report.failed.append(
                    RuleProblem(
                        path=str(path),
                        rule_id=rid,
                        title=obj.title,
                        kind="parse",
                        reason=f"duplicate rule id, first loaded from {seen[rid]}",
                    )
                )
                continue
            seen[rid] = str(path)
            rules.append(lowered.record())
    return {
        "files": report.files,
        "failed": [p.model_dump() for p in report.failed],
        "rules": rules,
        "filters": [f.record() for f in filters],
        "extra": extra,
    }


def _lower_by_file(
    files: Sequence[Path], pipeline: Pipeline, parsed: dict[str, list[Any]], store: RuleCache
) -> dict[str, Any]:
    """The rule set's payload, parsing only the files the per-file table does not know.

    The set entry misses whenever any file changed; the table (one cache entry in the `files`
    folder of the cache, keyed by the pipeline and the engine like every entry, holding each file's
    lowered records by path and content hash) then supplies the files that did not change, so
    editing one rule of 2,858 parses one file, not all of them. Rule ids are checked for duplicates
    across files here, in file order, as one pass over every file would.
    """
    tables = RuleCache(None if store.directory is None else store.directory / "files")
    table_key = cache_key([], pipeline, extra="per-file table")
    with _gc_paused():
        table = tables.get(table_key) or {}
    known = table.get("entries")
    if not isinstance(known, dict):
        known = {}
    entries: dict[str, Any] = {}
    out: dict[str, Any] = {"files": 0, "failed": [], "rules": [], "filters": [], "extra": []}
    seen: dict[str, str] = {}
    for path in files:
        name = f"{path}\x00{hashlib.sha256(path.read_bytes()).hexdigest()}"
        rec = known.get(name)
        if rec is None:
            rec = _lower_files([path], pipeline, parsed)
        entries[name] = rec
        for part in ("failed", "filters", "extra"):
            out[part] += rec[part]
        out["files"] += rec["files"]
        for record in rec["rules"]:
            info = record[0]
            if info["id"] in seen:
                reason = f"duplicate rule id, first loaded from {seen[info['id']]}"
                problem = RuleProblem(
                    path=info["path"], rule_id=info["id"], title=info["title"], kind="parse", reason=reason
                )
                out["failed"].append(problem.model_dump())
                continue
            seen[info["id"]] = info["path"]
            out["rules"].append(record)
    if entries.keys() != known.keys():
        tables.put(table_key, {"entries": entries})
    return out


def load_rules(
    paths: Sequence[str | Path],
    *,
    strict: bool = False,
    pipeline: Pipeline | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    cache: RuleCache | None = None,
) -> RuleSet:
    """Load and compile every rule under `paths` (files or folders).

    `placeholders` gives the global values of `%name%` placeholders used with the `expand`
    modifier (per-tenant values come from TenantConfig). In strict mode any failure raises
    RuleLoadError after everything was tried, so all problems are reported at once. The parsed
    rules come from the on-disk cache when nothing they depend on changed (cache.py; `cache`
    defaults to RuleCache.default()).
    """
    pipeline = pipeline or Pipeline.load()
    values: dict[str, list[str]] = {k: list(v) for k, v in (placeholders or {}).items()}
    files = rule_files(paths)
    store = cache if cache is not None else RuleCache.default()
    key = cache_key(files, pipeline)
    parsed: dict[str, list[Any]] = {}
    with _gc_paused():  # hundreds of thousands of small tuples: no point in collecting while unpacking
        payload = store.get(key)
    from_cache = payload is not None
    if payload is None:
        payload = _lower_by_file(files, pipeline, parsed, store)
        store.put(key, payload)
    parsed_files = len(parsed)  # files pySigma read for the rules (the rest came from a cache)
    report = LoadReport(
        pipeline=pipeline.label,
        files=payload["files"],
        failed=[RuleProblem.model_validate(p) for p in payload["failed"]],
    )
    with _gc_paused():
        compiled = _build(payload["rules"], values, parsed, report)
    from detectors.sigma.filters import LoweredFilter

    filters = [LoweredFilter.from_record(r) for r in payload["filters"]]
    correlations: list[Any] = []
    for name in payload["extra"]:
        path = Path(name)
        objs = parsed[name] if name in parsed else parse_file(path, report)
        for obj in objs:
            if not _is_rule(obj) and not _is_filter(obj):
                _collect(obj, correlations, report, path, "correlation")
    for name in list(parsed):  # free the parsed rules: matching never needs them again
        if name not in payload["extra"]:
            del parsed[name]
    if correlations:
        texts = "\n".join(Path(p).read_text(encoding="utf-8") for p in payload["extra"])
        correlations = _resolve_correlations(compiled, correlations, report, texts)
        report.silent = _silence_referenced(compiled, correlations)
    report.loaded = len(compiled)
    report.correlations, report.filters = len(correlations), len(filters)
    log.info(
        "sigma rules loaded",
        loaded=report.loaded,
        failed=len(report.failed),
        pipeline=report.pipeline,
        cached=from_cache,
        parsed_files=parsed_files,
    )
    if strict and report.failed:
        raise RuleLoadError(report)
    return RuleSet(pipeline, compiled, correlations, filters, report, values, from_cache)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(
    records: list[Any], placeholders: dict[str, list[str]], parsed: dict[str, list[Any]], report: LoadReport
) -> list[CompiledRule]:
    """Matchers of the lowered rules, each able to fetch its pySigma rule when asked."""
    out: list[CompiledRule] = []
    for rec in records:
        lowered = LoweredRule.from_record(rec)
        info = lowered.info
        try:
            c = build_rule(lowered, placeholders)
        except RuleCompileError as exc:
            report.failed.append(
                RuleProblem(
                    path=info["path"], rule_id=info["id"], title=info["title"], reason=str(exc), kind=exc.kind
                )
            )
            continue
        c.load_source = _source_loader(info["path"], info["id"], parsed)
        missing = sorted(p for p in c.placeholders if p not in placeholders)
        if missing:
            report.warnings.append(
                RuleProblem(
                    path=info["path"],
                    rule_id=info["id"],
                    title=info["title"],
                    kind="warning",
                    reason=f"placeholders without a global value (match nothing unless a tenant sets them):"
                    f" {missing}",
                )
            )
        out.append(c)
    return out


def _source_loader(path: str | None, rule_id: str, parsed: dict[str, list[Any]]) -> Callable[[], Any]:
    """Fetch a rule's pySigma object: from this load's parse, else by parsing its file again."""

    def load() -> Any:
        if path is None:
            return None
        if path not in parsed:
            parsed[path] = parse_file(Path(path), LoadReport(pipeline=""))
        for obj in parsed[path]:
            if _is_rule(obj) and (str(obj.id) if obj.id else f"title:{obj.title}") == rule_id:
                return obj
        return None

    return load


def _collect(obj: Any, bucket: list[Any], report: LoadReport, path: Path, kind: str) -> None:
    if obj.errors:
        reason = "; ".join(str(e) for e in obj.errors)
        report.failed.append(
            RuleProblem(path=str(path), rule_id=_id(obj), title=obj.title, reason=reason, kind=kind)
        )
    else:
        bucket.append(obj)


def _resolve_correlations(
    compiled: list[CompiledRule], correlations: list[Any], report: LoadReport, texts: str
) -> list[Any]:
    """Resolve rule references against the loaded rules; unresolvable correlations fail.

    Only rules whose id or name occurs in the correlation files can be referenced, so only those
    rules' pySigma objects are fetched (a warm start parses no other rule file).
    """
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    lowered_text = texts.lower()
    base = [
        c.source
        for c in compiled
        if c.info.id.lower() in lowered_text or (c.info.name and c.info.name in texts)
    ]
    coll = SigmaCollection([*(b for b in base if b is not None), *correlations], resolve_references=False)
    ok: list[Any] = []
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


def _silence_referenced(compiled: list[CompiledRule], correlations: list[Any]) -> int:
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
            if _is_rule(ref.rule):
                (loud if corr.generate else silent).add(id(ref.rule))
    count = 0
    for rule in compiled:
        src = rule.loaded_source  # only rules a correlation may reference were fetched
        if src is not None and id(src) in silent - loud:
            rule.info = rule.info.model_copy(update={"output": False})
            count += 1
    return count


def _id(obj: Any) -> str | None:
    return str(obj.id) if getattr(obj, "id", None) else None
