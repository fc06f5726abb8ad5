"""Every condition form: and/or/not, parentheses, 1 of / all of, them, name patterns, keywords.

Each test runs with the matcher closures made by the pure-Python matchers.py and by its mypyc-compiled
copy (native.py, hatch_build.py)."""

# ruff: noqa: RUF001, RUF002 - Greek capitals are the point of the final-sigma test
from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from sigma_helpers import proc, rule_yaml

Check = Callable[..., bool]
pytestmark = pytest.mark.usefixtures("matchers_impl")

DET = """
sel_a:
  Image|endswith: '\\a.exe'
sel_b:
  CommandLine|contains: 'bee'
filter_x:
  User: 'admin'
condition: {cond}
"""


@pytest.mark.parametrize(
    ("cond", "event", "expected"),
    [
        ("sel_a and sel_b", {"Image": "c:\\a.exe", "CommandLine": "bee"}, True),
        ("sel_a and sel_b", {"Image": "c:\\a.exe"}, False),
        ("sel_a or sel_b", {"CommandLine": "bee"}, True),
        ("sel_a and not filter_x", {"Image": "c:\\a.exe", "User": "admin"}, False),
        ("sel_a and not filter_x", {"Image": "c:\\a.exe", "User": "bob"}, True),
        ("not (sel_a or sel_b)", {"Image": "c:\\z.exe"}, True),
        ("(sel_a or sel_b) and filter_x", {"CommandLine": "bee", "User": "admin"}, True),
        ("1 of sel_*", {"CommandLine": "bee"}, True),
        ("all of sel_*", {"CommandLine": "bee"}, False),
        ("all of sel_*", {"Image": "c:\\a.exe", "CommandLine": "bee"}, True),
        ("1 of them", {"User": "admin"}, True),
        ("all of them", {"Image": "c:\\a.exe", "CommandLine": "bee"}, False),
        ("all of them", {"Image": "c:\\a.exe", "CommandLine": "bee", "User": "admin"}, True),
        ("1 of sel_* and not 1 of filter_*", {"Image": "c:\\a.exe", "User": "admin"}, False),
        ("sel_a and not sel_b or filter_x", {"User": "admin"}, True),  # not > and > or
    ],
)
def test_condition_forms(matches: Check, cond: str, event: dict[str, str], expected: bool) -> None:
    """The condition expression decides, with Sigma's precedence (not, then and, then or)."""
    assert matches(DET.format(cond=cond), proc(**event)) is expected


def test_selection_map_is_and_of_fields(matches: Check) -> None:
    """Fields in one selection map are ANDed."""
    det = "sel:\n  Image|endswith: '\\a.exe'\n  User: bob\ncondition: sel"
    assert matches(det, proc(Image="x\\a.exe", User="bob"))
    assert not matches(det, proc(Image="x\\a.exe", User="eve"))


def test_list_of_maps_is_or(matches: Check) -> None:
    """A selection that is a list of maps matches when any map does."""
    det = "sel:\n  - Image|endswith: '\\a.exe'\n  - User: bob\ncondition: sel"
    assert matches(det, proc(User="bob"))
    assert not matches(det, proc(User="eve"))


def test_keywords_search_all_values(matches: Check) -> None:
    """Keyword lists match when any value of the event contains one of them, ignoring case."""
    det = "keywords:\n  - 'sekurlsa::logonpasswords'\n  - 'kiwi'\ncondition: keywords"
    assert matches(det, proc(CommandLine="mimikatz SEKURLSA::LogonPasswords exit"))
    assert matches(det, proc(Data=["a", "KIWI"]))
    assert not matches(det, proc(CommandLine="whoami"))


def test_keyword_match_names_the_field(make_engine: Any) -> None:
    """A keyword match reports the field (and value) the keyword was found in."""
    engine = make_engine(rule_yaml("keywords: ['kiwi']\ncondition: keywords"))
    (m,) = engine.match(proc(CommandLine="run kiwi now"))
    assert m.matched == {"CommandLine": "run kiwi now"}


def test_keywords_with_all_modifier(matches: Check) -> None:
    """|all on keywords: every keyword must occur (in any values)."""
    det = "keywords:\n  '|all':\n    - 'alpha'\n    - 'beta'\ncondition: keywords"
    assert matches(det, proc(CommandLine="alpha", Image="beta"))
    assert not matches(det, proc(CommandLine="alpha"))


def test_several_conditions_are_or(matches: Check) -> None:
    """A list of conditions fires when any of them holds."""
    det = "sel_a:\n  User: a\nsel_b:\n  User: b\ncondition:\n  - sel_a\n  - sel_b"
    assert matches(det, proc(User="b"))


MANY = """
sel:
  Image|endswith: [{suffixes}]
  ProcessId: [{numbers}]
condition: sel
"""


def test_costly_leaves_remember_per_value_and_type(make_engine: Callable[..., Any]) -> None:
    """A leaf of many values remembers its answer per string value (matchers.memoized): asked
    again, with the value in another case or as another type, it answers as the first time would."""
    suffixes = ", ".join(f"'\\\\x{i}.exe'" for i in range(12))
    numbers = ", ".join(str(n) for n in range(100, 112))
    engine = make_engine(rule_yaml(MANY.format(suffixes=suffixes, numbers=numbers)))
    hit, miss = "C:\\X3.EXE", "c:\\y.exe"
    for _ in range(3):  # the second and third answers come from the memos
        assert engine.match(proc(Image=hit, ProcessId=105))
        assert engine.match(proc(Image=hit, ProcessId="105"))
        assert not engine.match(proc(Image=miss, ProcessId=105))
        assert not engine.match(proc(Image=hit, ProcessId=True))  # True == 1 as a dict key: never memoised
        assert not engine.match(proc(Image=hit, ProcessId="99"))


_CLAUSE_CHOICE = """
from detectors.sigma.conditions import Node, requirements
leaves = tuple(
    Node("field", lambda e: True, field=f"F{i}", names=(f"F{i}",), needles=frozenset({f"needle-{i:02d}-x"}))
    for i in range(8)
)
print(sorted(sorted(c) for c in requirements(Node("and", lambda e: True, leaves))))
"""


def test_prefilter_clause_choice_does_not_depend_on_string_hashes() -> None:
    """Ties between equally scored clauses are broken by content: the clauses a rule keeps (and the
    cache stores) are the same in every process, whatever its string hash seed. They were not: two
    builds of the rule cache kept different clauses and the prefilter's selectivity changed."""
    import os
    import subprocess
    import sys

    outputs = {
        subprocess.run(
            [sys.executable, "-c", _CLAUSE_CHOICE],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(outputs) == 1, outputs


def _s(*parts: Any) -> tuple[Any, ...]:
    return ("s", False, parts)


def test_or_of_leaves_on_one_field_is_merged_and_answers_alike() -> None:
    """`1 of filter_*` on one field becomes one leaf (the value lower-cased and searched once); it
    answers like the OR of the separate leaves on strings, case, unicode, lists, numbers, nulls and
    missing fields. Other fields, aliases and keywords stay apart (or merge only among themselves)."""
    import itertools

    from detectors.sigma.conditions import Compiler, explain, flatten
    from detectors.sigma.ir import ANY

    names = ("ContextInfo", "winlog.event_data.ContextInfo")
    a = ("field", "ContextInfo", names, (_s(ANY, "= powershell", ANY), _s(ANY, "wsmprovhost.exe", ANY)))
    b = ("field", "ContextInfo", names, (_s(ANY, "ConfigSyncRun.exe", ANY),))
    c = ("field", "Payload", ("Payload",), (_s(ANY, "Update-Help", ANY), ("n", 7)))
    d = ("field", "ContextInfo", names, (_s("Straße", ANY),))
    k1, k2 = ("keyword", (_s(ANY, "mimikatz", ANY),)), ("keyword", (_s(ANY, "rubeus", ANY),))
    ir = ("or", (a, ("or", (b, c)), k1, d, k2))
    assert [kid[0] for kid in flatten(ir)] == ["field", "field", "keyword"]
    merged = Compiler().compile(ir)
    separate = [Compiler().compile(x).fn for x in (a, b, c, d, k1, k2)]
    values: list[Any] = [
        "Host = PowerShell.exe",
        "x CONFIGSYNCRUN.EXE y",
        "strasse",
        "STRAßE und mehr",
        ["nothing", "c:\\WsmProvHost.exe -Embedding"],
        7,
        None,
        "Rubeus.exe",
        "",
    ]
    events: list[dict[str, Any]] = [{}]
    for ci, payload in itertools.product(values, values):
        events.append({"ContextInfo": ci, "Payload": payload})
        events.append({"winlog.event_data.ContextInfo": ci, "Other": payload})
    for ev in events:
        expected = any(fn(ev) for fn in separate)
        assert merged.fn(ev) is expected, ev
        found: dict[str, Any] = {}
        if expected:
            explain(merged, ev, found)
            assert found


def test_leaf_memo_is_bounded_in_characters(
    monkeypatch: pytest.MonkeyPatch, matchers_impl: ModuleType
) -> None:
    """Long unique values (a 4.5 KB ContextInfo per event) empty a leaf's memo once its values hold
    PRED_MEMO_CHARS characters; answers stay those of the predicate."""
    monkeypatch.setattr(matchers_impl, "PRED_MEMO_CHARS", 10_000)
    asked: list[str] = []

    def pred(v: Any) -> bool:
        asked.append(v)
        return "evil" in v

    fn = matchers_impl.memoized(pred)
    blocks = [f"{n} {'evil' if n % 3 == 0 else ''} " + "x" * 3000 for n in range(10)]
    assert [fn(b) for b in blocks] == [n % 3 == 0 for n in range(10)]
    assert len(asked) == 10
    assert fn(blocks[-1]) is True and len(asked) == 10  # the last ones are remembered
    assert fn(blocks[0]) is True and len(asked) == 11  # the first was forgotten: asked again
    assert fn("short") is False and fn("short") is False and len(asked) == 12


def test_final_sigma_lower_cases_as_python_does(make_engine: Callable[..., Any]) -> None:
    """Values are lower-cased by Python's `str.lower`, which knows the final sigma ('ΑΣ' -> 'ας'); the
    compiled matchers call it as a function, since mypyc's own `.lower()` lower-cases code point by
    code point ('ασ') and would miss these on the compiled side."""
    engine = make_engine(
        rule_yaml("sel:\n  CommandLine: 'ΠΑΣ'\ncondition: sel"),
        rule_yaml("sel:\n  CommandLine|endswith: ['ΟΣ', 'x.exe']\ncondition: sel"),
        rule_yaml("sel:\n  CommandLine|startswith: ['ΑΣ ', 'y']\ncondition: sel"),
        rule_yaml("sel:\n  CommandLine|contains: 'ΑΣ ΝΑ'\ncondition: sel"),
        rule_yaml(
            "sel1:\n  CommandLine: ['ΠΑΣ', 'z']\nsel2:\n  CommandLine|endswith: 'ΟΣ'\ncondition: 1 of sel*"
        ),
    )
    for value, hits in [
        ("ΠΑΣ", 2),
        ("ΛΟΓΟΣ", 2),
        ("ΑΣ ΝΑ", 2),
        ("πας", 2),
        ("πασ", 0),
        ("ΑΣ" * 200 + " ΝΑ", 1),
    ]:
        assert len(engine.match(proc(CommandLine=value))) == hits, value
