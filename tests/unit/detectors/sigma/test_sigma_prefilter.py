"""The prefilter's fast paths (prefilter.py): keyword literals found with set operations, candidates
remembered per combination of hits. Both must answer exactly as a plain search of every value would,
whatever the values: lists, numbers, booleans, null, non-ASCII text, a literal deep in a long text.

Each test runs on the pure-Python module and on its mypyc-compiled copy (native.py, hatch_build.py)."""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any

import pytest
from sigma_helpers import compiled_prefilter, proc, rule_yaml

from detectors.sigma import literals, prefilter
from detectors.sigma.conditions import KEYWORD_NAMES
from detectors.sigma.naive import naive_match
from detectors.sigma.native import PURE_ENV
from detectors.sigma.strings import as_text

WORDS = ["mimikatz", "sekurlsa::", "straße", "i̇stanbul", "\\mimilib.dll", "ünïcode"]
NUMERIC = ["1337", "true"]  # literals that can occur in the text of a number or a boolean

VALUES: list[Any] = [
    "plain",
    "C:\\Windows\\System32\\svchost.exe",
    "Invoke-MIMIKATZ -dump",
    "x" * 3000 + " sekurlsa::logonpasswords",  # a literal deep in a long text (Hyperscan's side)
    "y" * 3000,
    "STRASSE",  # lower-cases to 'strasse': no hit
    "Straße am See",
    "İSTANBUL",  # lower-cases to 'i̇stanbul' (two code points)
    "ÜNÏCODE",
    "\ud800 lone surrogate, mimikatz",
    "",
    None,
    0,
    1,
    1337,
    13370.5,
    True,
    False,
    ["a", None, "C:\\tools\\MimiLib.dll"],
    ["nothing", "here"],
    [],
    [None],
    [1337, "x"],
]


def expected(words: list[str], event: dict[str, Any]) -> frozenset[int]:
    """Literal ids found by lower-casing the text of every non-null value (list: every element)."""
    out: set[int] = set()
    for v in event.values():
        for x in v if type(v) is list else [v]:
            if x is not None:
                text = as_text(x).lower()
                out.update(i for i, w in enumerate(words) if w in text)
    return frozenset(out)


@pytest.fixture(params=["pure", "compiled"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The prefilter module under test, and the one engines built in the test use: prefilter.py as
    Python (SOCPIPE_PURE_PYTHON), or its compiled copy (which the install must have built)."""
    if request.param == "pure":
        monkeypatch.setenv(PURE_ENV, "1")
        return prefilter
    monkeypatch.delenv(PURE_ENV, raising=False)
    return compiled_prefilter()


@pytest.fixture(autouse=True)
def _small_memos(monkeypatch: pytest.MonkeyPatch, impl: ModuleType) -> None:
    """Tiny memos and an early Hyperscan compile, so that the tests cross every path: memo turnover
    (the hot set must be emptied with the memo), the automaton and Hyperscan."""
    monkeypatch.setattr(literals, "MEMO_SIZE", 7)
    monkeypatch.setattr(literals, "HS_AFTER", 5000)
    monkeypatch.setattr(impl, "PICKED_SIZE", 3)
    literals.literal_search.cache_clear()


@pytest.mark.parametrize("words", [WORDS, WORDS + NUMERIC], ids=["text", "numeric"])
def test_keyword_literals_in_any_value_agree_with_a_plain_search(words: list[str], impl: ModuleType) -> None:
    """find_all over random events (values repeated, so memo and hot set answer too) finds exactly
    the literals a plain search of every value finds."""
    scanner = impl._Scanner(KEYWORD_NAMES, {w: {i} for i, w in enumerate(words)})
    assert scanner.numeric is (words != WORDS)
    rng = random.Random(7)
    for _ in range(600):
        event = {f"f{i}": rng.choice(VALUES) for i in range(rng.randint(0, 8))}
        assert scanner.find_all(event) == expected(words, event), event
        assert scanner.search.hot <= scanner.memo.keys()
        assert all(scanner.memo[v] for v in scanner.search.hot)


def test_a_number_never_hits_a_text_literal_but_hits_a_numeric_one(impl: ModuleType) -> None:
    """1 and True are one element of a set: the set path is taken only when no literal could occur
    in a number's text; otherwise each value is searched as its own text ('1' vs 'true')."""
    text = impl._Scanner(KEYWORD_NAMES, {"mimikatz": {0}})
    assert text.find_all({"a": 1, "b": True, "c": 2.5}) == frozenset()
    numeric = impl._Scanner(KEYWORD_NAMES, {"true": {0}, "1337": {1}})
    assert numeric.find_all({"a": 1, "b": True}) == frozenset({0})
    assert numeric.find_all({"a": True, "b": 1}) == frozenset({0})
    assert numeric.find_all({"a": 1337, "b": 1}) == frozenset({1})
    assert numeric.find_all({"a": [None, 1337.0]}) == frozenset({1})


def test_candidates_remembered_per_combination_of_hits_agree_with_naive(
    make_engine: Any, impl: ModuleType
) -> None:
    """Rules with one or two clauses on fields and keywords, events combining their hits in every
    way (and with lists, numbers, null and long values), with a candidates memo of three combinations:
    the engine gives exactly the naive evaluator's detections on every event, every time."""
    engine = make_engine(
        rule_yaml("sel:\n  CommandLine|contains|all: ['-nop', 'hidden']\ncondition: sel"),
        rule_yaml("sel:\n  Image|endswith: ['\\a.exe', '\\b.exe']\n  User: x\ncondition: sel"),
        rule_yaml("sel:\n  Image|endswith: '\\a.exe'\n  CommandLine|contains: 'mimikatz'\ncondition: sel"),
        rule_yaml("keywords: ['mimikatz', 'straße']\ncondition: keywords", logsource="product: windows"),
        rule_yaml(
            "keywords: ['sekurlsa']\nsel:\n  Image|endswith: '\\b.exe'\ncondition: keywords and sel",
            logsource="product: windows",
        ),
        rule_yaml("sel:\n  CommandLine|re: 'evil[0-9]+'\ncondition: sel"),
        rule_yaml("sel:\n  Image|endswith: '\\c.exe'\nf:\n  User: y\ncondition: sel and not f"),
    )
    images = ["c:\\A.exe", "c:\\b.EXE", "c:\\c.exe", "c:\\z.exe", None, ["c:\\z.exe", "c:\\a.exe"], 7]
    commands = ["x -NOP -w HIDDEN", "Mimikatz", "evil12", "run sekurlsa::x", "Straße", "", None, 1]
    # long values (LONG_TEXT+: Hyperscan's side of the literal searches)
    commands += ["y" * 300 + " -NOP -w HIDDEN", "z" * 300 + " run sekurlsa::x MIMIKATZ", "w" * 300 + "é"]
    events = [
        proc(Image=i, CommandLine=c, User=u, Extra=x)
        for i in images
        for c in commands
        for u in ("x", "y", None)
        for x in (None, "x" * 600 + "MIMIKATZ", 42, ["Sekurlsa"])
    ]
    random.Random(3).shuffle(events)
    assert engine._bucket_type is impl.Bucket
    fired = 0
    for _ in range(2):
        for ev in events:
            found = sorted(m.rule.id for m in engine.match(ev))
            assert found == sorted(naive_match(engine.ruleset, ev)), ev
            fired += len(found)
    assert fired > len(events)  # the events do fire rules, often


def test_dispatch_routes_every_event_as_the_pipeline_does(
    make_engine: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dispatch (the route and bucket of every event, remembered per raw channel and event id) gives
    each event the candidates of the bucket `Pipeline.route_key` names, whatever the event id's type,
    with or without a channel, with its memo full: event ids that hash alike but may route apart
    (1, True, 1.0, '1') never share a remembered bucket."""
    monkeypatch.setattr(impl, "MAX_ROUTES_SEEN", 4)
    detection = "sel:\n  EventID: 1\ncondition: sel"
    engine = make_engine(
        rule_yaml(detection),  # process_creation: Sysmon 1, Security 4688
        rule_yaml(detection, logsource="product: windows\n  category: network_connection"),
        rule_yaml(detection, logsource="product: windows\n  service: security"),
        rule_yaml(detection, logsource="product: linux\n  category: process_creation"),
        rule_yaml(detection, logsource="product: zeek\n  service: dns"),
    )
    assert isinstance(engine._dispatch, impl.Dispatch)
    channels = ["Microsoft-Windows-Sysmon/Operational", "SECURITY", "security", "", 7, None]
    ids: list[Any] = [1, 3, 4688, "1", "4688", True, 1.0, 4688.0, None, [1], "x"]
    events = []
    for ch in channels:
        for eid in ids:
            events.append({"Channel": ch, "EventID": eid})
            events.append({"winlog.channel": ch, "event.code": eid, "event.dataset": "zeek.dns"})
    events += [{"event.dataset": "zeek.dns"}, {"event.dataset": "auditd.log"}, {}]
    answers = set()
    for _ in range(3):  # the first pass fills the memo, the next ones read it
        for event in events:
            expected = [i for i, _ in engine.bucket(engine.pipeline.route_key(event)).candidates(event)]
            assert [i for i, _ in engine._dispatch.candidates(event)] == expected, event
            answers.add(tuple(expected))
    assert len(answers) >= 4  # the events reach buckets of different rules
    assert len(engine._dispatch.seen) == 4
    assert all(type(e) in (int, str) or e is None for _, e in engine._dispatch.seen)
