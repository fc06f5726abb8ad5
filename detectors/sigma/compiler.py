"""One pySigma rule -> a LoweredRule (plain data, cached) -> a CompiledRule (closures, per process).

`lower_rule` is the pySigma step: metadata, routes and the condition's intermediate form (ir.py).
`build_rule` makes the matcher from that form with the placeholder values of the day; it needs no
pySigma, so a warm start builds every rule from the cache without parsing a single YAML file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.sigma.conditions import Clause, Compiler, Fn, Node, required_ints, requirements
from detectors.sigma.ir import IrNode
from detectors.sigma.model import RuleInfo
from detectors.sigma.modifiers import UnsupportedValueError
from detectors.sigma.pipeline import Pipeline, RouteKey, route_order
from detectors.sigma.rule_memo import rule_matcher


class RuleCompileError(ValueError):
    """The rule uses something the engine cannot evaluate; the message says what."""

    def __init__(self, reason: str, kind: str = "unsupported") -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(frozen=True)
class LoweredRule:
    """What the cache keeps of a rule: metadata, routes, condition, prefilter clauses, placeholders."""

    info: dict[str, Any]  # RuleInfo fields
    ir: IrNode
    routes: tuple[RouteKey, ...]
    clauses: tuple[Clause, ...] = ()
    placeholders: frozenset[str] = frozenset()

    def record(self) -> tuple[Any, ...]:
        """Plain data for the cache (marshal)."""
        return (self.info, self.ir, self.routes, self.clauses, self.placeholders)

    @classmethod
    def from_record(cls, rec: Sequence[Any]) -> LoweredRule:
        info, ir, routes, clauses, placeholders = rec
        return cls(info, ir, tuple(tuple(r) for r in routes), tuple(clauses), frozenset(placeholders))


class CompiledRule:
    """A rule ready to match. Its matcher is built from the lowered form on first use: a warm start
    then pays only for the rules the events actually reach (a bad rule was refused when lowered)."""

    __slots__ = (
        "_info",
        "_info_data",
        "_node",
        "clauses",
        "fn",
        "ir",
        "load_source",
        "loaded_source",
        "placeholders",
        "routes",
    )

    def __init__(  # noqa: PLR0917 - built in two places, both in this module
        self,
        info: RuleInfo | dict[str, Any],
        ir: IrNode,
        routes: list[RouteKey],
        clauses: list[Clause],
        placeholders: frozenset[str] = frozenset(),
        node: Node | None = None,
    ) -> None:
        # The metadata as a model on first use: most rules of a warm start never match anything.
        self._info: RuleInfo | None = info if isinstance(info, RuleInfo) else None
        self._info_data: dict[str, Any] | None = info if isinstance(info, dict) else None
        self.ir = ir
        self.routes = routes
        self.clauses = clauses
        self.placeholders = placeholders
        self._node = node
        self.fn: Fn = rule_matcher(node, ir) if node is not None else self._first_call
        # The pySigma rule, parsed on first use only (correlations need it; matching never does).
        self.load_source: Callable[[], Any] | None = None
        self.loaded_source: Any = None

    def _first_call(self, event: Mapping[str, Any]) -> bool:
        return self.node.fn(event)

    @property
    def info(self) -> RuleInfo:
        if self._info is None:
            self._info = RuleInfo.model_construct(**(self._info_data or {}))
            self._info_data = None
        return self._info

    @info.setter
    def info(self, value: RuleInfo) -> None:
        self._info, self._info_data = value, None

    @property
    def node(self) -> Node:
        if self._node is None:
            self._node, _ = build_node(self.ir)
            self.fn = rule_matcher(self._node, self.ir)
        return self._node

    @property
    def source(self) -> Any:
        if self.loaded_source is None and self.load_source is not None:
            self.loaded_source = self.load_source()
            self.load_source = None
        return self.loaded_source

    def __repr__(self) -> str:
        return f"CompiledRule({self.info.id!r}, {self.info.title!r})"


def rule_info(rule: Any, path: str | None) -> dict[str, Any]:
    ls = rule.logsource
    logsource = {
        k: v for k, v in (("product", ls.product), ("category", ls.category), ("service", ls.service)) if v
    }
    level = getattr(rule.level, "name", None)
    status = getattr(rule.status, "name", None)
    return RuleInfo(
        id=str(rule.id) if rule.id else f"title:{rule.title}",
        name=rule.name,
        title=rule.title,
        level=level.lower() if level else None,
        status=status.lower() if status else None,
        author=rule.author,
        tags=tuple(str(t) for t in rule.tags),
        logsource=logsource,
        path=path,
    ).model_dump()


def lower_node(rule: Any, pipeline: Pipeline) -> IrNode:
    """The lowered condition(s) of a pySigma rule: several conditions are joined by OR."""
    from detectors.sigma.lower import lower_condition

    try:
        trees: list[Any] = [c.parsed for c in rule.detection.parsed_condition]
        nodes = [lower_condition(t, pipeline, rule.logsource) for t in trees]
    except UnsupportedValueError as exc:
        raise RuleCompileError(str(exc)) from exc
    except Exception as exc:  # pySigma raises many types for bad conditions
        raise RuleCompileError(f"condition: {exc}", kind="parse") from exc
    return nodes[0] if len(nodes) == 1 else ("or", tuple(nodes))


def build_node(
    ir: IrNode, placeholders: Mapping[str, Sequence[str]] | None = None
) -> tuple[Node, frozenset[str]]:
    """The matcher tree of a lowered condition, and the placeholders it uses."""
    compiler = Compiler(placeholders)
    try:
        node = compiler.compile(ir)
    except UnsupportedValueError as exc:
        raise RuleCompileError(str(exc)) from exc
    except (ValueError, KeyError, TypeError) as exc:  # e.g. a regex `re` refuses
        raise RuleCompileError(f"condition: {exc}", kind="parse") from exc
    return node, frozenset(compiler.used_placeholders)


def narrow_routes(routes: Sequence[RouteKey], node: Node) -> list[RouteKey]:
    """Channel-wide routes narrowed to the EventIDs the condition itself requires.

    A `service: security` rule with `EventID: 4728` is then indexed under (security, 4728) and
    never looked at for other Security events. Rules whose EventID test is not a plain equality
    keep their channel-wide route.
    """
    eids = required_ints(node, "EventID")
    if eids is None:
        return list(routes)
    out: set[RouteKey] = set()
    for ch, eid in routes:
        if ch in ("", "*") or ch.startswith("@"):  # only Windows channels have event ids
            return list(routes)
        if eid is None:
            out.update((ch, e) for e in eids)
        elif eid in eids:
            out.add((ch, eid))
    return sorted(out, key=route_order)


def lower_rule(rule: Any, pipeline: Pipeline, path: str | None = None) -> LoweredRule:
    """The cacheable form of a pySigma rule; RuleCompileError says why a rule cannot be run."""
    if rule.errors:
        raise RuleCompileError("; ".join(str(e) for e in rule.errors), kind="parse")
    routes = pipeline.routes(rule.logsource)
    if isinstance(routes, str):
        raise RuleCompileError(routes, kind="logsource")
    ir = lower_node(rule, pipeline)
    node, used = build_node(ir)  # refuses what cannot be built (bad regex, ...) before it is cached
    return LoweredRule(
        info=rule_info(rule, path),
        ir=ir,
        routes=tuple(narrow_routes(routes, node)),
        clauses=tuple(requirements(node)),
        placeholders=used,
    )


def build_rule(
    lowered: LoweredRule,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    *,
    info: RuleInfo | None = None,
) -> CompiledRule:
    """A rule from its lowered form. Without placeholders the matcher is built on first use; with
    them, now (RuleCompileError when a placeholder value makes the rule invalid)."""
    rinfo: RuleInfo | dict[str, Any] = info or lowered.info
    if not lowered.placeholders:
        return CompiledRule(rinfo, lowered.ir, list(lowered.routes), list(lowered.clauses))
    node, used = build_node(lowered.ir, placeholders)
    return CompiledRule(rinfo, lowered.ir, list(lowered.routes), requirements(node), used, node)


def compile_rule(
    rule: Any,
    pipeline: Pipeline,
    path: str | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> CompiledRule:
    """pySigma rule -> CompiledRule in one step."""
    compiled = build_rule(lower_rule(rule, pipeline, path), placeholders)
    compiled.loaded_source = rule
    return compiled
