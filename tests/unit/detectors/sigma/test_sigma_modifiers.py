"""Every Sigma 2.x value modifier, evaluated on flat events."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from sigma_helpers import proc, rule_yaml

from detectors.sigma import Engine
from detectors.sigma.matchers import LOWER_MEMO_MIN, LOWER_MEMO_SIZE

Check = Callable[..., bool]
pytestmark = pytest.mark.usefixtures("matchers_impl")  # each test on matchers.py and its compiled copy


def test_plain_value_is_case_insensitive_equality(matches: Check) -> None:
    """A plain string matches the whole value, ignoring case, and not a substring."""
    det = "sel:\n  Image: 'C:\\Windows\\cmd.exe'\ncondition: sel"
    assert matches(det, proc(Image="c:\\windows\\CMD.EXE"))
    assert not matches(det, proc(Image="c:\\windows\\cmd.exe.bak"))


def test_contains_startswith_endswith(matches: Check) -> None:
    """contains / startswith / endswith test substrings, prefixes and suffixes, case-insensitively."""
    assert matches("sel:\n  CommandLine|contains: 'ENC'\ncondition: sel", proc(CommandLine="ps -enc AAA"))
    assert matches("sel:\n  Image|startswith: 'c:\\win'\ncondition: sel", proc(Image="C:\\Windows\\x.exe"))
    assert matches("sel:\n  Image|endswith: '\\X.EXE'\ncondition: sel", proc(Image="C:\\a\\x.exe"))
    assert not matches("sel:\n  Image|endswith: '\\x.exe'\ncondition: sel", proc(Image="C:\\a\\x.exe2"))


def test_wildcards_in_values(matches: Check) -> None:
    """'*' matches any run and '?' one character; an escaped '\\*' is a literal star."""
    det = "sel:\n  Image: 'C:\\\\*\\\\cmd.ex?'\ncondition: sel"  # Sigma text: C:\\*\\cmd.ex?
    assert matches(det, proc(Image="c:\\windows\\cmd.exe"))
    assert not matches(det, proc(Image="d:\\cmd.exe"))
    assert matches("sel:\n  CommandLine: 'a\\*b'\ncondition: sel", proc(CommandLine="a*b"))
    assert not matches("sel:\n  CommandLine: 'a\\*b'\ncondition: sel", proc(CommandLine="axxb"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x" * 5000 + "\nline two", True),
        ("", True),
        ("straße ✓", True),
        (0, True),
        (False, True),
        (["", None], True),
        ([None], False),
        (None, False),
    ],
)
@pytest.mark.parametrize("modifier", ["|contains", "|endswith", "|contains|cased", ""])
def test_bare_star_matches_any_non_null_value(
    matches: Check, modifier: str, value: object, expected: bool
) -> None:
    """`Field|contains: '*'` (and a bare '*' with other modifiers) matches any present, non-null value,
    however long or whatever its type, and an OR with it is as wide; a missing field never matches."""
    det = f"sel:\n  ContextInfo{modifier}: '*'\ncondition: sel"
    assert matches(det, proc(ContextInfo=value)) is expected
    assert not matches(det, proc(Other="x"))
    either = f"sel:\n  ContextInfo{modifier}: ['abc', '*']\ncondition: sel"
    assert matches(either, proc(ContextInfo=value)) is expected


def test_all_modifier_requires_every_value(matches: Check) -> None:
    """|all joins the list with AND instead of OR."""
    det = "sel:\n  CommandLine|contains|all: ['-nop', '-w hidden']\ncondition: sel"
    assert matches(det, proc(CommandLine="powershell -nop -w hidden"))
    assert not matches(det, proc(CommandLine="powershell -nop"))


def test_long_values_are_matched_case_insensitively_however_often_tested(
    make_engine: Callable[..., Engine],
) -> None:
    """Values of LOWER_MEMO_MIN characters or more are lower-cased once and remembered (matchers.lowered):
    `contains|all` needles, a `contains` list and a regex guard on one long value, in any letter case
    (non-ASCII too), give the same answers as on a short one, also once more values than the memo holds
    were seen, and a remembered value never answers for another."""
    det = (
        "sel:\n  ContextInfo|contains|all: ['-NOP', 'Hidden', 'STRASSE']\n"
        "flt:\n  ContextInfo|contains: ['a1', 'b2', 'c3', 'd4', 'e5', 'f6', 'g7', 'h8', 'i9']\n"
        "rx:\n  ContextInfo|re: '(?i)w[0-9]HIDDEN'\n"
        "condition: (sel and not flt) or rx"
    )
    engine = make_engine(rule_yaml(det))

    def fires(event: dict[str, Any]) -> bool:
        return bool(engine.match(event))

    pad = "x" * (LOWER_MEMO_MIN + 10)
    for i in range(LOWER_MEMO_SIZE * 2):
        assert fires(proc(ContextInfo=f"{pad}{i} -nop -w HIDDEN strasse"))
        assert not fires(proc(ContextInfo=f"{pad}{i} -nop -w HIDDEN strasse A1"))
        assert not fires(proc(ContextInfo=f"{pad}{i} -nop -w hidden"))
        assert fires(proc(ContextInfo=f"{pad}{i} W7hidden"))
    assert fires(proc(ContextInfo=f"{pad} -NoP hIdDeN STRASSE \u0130"))


def test_list_value_is_or(matches: Check) -> None:
    """A list of values matches when any one does."""
    det = "sel:\n  Image|endswith: ['\\a.exe', '\\b.exe']\ncondition: sel"
    assert matches(det, proc(Image="x\\b.exe"))
    assert not matches(det, proc(Image="x\\c.exe"))


def test_list_in_event_matches_any_element(matches: Check) -> None:
    """An event field holding a list matches when any element matches."""
    det = "sel:\n  Data|contains: 'mimikatz'\ncondition: sel"
    assert matches(det, proc(Data=["foo", "Invoke-Mimikatz"]))
    assert not matches(det, proc(Data=["foo", "bar"]))


@pytest.mark.parametrize(
    ("mods", "pattern", "value", "expected"),
    [
        ("re", "^c:\\\\win.*\\.exe$", "c:\\windows\\x.exe", True),
        ("re", "^C:\\\\Win", "c:\\windows\\x.exe", False),  # re is case-sensitive by default
        ("re|i", "^C:\\\\Win", "c:\\windows\\x.exe", True),
        ("re|m", "^second$", "first\nsecond", True),
        ("re", "^second$", "first\nsecond", False),
        ("re|s", "a.b", "a\nb", True),
        ("re", "a.b", "a\nb", False),
    ],
)
def test_regex_and_flags(matches: Check, mods: str, pattern: str, value: str, expected: bool) -> None:
    """|re searches anywhere; i, m and s set IGNORECASE, MULTILINE and DOTALL."""
    det = f"sel:\n  CommandLine|{mods}: '{pattern}'\ncondition: sel"
    assert matches(det, proc(CommandLine=value)) is expected


def test_cidr(matches: Check) -> None:
    """|cidr matches IPv4 and IPv6 addresses inside the network; non-addresses never match."""
    det = "sel:\n  DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\ncondition: sel"
    ls = "product: windows\n  category: network_connection"
    ev = {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 3}
    assert matches(det, {**ev, "DestinationIp": "10.1.2.3"}, logsource=ls)
    assert matches(det, {**ev, "DestinationIp": "fe80::1"}, logsource=ls)
    assert not matches(det, {**ev, "DestinationIp": "11.1.2.3"}, logsource=ls)
    assert not matches(det, {**ev, "DestinationIp": "not-an-ip"}, logsource=ls)


def test_base64_and_base64offset(matches: Check) -> None:
    """|base64 matches the encoded value; |base64offset|contains at any of the three offsets."""
    encoded = base64.b64encode(b"http://evil").decode()
    assert matches("sel:\n  CommandLine|base64: 'http://evil'\ncondition: sel", proc(CommandLine=encoded))
    shifted = base64.b64encode(b"xxhttp://evil").decode()
    det = "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel"
    assert matches(det, proc(CommandLine=f"powershell -e {shifted}"))
    assert not matches(det, proc(CommandLine="powershell -e AAAA"))


@pytest.mark.parametrize(
    ("mod", "codec"), [("wide", "utf-16-le"), ("utf16le", "utf-16-le"), ("utf16be", "utf-16-be")]
)
def test_wide_utf16_with_base64(matches: Check, mod: str, codec: str) -> None:
    """|wide / |utf16le / |utf16be encode the value before base64 (PowerShell -enc payloads)."""
    payload = base64.b64encode("Invoke-Expression".encode(codec)).decode()
    det = f"sel:\n  CommandLine|{mod}|base64offset|contains: 'Invoke-Expression'\ncondition: sel"
    assert matches(det, proc(CommandLine=f"powershell -enc {payload}"))


def test_utf16_bom_is_prefixed(matches: Check) -> None:
    """|utf16 prefixes a byte-order mark to the UTF-16LE form (as pySigma represents it)."""
    assert matches(
        "sel:\n  CommandLine|utf16|contains: 'ab'\ncondition: sel", proc(CommandLine="\ufeffa\x00b\x00")
    )


def test_windash(matches: Check) -> None:
    """|windash also matches '/', en dash, em dash and horizontal bar in place of '-'."""
    det = "sel:\n  CommandLine|windash|contains: ' -decode '\ncondition: sel"
    for dash in ("-", "/", "\u2013", "\u2014", "\u2015"):
        assert matches(det, proc(CommandLine=f"certutil {dash}decode a b"))
    assert not matches(det, proc(CommandLine="certutil decode a b"))


def test_exists(matches: Check) -> None:
    """|exists: true needs the field present (and not null); false needs it absent."""
    assert matches("sel:\n  Hashes|exists: true\ncondition: sel", proc(Hashes="MD5=1"))
    assert not matches("sel:\n  Hashes|exists: true\ncondition: sel", proc())
    assert not matches("sel:\n  Hashes|exists: true\ncondition: sel", proc(Hashes=None))
    assert matches("sel:\n  Hashes|exists: false\ncondition: sel", proc())


def test_fieldref(matches: Check) -> None:
    """|fieldref compares with another field of the same event; contains/startswith/endswith apply."""
    assert matches(
        "sel:\n  Image|fieldref: ParentImage\ncondition: sel", proc(Image="A.exe", ParentImage="a.EXE")
    )
    assert not matches(
        "sel:\n  Image|fieldref: ParentImage\ncondition: sel", proc(Image="a", ParentImage="b")
    )
    assert not matches("sel:\n  Image|fieldref: ParentImage\ncondition: sel", proc(Image="a"))
    det = "sel:\n  CommandLine|fieldref|contains: Image\ncondition: sel"
    assert matches(det, proc(CommandLine="run c:\\x.exe now", Image="C:\\X.exe"))


@pytest.mark.parametrize(
    ("mod", "value", "expected"),
    [("gt", 5, True), ("gt", 10, False), ("gte", 10, True), ("lt", 11, True), ("lte", 9, False)],
)
def test_numeric_comparisons(matches: Check, mod: str, value: int, expected: bool) -> None:
    """gt/gte/lt/lte compare numbers, including numeric strings and hex strings."""
    det = f"sel:\n  TerminalSessionId|{mod}: {value}\ncondition: sel"
    assert matches(det, proc(TerminalSessionId=10)) is expected
    assert matches(det, proc(TerminalSessionId="10")) is expected
    assert matches(det, proc(TerminalSessionId="0xa")) is expected
    assert not matches(det, proc(TerminalSessionId="ten"))


def test_neq(matches: Check) -> None:
    """|neq matches when the field differs from every listed value."""
    det = "sel:\n  IntegrityLevel|neq: ['High', 'System']\ncondition: sel"
    assert matches(det, proc(IntegrityLevel="Medium"))
    assert not matches(det, proc(IntegrityLevel="high"))


def test_cased(matches: Check) -> None:
    """|cased makes the comparison case-sensitive."""
    det = "sel:\n  CommandLine|cased|contains: 'ABC'\ncondition: sel"
    assert matches(det, proc(CommandLine="xxABCxx"))
    assert not matches(det, proc(CommandLine="xxabcxx"))


def test_expand_placeholder_without_value_matches_nothing(make_engine: Any) -> None:
    """|expand with no value for the placeholder matches nothing (values come from tenant config)."""
    engine = make_engine(rule_yaml("sel:\n  User|expand: '%admins%'\ncondition: sel"))
    assert engine.match(proc(User="root")) == []


@pytest.mark.parametrize(
    ("mod", "value"), [("minute", 44), ("hour", 13), ("day", 25), ("week", 43), ("month", 10), ("year", 2025)]
)
def test_timestamp_parts(matches: Check, mod: str, value: int) -> None:
    """minute/hour/day/week/month/year read a part of an ISO-8601 or epoch timestamp."""
    det = f"sel:\n  SystemTime|{mod}: {value}\ncondition: sel"
    assert matches(det, proc(SystemTime="2025-10-25T13:44:33.440907Z"))
    assert matches(det, proc(SystemTime=1761399873))  # same instant, epoch seconds
    assert not matches(det, proc(SystemTime="1999-01-01T00:00:00Z"))


def test_null_matches_missing_null_or_empty(matches: Check) -> None:
    """A null value matches a field that is missing, null or empty."""
    det = "sel:\n  OriginalFileName: null\ncondition: sel"
    assert matches(det, proc())
    assert matches(det, proc(OriginalFileName=None))
    assert matches(det, proc(OriginalFileName=""))
    assert not matches(det, proc(OriginalFileName="cmd.exe"))


def test_numbers_match_numeric_strings(matches: Check) -> None:
    """A number in a rule matches the same number as int or string; strings match numbers too."""
    assert matches("sel:\n  ProcessId: 42\ncondition: sel", proc(ProcessId="42"))
    assert matches("sel:\n  ProcessId: 42\ncondition: sel", proc(ProcessId=42))
    assert matches("sel:\n  ProcessId: '42'\ncondition: sel", proc(ProcessId=42))
    assert not matches("sel:\n  ProcessId: 42\ncondition: sel", proc(ProcessId=43))


def test_booleans(matches: Check) -> None:
    """A boolean matches a JSON boolean or the strings 'true'/'false'."""
    ls = "product: windows\n  category: image_load"
    ev = {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 7}
    det = "sel:\n  Signed: false\ncondition: sel"
    assert matches(det, {**ev, "Signed": False}, logsource=ls)
    assert matches(det, {**ev, "Signed": "false"}, logsource=ls)
    assert not matches(det, {**ev, "Signed": True}, logsource=ls)
