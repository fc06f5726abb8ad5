"""Correlation rules over streaming windows: every type, group-by, out-of-order and late events,
state snapshot/restore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sigma_helpers import proc, rule_yaml

from detectors.sigma import CorrelationEngine, CorrelationState, Engine

MakeEngine = Callable[..., Engine]
A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
BASE_A = rule_yaml("sel:\n  CommandLine|contains: 'alpha'\ncondition: sel", rule_id=A).replace(
    "title: test rule", "title: rule a\nname: rule_a"
)
BASE_B = rule_yaml("sel:\n  CommandLine|contains: 'beta'\ncondition: sel", rule_id=B).replace(
    "title: test rule", "title: rule b\nname: rule_b"
)


def corr(
    ctype: str,
    condition: str = "",
    *,
    rules: str = "[rule_a]",
    group: str = "[Computer]",
    timespan: str = "60s",
    extra: str = "",
) -> str:
    cond = f"\n  condition: {condition}" if condition else ""
    return (
        f"title: corr {ctype}\nid: cccccccc-0000-4000-8000-000000000003\nlevel: high\n"
        f"correlation:\n  type: {ctype}\n  rules: {rules}\n  group-by: {group}\n"
        f"  timespan: {timespan}{cond}{extra}\n"
    )


class Feeder:
    """Runs events through engine and correlator with explicit event times (seconds)."""

    def __init__(self, engine: Engine, correlator: CorrelationEngine) -> None:
        self.engine, self.correlator = engine, correlator

    def __call__(
        self, t: float, cmd: str, host: str = "h1", tenant: str | None = "acme", **kw: Any
    ) -> list[Any]:
        event = proc(CommandLine=cmd, Computer=host, **kw)
        out = []
        for m in self.engine.match(event, tenant, event_ref=f"{host}/{t}/{cmd}"):
            out += self.correlator.feed(m, event, tenant, float(t))
        return out


def make_feeder(make_engine: MakeEngine, *texts: str, lateness: float = 0.0) -> Feeder:
    engine = make_engine(BASE_A, BASE_B, *texts)
    assert engine.ruleset.report.correlations == len(texts)
    return Feeder(engine, CorrelationEngine(engine.ruleset, allowed_lateness=lateness))


def test_event_count_with_group_by(make_engine: MakeEngine) -> None:
    """event_count fires when a group reaches the count inside the timespan; groups are separate."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 3}"))
    assert feed(0, "alpha") == [] and feed(10, "alpha", host="h2") == [] and feed(20, "alpha") == []
    (fired,) = feed(30, "alpha")
    assert fired.group == {"Computer": "h1"} and fired.value == 3 and fired.type == "event_count"
    assert len(fired.event_refs) == 3
    assert feed(40, "alpha") == []  # the burst was consumed: one correlation per burst


def test_event_count_outside_timespan_does_not_fire(make_engine: MakeEngine) -> None:
    """Matches further apart than the timespan never share a window."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 2}"))
    assert feed(0, "alpha") == [] and feed(61, "alpha") == []


def test_out_of_order_events_land_in_their_window(make_engine: MakeEngine) -> None:
    """An event arriving late but inside the allowed lateness counts in its own window."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 3}"), lateness=120)
    assert feed(100, "alpha") == [] and feed(200, "alpha") == []
    assert feed(95, "alpha") == []  # out of order, but the window 95..155 holds only 95 and 100
    (fired,) = feed(150, "alpha")  # now 95, 100, 150 lie within 60s
    assert fired.window_start == 95 and fired.window_end == 150


def test_late_events_are_dropped_and_counted(make_engine: MakeEngine) -> None:
    """A match older than watermark - timespan - lateness cannot open a window: counted, dropped."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 2}"), lateness=10)
    feed(1000, "alpha")
    assert feed(900, "alpha") == []
    assert feed.correlator.late_dropped == 1


def test_value_count(make_engine: MakeEngine) -> None:
    """value_count counts distinct values of the condition field per group."""
    feed = make_feeder(make_engine, corr("value_count", "{gte: 3, field: User}"))
    assert feed(0, "alpha", User="u1") == [] and feed(1, "alpha", User="u1") == []
    assert feed(2, "alpha", User="u2") == []
    (fired,) = feed(3, "alpha", User="u3")
    assert fired.value == 3


def test_temporal_needs_all_rules(make_engine: MakeEngine) -> None:
    """temporal fires when every referenced rule matched in the window, in any order."""
    feed = make_feeder(make_engine, corr("temporal", rules="[rule_a, rule_b]"))
    assert feed(10, "beta") == []
    (fired,) = feed(20, "alpha")
    assert fired.rules == sorted([A, B])


def test_temporal_extended_condition(make_engine: MakeEngine) -> None:
    """An extended temporal condition is a boolean expression over the referenced rules."""
    feed = make_feeder(make_engine, corr("temporal", "'rule_a or rule_b'", rules="[rule_a, rule_b]"))
    assert len(feed(10, "beta")) == 1


def test_temporal_ordered(make_engine: MakeEngine) -> None:
    """temporal_ordered needs the referenced rules in their listed order (by event time)."""
    feed = make_feeder(make_engine, corr("temporal_ordered", rules="[rule_a, rule_b]"))
    assert feed(10, "beta") == [] and feed(20, "alpha") == []  # b before a: no
    assert len(feed(30, "beta")) == 1  # a (20) then b (30)


def test_temporal_ordered_with_out_of_order_arrival(make_engine: MakeEngine) -> None:
    """Order is by event time, not arrival: b at t=30 arriving before a at t=20 still fires."""
    feed = make_feeder(make_engine, corr("temporal_ordered", rules="[rule_a, rule_b]"), lateness=60)
    assert feed(30, "beta") == []
    assert len(feed(20, "alpha")) == 1


@pytest.mark.parametrize(
    ("ctype", "cond", "values", "fires_at"),
    [
        ("value_sum", "{gte: 100, field: Bytes}", [40, 50, 20], 2),
        ("value_avg", "{gt: 30, field: Bytes}", [10, 80, 20], 1),
        ("value_median", "{gte: 50, field: Bytes}", [60, 10, 20], 0),
        ("value_percentile", "{gte: 90, field: Bytes, percentile: 95}", [10, 20, 95], 2),
    ],
)
def test_value_aggregations(
    make_engine: MakeEngine, ctype: str, cond: str, values: list[int], fires_at: int
) -> None:
    """value_sum / value_avg / value_median / value_percentile aggregate a numeric field."""
    feed = make_feeder(make_engine, corr(ctype, cond))
    results = [feed(i, "alpha", Bytes=v) for i, v in enumerate(values)]
    assert [bool(r) for r in results] == [i == fires_at for i in range(len(values))]


def test_lt_condition_fires_when_window_closes(make_engine: MakeEngine) -> None:
    """A 'fewer than' condition is decided when the window closes (watermark past its end)."""
    feed = make_feeder(make_engine, corr("event_count", "{lt: 3}"))
    assert feed(0, "alpha") == [] and feed(10, "alpha") == []
    fired = feed.correlator.advance("acme", now=100)
    assert len(fired) == 1 and fired[0].value == 2


def test_tenants_are_isolated(make_engine: MakeEngine) -> None:
    """Windows are keyed by tenant: two tenants' matches never add up."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 2}"))
    assert feed(0, "alpha", tenant="t1") == [] and feed(1, "alpha", tenant="t2") == []
    assert len(feed(2, "alpha", tenant="t1")) == 1


def test_state_survives_restart(make_engine: MakeEngine) -> None:
    """snapshot() -> JSON -> restore() in a new engine continues the open windows, same ids."""
    text = corr("event_count", "{gte: 3}")
    first = make_feeder(make_engine, text)
    first(0, "alpha")
    first(10, "alpha")
    saved = first.correlator.snapshot().model_dump_json()

    second = make_feeder(make_engine, text)
    second.correlator.restore(CorrelationState.model_validate_json(saved))
    (fired,) = second(20, "alpha")
    (reference,) = first(20, "alpha")
    assert fired.id == reference.id  # deterministic across workers


def test_changed_groups_for_compacted_topic(make_engine: MakeEngine) -> None:
    """changed() lists each modified group once (empty after firing), ready for a compacted topic."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 2}"))
    feed(0, "alpha")
    (g,) = feed.correlator.changed()
    assert g.tenant == "acme" and len(g.entries) == 1
    feed(1, "alpha")
    (g,) = feed.correlator.changed()
    assert g.entries == []  # consumed by the firing: a tombstone-like empty group
    other = CorrelationEngine(feed.engine.ruleset)
    other.restore([g])
    assert other.snapshot().groups == []


def test_one_tenants_state_moves_alone(make_engine: MakeEngine) -> None:
    """snapshot_tenant/restore_tenant carry one tenant's windows and watermark, not another's, and the
    restored windows fire with the same ids as if nothing had stopped."""
    text = corr("event_count", "{gte: 3}")
    first = make_feeder(make_engine, text)
    first(0, "alpha", tenant="t1")
    first(1, "alpha", tenant="t1")
    first(2, "alpha", tenant="t2")
    saved = first.correlator.snapshot_tenant("t1")
    assert saved is not None and first.correlator.snapshot_tenant("t3") is None
    assert {g["tenant"] for g in saved["groups"]} == {"t1"} and set(saved["watermarks"]) == {"t1"}

    second = make_feeder(make_engine, text)
    second.correlator.restore_tenant("t1", saved)
    assert second.correlator.tenants() == ["t1"]
    (fired,) = second(20, "alpha", tenant="t1")
    (reference,) = first(20, "alpha", tenant="t1")
    assert fired.id == reference.id


def test_restore_drops_windows_of_a_gone_or_regrouped_correlation(make_engine: MakeEngine) -> None:
    """Restored windows of a correlation no longer loaded, or now grouped by other fields, are dropped:
    they could never close or fire right. Windows of an unchanged correlation are kept."""
    first = make_feeder(make_engine, corr("event_count", "{gte: 3}"))
    first(0, "alpha")
    saved = first.correlator.snapshot_tenant("acme")
    assert saved is not None
    regrouped = make_feeder(make_engine, corr("event_count", "{gte: 3}", group="[User]"))
    regrouped.correlator.restore_tenant("acme", saved)
    assert regrouped.correlator.snapshot().groups == []
    gone = CorrelationEngine(make_engine(BASE_A).ruleset)
    gone.restore_tenant("acme", saved)
    assert gone.snapshot().groups == []
    same = make_feeder(make_engine, corr("event_count", "{gte: 2}"))  # another threshold, same group-by
    same.correlator.restore_tenant("acme", saved)
    assert len(same(10, "alpha")) == 1


def test_generate_false_keeps_base_matches_for_the_correlation_only(make_engine: MakeEngine) -> None:
    """Sigma's default (`generate: false`): the referenced rule still matches, so the correlation is fed,
    but its matches are marked as no alert of their own; an unreferenced rule and `generate: true`
    keep alerting."""
    silent = make_engine(BASE_A, BASE_B, corr("event_count", "{gte: 2}"))
    by_rule = {m.rule.id: m.rule.output for m in silent.match(proc(CommandLine="alpha beta"), "acme")}
    assert by_rule == {A: False, B: True}
    assert silent.ruleset.report.silent == 1
    assert "1 only feeding correlations" in silent.ruleset.report.summary()

    loud = make_engine(BASE_A, BASE_B, corr("event_count", "{gte: 2}", extra="\n  generate: true"))
    assert all(m.rule.output for m in loud.match(proc(CommandLine="alpha beta"), "acme"))
    assert loud.ruleset.report.silent == 0


def test_a_correlation_that_fails_to_load_silences_nothing(make_engine: MakeEngine) -> None:
    """A correlation refused at load (here: a rule reference that does not exist) must not switch off
    the alerts of the rules it names: nothing would ever report their matches."""
    broken = corr("event_count", "{gte: 2}", rules="[rule_a, no_such_rule]")
    engine = make_engine(BASE_A, BASE_B, broken, strict=False)
    assert engine.ruleset.report.correlations == 0 and engine.ruleset.report.failed
    assert all(m.rule.output for m in engine.match(proc(CommandLine="alpha"), "acme"))


CHAINED = (
    "title: corr chained\nid: dddddddd-0000-4000-8000-000000000004\nlevel: critical\n"
    "correlation:\n  type: event_count\n  rules: [cccccccc-0000-4000-8000-000000000003]\n"
    "  group-by: [Computer]\n  timespan: 10m\n  condition: {gte: 2}\n"
)


def test_chained_correlation_counts_the_matches_of_another(make_engine: MakeEngine) -> None:
    """A correlation may reference a correlation (Sigma 2): the inner one's matches feed the outer at the
    end of their window with their group-by values. Two bursts of two alphas on h1 fire the outer once;
    the inner matches only feed it (`generate: false`), the outer's are alerts."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 2}"), CHAINED)
    assert feed(0, "alpha") == []
    (inner,) = feed(10, "alpha")
    assert inner.correlation_id == "cccccccc-0000-4000-8000-000000000003" and not inner.output
    assert feed(20, "alpha", host="h2") == []  # another group of the outer correlation
    assert feed(100, "alpha") == []  # 10 was consumed by the first inner match
    inner2, outer = feed(110, "alpha")
    assert (inner2.output, outer.output) == (False, True)
    assert outer.correlation_id == "dddddddd-0000-4000-8000-000000000004"
    assert outer.group == {"Computer": "h1"} and outer.value == 2
    assert sorted(outer.event_refs) == sorted([inner.id, inner2.id])


def test_chained_correlation_state_survives_a_restart(make_engine: MakeEngine) -> None:
    """The outer correlation's window (holding an inner match) is saved and restored like any other."""
    texts = (corr("event_count", "{gte: 2}"), CHAINED)
    first = make_feeder(make_engine, *texts)
    first(0, "alpha")
    first(10, "alpha")
    saved = first.correlator.snapshot().model_dump_json()
    second = make_feeder(make_engine, *texts)
    second.correlator.restore(CorrelationState.model_validate_json(saved))
    second(100, "alpha")
    fired = second(110, "alpha")
    assert [m.correlation_id for m in fired if m.output] == ["dddddddd-0000-4000-8000-000000000004"]


def test_a_chain_on_a_refused_correlation_is_refused_too(make_engine: MakeEngine) -> None:
    """The outer correlation cannot run when the one it references was refused: both are in the report."""
    inner = corr("temporal_ordered", "'rule_a and rule_b'", rules="[rule_a, rule_b]")  # unsupported form
    engine = make_engine(BASE_A, BASE_B, inner, CHAINED, strict=False)
    correlator = CorrelationEngine(engine.ruleset)
    assert correlator.rules == []
    reasons = sorted(p.reason for p in engine.ruleset.report.failed)
    assert reasons == [
        "extended conditions on temporal_ordered are not supported",
        "references correlation 'cccccccc-0000-4000-8000-000000000003', which did not load",
    ]


def test_extended_condition_without_a_rules_list(make_engine: MakeEngine) -> None:
    """An extended temporal condition may name its rules only in the condition (no `rules:` list)."""
    text = (
        "title: corr ext\nid: eeeeeeee-0000-4000-8000-000000000005\nlevel: high\n"
        "correlation:\n  type: temporal\n  group-by: [Computer]\n  timespan: 60s\n"
        "  condition: 'rule_a and rule_b'\n"
    )
    feed = make_feeder(make_engine, text)
    assert feed(0, "alpha") == []
    (fired,) = feed(5, "beta")
    assert fired.rules == sorted([A, B])


def test_an_inner_correlation_alerts_when_the_chain_says_generate(make_engine: MakeEngine) -> None:
    """`generate: true` on the outer correlation keeps the inner one's matches as alerts."""
    feed = make_feeder(make_engine, corr("event_count", "{gte: 2}"), CHAINED + "  generate: true\n")
    feed(0, "alpha")
    (inner,) = feed(10, "alpha")
    assert inner.output


def test_the_tail_of_a_burst_is_not_a_quiet_window(make_engine: MakeEngine) -> None:
    """'Fewer than' windows tumble: three matches within one window are decided once (not fewer than 2),
    and the window that would start at the burst's last match does not fire on its own."""
    feed = make_feeder(make_engine, corr("event_count", "{lt: 2}"))
    for t in (0, 20, 40):
        assert feed(t, "alpha") == []
    assert feed.correlator.advance("acme", now=1000) == []
    feed(2000, "alpha")
    (quiet,) = feed.correlator.advance("acme", now=3000)
    assert quiet.value == 1 and quiet.window_start == 2000
