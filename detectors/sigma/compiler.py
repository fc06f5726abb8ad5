"""One pySigma rule -> one CompiledRule: metadata, matcher closure, routes and prefilter clauses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.rule import SigmaRule

from detectors.sigma.conditions import Clause, Compiler, Fn, Node, required_ints, requirements
from detectors.sigma.model import RuleInfo
from detectors.sigma.modifiers import UnsupportedValueError
from detectors.sigma.pipeline import Pipeline, RouteKey, route_order


class RuleCompileError(ValueError):
    """The rule uses something the engine cannot evaluate; the message says what."""

    def __init__(self, reason: str, kind: str = "unsupported") -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(eq=False)
class CompiledRule:
    info: RuleInfo
    fn: Fn
    node: Node
    routes: list[RouteKey]
    clauses: list[Clause]
    placeholders: frozenset[str] = frozenset()
    source: SigmaRule | None = field(default=None, repr=False)


def rule_info(rule: SigmaRule, path: str | None) -> RuleInfo:
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
    )


def compile_node(
    rule: SigmaRule, pipeline: Pipeline, placeholders: Mapping[str, Sequence[str]] | None = None
) -> tuple[Node, frozenset[str]]:
    """The matcher tree of a rule's condition(s): several conditions are joined by OR."""
    compiler = Compiler(pipeline, rule.logsource, placeholders)
    try:
        trees: list[Any] = [c.parsed for c in rule.detection.parsed_condition]
        nodes = [compiler.compile(t) for t in trees]
    except UnsupportedValueError as exc:
        raise RuleCompileError(str(exc)) from exc
    except Exception as exc:  # pySigma raises many types for bad conditions
        raise RuleCompileError(f"condition: {exc}", kind="parse") from exc
    if len(nodes) == 1:
        node = nodes[0]
    else:
        fns = tuple(n.fn for n in nodes)
        node = Node("or", lambda e: any(f(e) for f in fns), tuple(nodes))
    return node, frozenset(compiler.used_placeholders)


def narrow_routes(routes: list[RouteKey], node: Node) -> list[RouteKey]:
    """Channel-wide routes narrowed to the EventIDs the condition itself requires.

    A `service: security` rule with `EventID: 4728` is then indexed under (security, 4728) and
    never looked at for other Security events. Rules whose EventID test is not a plain equality
    keep their channel-wide route.
    """
    eids = required_ints(node, "EventID")
    if eids is None:
        return routes
    out: set[RouteKey] = set()
    for ch, eid in routes:
        if ch in ("", "*") or ch.startswith("@"):  # only Windows channels have event ids
            return routes
        if eid is None:
            out.update((ch, e) for e in eids)
        elif eid in eids:
            out.add((ch, eid))
    return sorted(out, key=route_order)


def compile_rule(
    rule: SigmaRule,
    pipeline: Pipeline,
    path: str | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> CompiledRule:
    if rule.errors:
        raise RuleCompileError("; ".join(str(e) for e in rule.errors), kind="parse")
    routes = pipeline.routes(rule.logsource)
    if isinstance(routes, str):
        raise RuleCompileError(routes, kind="logsource")
    node, used = compile_node(rule, pipeline, placeholders)
    return CompiledRule(
        info=rule_info(rule, path),
        fn=node.fn,
        node=node,
        routes=narrow_routes(routes, node),
        clauses=requirements(node),
        placeholders=used,
        source=rule,
    )
