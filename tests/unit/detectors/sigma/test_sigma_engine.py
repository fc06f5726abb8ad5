"""Engine behaviour: routing, field mapping, load report, matches, prefilter soundness."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sigma_helpers import SYSMON, proc, rule_yaml

from detectors.sigma import Engine, RuleLoadError, load_rules
from detectors.sigma.naive import naive_match

MakeEngine = Callable[..., Engine]


def test_logsource_routing(make_engine: MakeEngine) -> None:
    """A process_creation rule runs on Sysmon 1 and Security 4688 only, not on other events."""
    engine = make_engine(rule_yaml("sel:\n  CommandLine|contains: 'whoami'\ncondition: sel"))
    assert engine.match(proc(CommandLine="whoami"))
    assert engine.match({"Channel": "Security", "EventID": 4688, "CommandLine": "whoami"})
    assert not engine.match({"Channel": SYSMON, "EventID": 3, "CommandLine": "whoami"})
    assert not engine.match({"CommandLine": "whoami"})  # no channel: not a Windows event


def test_security_4688_names(make_engine: MakeEngine) -> None:
    """On Security 4688, Image/ParentImage are read from NewProcessName/ParentProcessName."""
    engine = make_engine(rule_yaml("sel:\n  Image|endswith: '\\whoami.exe'\ncondition: sel"))
    assert engine.match({"Channel": "security", "EventID": 4688, "NewProcessName": "C:\\whoami.exe"})


def test_service_rule_narrowed_to_its_event_ids(make_engine: MakeEngine) -> None:
    """A service rule with an EventID equality is indexed (and evaluated) on that id only."""
    engine = make_engine(
        rule_yaml("sel:\n  EventID: 4728\ncondition: sel", logsource="product: windows\n  service: security")
    )
    assert engine.ruleset.rules[0].routes == [("security", 4728)]
    assert engine.match({"Channel": "Security", "EventID": 4728})
    assert not engine.match({"Channel": "Security", "EventID": 4729})


def test_ecs_fallback_names(make_engine: MakeEngine) -> None:
    """Events normalised to ECS match through the pipeline's mapping (original name tried first)."""
    engine = make_engine(rule_yaml("sel:\n  Image|endswith: '\\cmd.exe'\n  User: bob\ncondition: sel"))
    ecs = {
        "winlog.channel": SYSMON,
        "event.code": "1",
        "process.executable": "C:\\cmd.exe",
        "user.name": "bob",
    }
    assert engine.match(ecs)


def test_non_windows_rules_only_see_non_windows_events(make_engine: MakeEngine) -> None:
    """A linux rule never runs on Windows events, and runs on events without a channel."""
    engine = make_engine(
        rule_yaml(
            "sel:\n  CommandLine|contains: 'nc -e'\ncondition: sel",
            logsource="product: linux\n  category: process_creation",
        )
    )
    assert engine.match({"CommandLine": "nc -e /bin/sh"})
    assert not engine.match(proc(CommandLine="nc -e /bin/sh"))


def _non_windows_rules() -> dict[str, str]:
    """One rule per non-Windows logsource shape, each matching the word 'evil' anywhere it runs."""
    shapes = {
        "linux_proc": "product: linux\n  category: process_creation",
        "linux_sshd": "product: linux\n  service: sshd",
        "linux_any": "product: linux",
        "zeek_dns": "product: zeek\n  service: dns",
        "zeek_any": "product: zeek",
        "cloudtrail": "product: aws\n  service: cloudtrail",
        "webserver": "category: webserver",
        "macos": "product: macos\n  category: process_creation",
    }
    return {
        name: rule_yaml(
            "sel:\n  message|contains: 'evil'\ncondition: sel",
            logsource=ls,
            rule_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        )
        for name, ls in shapes.items()
    }


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ("auditd.log", {"linux_proc", "linux_any", "macos"}),
        ("syslog", {"linux_sshd", "linux_any", "macos"}),
        ("zeek.dns", {"zeek_dns", "zeek_any", "macos"}),
        ("zeek.http", {"zeek_any", "macos"}),
        ("aws.cloudtrail", {"cloudtrail", "macos"}),
        ("web.access", {"webserver", "macos"}),
        ("suricata.eve", {"macos"}),  # no rule routed to it: only products the pipeline does not know
        (
            None,
            {
                "linux_proc",
                "linux_sshd",
                "linux_any",
                "zeek_dns",
                "zeek_any",
                "cloudtrail",
                "webserver",
                "macos",
            },
        ),
    ],
)
def test_non_windows_rules_are_routed_on_the_dataset(
    make_engine: MakeEngine, dataset: str | None, expected: set[str]
) -> None:
    """Rules of known non-Windows products run only on their datasets (set by the ingest parsers); rules
    of unknown products on every non-Windows event; an event without a dataset gets them all. The
    naive evaluator agrees, and no Windows event sees any of them."""
    rules = _non_windows_rules()
    names = {str(uuid.uuid5(uuid.NAMESPACE_URL, n)): n for n in rules}
    engine = make_engine(*rules.values())
    event: dict[str, Any] = {"message": "evil things"}
    if dataset is not None:
        event["event.dataset"] = dataset
    fired = sorted(m.rule.id for m in engine.match(event))
    assert {names[i] for i in fired} == expected
    assert fired == sorted(naive_match(engine.ruleset, event))
    windows = proc(message="evil things")
    assert engine.match(windows) == [] and naive_match(engine.ruleset, windows) == []


def test_linux_rules_run_on_sysmon_for_linux(make_engine: MakeEngine) -> None:
    """Sysmon for Linux events (channel Linux-Sysmon/Operational) get the linux rules of their category,
    never the Windows Sysmon ones; auditd events get the linux rule too."""
    linux = rule_yaml(
        "sel:\n  CommandLine|contains: 'nc -e'\ncondition: sel",
        logsource="product: linux\n  category: process_creation",
        rule_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "linux")),
    )
    windows = rule_yaml(
        "sel:\n  CommandLine|contains: 'nc -e'\ncondition: sel",
        rule_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "win")),
    )
    engine = make_engine(linux, windows)
    events = {
        "sysmon_linux": {"Channel": "Linux-Sysmon/Operational", "EventID": 1, "CommandLine": "nc -e /bin/sh"},
        "sysmon_linux_net": {
            "Channel": "Linux-Sysmon/Operational",
            "EventID": 3,
            "CommandLine": "nc -e /bin/sh",
        },
        "auditd": {"event.dataset": "auditd.log", "process.command_line": "nc -e /bin/sh"},
        "windows": proc(CommandLine="nc -e /bin/sh"),
    }
    fired = {name: sorted(m.rule.id for m in engine.match(ev)) for name, ev in events.items()}
    assert fired == {
        "sysmon_linux": [str(uuid.uuid5(uuid.NAMESPACE_URL, "linux"))],
        "sysmon_linux_net": [],
        "auditd": [str(uuid.uuid5(uuid.NAMESPACE_URL, "linux"))],
        "windows": [str(uuid.uuid5(uuid.NAMESPACE_URL, "win"))],
    }
    for ev in events.values():
        assert sorted(m.rule.id for m in engine.match(ev)) == sorted(naive_match(engine.ruleset, ev))


def test_match_carries_rule_metadata_and_matched_fields(make_engine: MakeEngine) -> None:
    """A match has rule id, title, level, tags, ATT&CK ids, author, logsource and matched values."""
    rid = str(uuid.uuid4())
    engine = make_engine(
        rule_yaml(
            "sel:\n  Image|endswith: '\\cmd.exe'\nfilter:\n  User: admin\ncondition: sel and not filter",
            rule_id=rid,
        )
    )
    (m,) = engine.match(proc(Image="C:\\cmd.exe", User="bob"), tenant="acme")
    assert m.rule.id == rid and m.rule.level == "high" and m.rule.author == "tester"
    assert m.rule.title == "test rule"
    assert m.rule.logsource == {"product": "windows", "category": "process_creation"}
    assert "attack.t1059.001" in m.tags and m.attack == ("execution", "t1059.001")
    assert m.matched == {"Image": "C:\\cmd.exe"}  # the negated filter's fields are not "matched"
    assert m.tenant == "acme"


def test_detection_ids_are_deterministic(make_engine: MakeEngine) -> None:
    """Same rule, tenant and event give the same id; another tenant or event gives another."""
    engine = make_engine(rule_yaml("sel:\n  Image|endswith: '\\cmd.exe'\ncondition: sel"))
    ev = proc(Image="C:\\cmd.exe", EventRecordID=1)
    a, b = engine.match(ev, "t1")[0], engine.match(dict(ev), "t1")[0]
    assert a.id == b.id
    assert engine.match(ev, "t2")[0].id != a.id
    assert engine.match({**ev, "EventRecordID": 2}, "t1")[0].id != a.id
    assert engine.match(ev, "t1", event_ref="events/0/17")[0].event_ref == "events/0/17"


def test_load_report_lists_failures_with_reasons(tmp_path: Path) -> None:
    """Broken rules are listed with path and reason; strict mode refuses the whole set."""
    good = rule_yaml("sel:\n  User: a\ncondition: sel")
    unknown_ls = rule_yaml("sel:\n  User: a\ncondition: sel", logsource="product: windows\n  category: nope")
    bad_cond = rule_yaml("sel:\n  User: a\ncondition: sel and missing")
    for name, text in (("good", good), ("ls", unknown_ls), ("cond", bad_cond)):
        (tmp_path / f"{name}.yml").write_text(text)
    (tmp_path / "broken.yml").write_text("title: [unclosed")
    rs = load_rules([tmp_path])
    assert rs.report.loaded == 1
    reasons = {Path(p.path or "").stem: (p.kind, p.reason) for p in rs.report.failed}
    assert reasons["ls"][0] == "logsource" and "category=nope" in reasons["ls"][1]
    assert reasons["cond"][0] == "parse"
    assert reasons["broken"][0] == "parse"
    with pytest.raises(RuleLoadError) as err:
        load_rules([tmp_path], strict=True)
    assert len(err.value.report.failed) == 3


def test_rule_that_raises_is_counted_not_silent(make_engine: MakeEngine) -> None:
    """An exception inside a rule is counted per rule id and logged, and other rules still run."""
    engine = make_engine(
        rule_yaml("sel:\n  User: a\ncondition: sel"), rule_yaml("sel:\n  User: a\ncondition: sel")
    )
    broken = engine.rules[0]

    def boom(_: Any) -> bool:
        raise RuntimeError("boom")

    broken.fn = boom
    assert len(engine.match(proc(User="a"))) == 1
    assert engine.errors[broken.info.id] == 1


def test_prefilter_agrees_with_naive_evaluator(make_engine: MakeEngine) -> None:
    """Routing and the literal prefilter never lose a match the naive evaluator finds."""
    rules = [
        rule_yaml("sel:\n  CommandLine|contains|all: ['-nop', 'hidden']\ncondition: sel"),
        rule_yaml("sel:\n  Image|endswith: ['\\a.exe', '\\b.exe']\n  User: x\ncondition: sel"),
        rule_yaml("sel:\n  CommandLine|re: 'evil[0-9]+\\.ps1'\ncondition: sel"),
        rule_yaml("keywords: ['mimikatz']\ncondition: keywords", logsource="product: windows"),
        rule_yaml("sel:\n  Image|endswith: '\\c.exe'\nf:\n  User: y\ncondition: sel and not f"),
    ]
    engine = make_engine(*rules)
    events = [
        proc(CommandLine=c, Image=i, User=u)
        for c in ("x -NOP -w HIDDEN", "evil12.ps1", "EVIL1.ps1", "Mimikatz", "none", "")
        for i in ("c:\\A.exe", "c:\\c.exe", "c:\\z.exe")
        for u in ("x", "y")
    ]
    for ev in events:
        assert sorted(m.rule.id for m in engine.match(ev)) == sorted(naive_match(engine.ruleset, ev))


def test_prefilter_memo_turnover_keeps_agreeing(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With memos of four values, a stream of one-off values fills and empties them again and again
    (the previous generation then answers for the repeated values): the engine still agrees with the
    naive evaluator on every event, the repeated hits included."""
    from detectors.sigma import literals, prefilter

    monkeypatch.setattr(prefilter, "PICKED_SIZE", 4)
    monkeypatch.setattr(literals, "MEMO_SIZE", 4)
    engine = make_engine(
        rule_yaml("sel:\n  CommandLine|contains: mimikatz\ncondition: sel"),
        rule_yaml("keywords: ['rubeus']\ncondition: keywords", logsource="product: windows"),
    )
    events = []
    for i in range(40):
        events.append(proc(CommandLine=f"run {i}", UtcTime=f"2026-12-07 04:{i:02d}"))
        events.append(proc(CommandLine="x mimikatz y", Image="c:\\rubeus.exe", UtcTime=f"t{i}"))
    fired = 0
    for ev in events:
        found = sorted(m.rule.id for m in engine.match(ev))
        assert found == sorted(naive_match(engine.ruleset, ev))
        fired += len(found)
    assert fired == 80


def test_buckets_sharing_a_keyword_search_keep_their_own_clause_ids(make_engine: MakeEngine) -> None:
    """Every Windows bucket shares one search (and its value memo) for the same keyword literals,
    while the keyword's clause id differs per bucket (here 1 in process creation, after the field
    rule's clause, and 0 in Security). A value learned in one bucket must fire the right rule in the
    other, and a field hit must not be taken for the keyword or the reverse."""
    field_rule = rule_yaml("sel:\n  CommandLine|contains: abcdef\ncondition: sel", rule_id=str(uuid.uuid4()))
    keyword_id = str(uuid.uuid4())
    keyword_rule = rule_yaml(
        "keywords: ['mimikatz']\ncondition: keywords", logsource="product: windows", rule_id=keyword_id
    )
    engine = make_engine(field_rule, keyword_rule)
    security = {"Channel": "Security", "EventID": 4624, "Note": "run MIMIKATZ now"}
    events = [
        proc(Note="run MIMIKATZ now"),
        security,
        proc(CommandLine="x abcdef"),
        dict(security, Note="quiet"),
        proc(CommandLine="x abcdef", Note="run MIMIKATZ now"),
    ]
    for _ in range(2):  # the second round answers from the shared memo
        found = [sorted(m.rule.id for m in engine.match(ev)) for ev in events]
        assert found == [sorted(naive_match(engine.ruleset, ev)) for ev in events]
        assert [len(f) for f in found] == [1, 1, 1, 0, 2]
        assert found[1] == [keyword_id]
    proc_kw, security_kw = (engine.bucket(engine._route(ev))._keywords for ev in events[:2])
    assert proc_kw is not None and security_kw is not None
    assert proc_kw.search is security_kw.search
    assert proc_kw.clauses != security_kw.clauses
