"""The Sigma engine: route an event to its bucket, prefilter, evaluate, apply filters.

Pure and synchronous: `Engine.match(event, tenant)` takes one flat event dict and returns the
matches. Routing, prefilter and tenant overrides are built once at construction (a bad tenant
filter fails here, not on the hot path); buckets are built lazily per (channel, event id) seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from detectors.sigma.compiler import CompiledRule, LoweredRule, RuleCompileError, build_rule
from detectors.sigma.conditions import explain
from detectors.sigma.filters import CompiledFilter, TenantConfig, build_filters, load_filters
from detectors.sigma.loader import RuleSet
from detectors.sigma.model import Match, detection_id, event_digest
from detectors.sigma.native import prefilter_module
from detectors.sigma.pipeline import ANY_WINDOWS, DATASET, NON_WINDOWS, RouteKey, module_key
from detectors.sigma.prefilter import Bucket, Dispatch
from detectors.sigma.report import RuleLoadError, RuleProblem
from socpipe.logging import get_logger

log = get_logger(__name__)
MAX_BUCKETS = 4096


class _TenantView:
    """What differs for one tenant: rules recompiled with its placeholders, extra filters, disabled."""

    def __init__(self) -> None:
        self.rules: dict[int, CompiledRule] = {}
        self.filters: dict[int, list[CompiledFilter]] = {}
        self.disabled: set[int] = set()


class Engine:
    """Evaluates every loaded rule on streaming events."""

    def __init__(self, ruleset: RuleSet, tenant_config: TenantConfig | None = None, *, strict: bool = False):
        self.ruleset = ruleset
        self.pipeline = ruleset.pipeline
        self.rules = ruleset.rules
        self.config = tenant_config or TenantConfig()
        self.errors: Counter[str] = Counter()  # rule id -> evaluation errors
        report = ruleset.report
        n_failed = len(report.failed)
        self._by_route: dict[RouteKey, list[int]] = {}
        for idx, rule in enumerate(self.rules):
            for key in rule.routes:
                self._by_route.setdefault(key, []).append(idx)
        placeholders = {**ruleset.placeholders, **self.config.placeholders}
        global_filters = build_filters(ruleset.filters, placeholders, report)
        global_filters += load_filters(self.config.filters, self.pipeline, placeholders, report)
        self._filters: dict[int, list[CompiledFilter]] = self._attach(global_filters)
        self._base_rules = list(self.rules)
        if self.config.placeholders:
            self.rules = [self._recompile(r, placeholders, report) for r in self.rules]
        self._tenants = {name: self._tenant_view(name, report) for name in self.config.tenants}
        self._buckets: dict[RouteKey, Bucket] = {}
        # prefilter.Bucket and Dispatch, compiled by mypyc when installed so (native.py)
        native = prefilter_module()
        self._bucket_type: type[Bucket] = native.Bucket
        fields = self.pipeline.route_fields
        self._dispatch: Dispatch = native.Dispatch(
            tuple(fields.channel), tuple(fields.event_id), self.pipeline.route_key, self.bucket
        )
        self._route = self.pipeline.route_key
        if strict and len(report.failed) > n_failed:
            raise RuleLoadError(report)

    def _attach(self, filters: list[CompiledFilter]) -> dict[int, list[CompiledFilter]]:
        out: dict[int, list[CompiledFilter]] = {}
        for flt in filters:
            for idx, rule in enumerate(self.rules):
                if flt.applies_to(rule):
                    out.setdefault(idx, []).append(flt)
        return out

    def _recompile(self, rule: CompiledRule, placeholders: dict[str, list[str]], report: Any) -> CompiledRule:
        """The rule's matcher with other placeholder values, built from its lowered form."""
        if not rule.placeholders:
            return rule
        try:
            lowered = LoweredRule(rule.info.model_dump(), rule.ir, tuple(rule.routes), (), rule.placeholders)
            c = build_rule(lowered, placeholders, info=rule.info)
        except RuleCompileError as exc:
            report.failed.append(RuleProblem(rule_id=rule.info.id, reason=str(exc), kind="unsupported"))
            return rule
        c.clauses = []  # the prefilter never narrows placeholder rules (their needles vary by tenant)
        c.load_source, c.loaded_source = rule.load_source, rule.loaded_source
        return c

    def _tenant_view(self, tenant: str, report: Any) -> _TenantView:
        settings = self.config.tenants[tenant]
        view = _TenantView()
        placeholders = {**self.ruleset.placeholders, **self.config.placeholders_for(tenant)}
        if settings.placeholders:
            for idx, rule in enumerate(self._base_rules):
                if rule.placeholders:
                    view.rules[idx] = self._recompile(rule, placeholders, report)
        extra = load_filters(settings.filters, self.pipeline, placeholders, report)
        view.filters = dict(self._filters)
        for idx, flts in self._attach(extra).items():
            view.filters[idx] = self._filters.get(idx, []) + flts
        ids = set(settings.disabled_rules)
        view.disabled = {i for i, r in enumerate(self.rules) if r.info.id in ids or r.info.name in ids}
        return view

    def bucket(self, key: RouteKey) -> Bucket:
        """The rules evaluated on events of one route (built on first use, then cached)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            return bucket
        idxs: set[int] = set(self._by_route.get(key, ()))
        if key == NON_WINDOWS:  # no channel, no dataset: every rule that is not Windows-only
            for route, rules in self._by_route.items():
                if route[0].startswith(DATASET):
                    idxs.update(rules)
        elif key[0].startswith(DATASET):
            idxs.update(self._by_route.get(NON_WINDOWS, ()))
            if (module := module_key(key)) is not None:
                idxs.update(self._by_route.get(module, ()))
        else:
            idxs.update(self._by_route.get((key[0], None), ()))
            idxs.update(self._by_route.get(ANY_WINDOWS, ()))
        bucket = self._bucket_type([(i, self.rules[i]) for i in sorted(idxs)])
        if len(self._buckets) < MAX_BUCKETS:
            self._buckets[key] = bucket
        return bucket

    def match(
        self, event: Mapping[str, Any], tenant: str | None = None, *, event_ref: str | None = None
    ) -> list[Match]:
        """Every rule matching the event. `event_ref` (e.g. topic/partition/offset) feeds the
        deterministic detection id; without it the id derives from the event's content."""
        candidates = self._dispatch.candidates(event)
        if not candidates:
            return []
        view = self._tenants.get(tenant) if tenant is not None else None
        filters = self._filters if view is None else view.filters
        out: list[Match] = []
        for idx, base in candidates:
            rule = base
            if view is not None:
                if idx in view.disabled:
                    continue
                rule = view.rules.get(idx, base)
            try:
                if not rule.fn(event):
                    continue
                flts = filters.get(idx)
                if flts and not all(f.fn(event) for f in flts):
                    continue
            except Exception as exc:  # a broken rule is counted and logged, never a silent miss
                self.errors[rule.info.id] += 1
                log.error("sigma rule raised", rule_id=rule.info.id, error=repr(exc))
                continue
            out.append(self.make_match(rule, event, tenant, event_ref))
        return out

    def make_match(
        self, rule: CompiledRule, event: Mapping[str, Any], tenant: str | None, event_ref: str | None
    ) -> Match:
        matched: dict[str, Any] = {}
        explain(rule.node, event, matched)
        ref = event_ref or event_digest(event)
        # Not validated: every field is built here from validated parts (the rule's RuleInfo, strings,
        # the event's values), and validating copied `matched` and checked each field again.
        return Match.model_construct(
            id=detection_id(rule.info.id, tenant, ref),
            rule=rule.info,
            matched=matched,
            tenant=tenant,
            event_ref=ref,
            pipeline=self.pipeline.label,
        )
