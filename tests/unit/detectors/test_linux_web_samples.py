"""Rules and heuristics on the Linux and web samples (tests/data/linuxweb): SigmaHQ's Linux and web
rules load whole and fire on the attack lines; a real sshd brute force (a RHEL 7 /var/log/secure from
Filebeat's tests) gives one brute-force finding per source over the threshold; benign samples give
nothing."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime

import pytest

from detectors.heuristics import HeuristicEngine, event_time, load_config
from detectors.sigma import Engine, load_rules
from ingest.parsers import ParseError
from ingest.parsers.auditd import parse
from ingest.read import read_log
from schemas.raw import RawRecord
from socpipe.paths import REPO_DIR, corpus_dir

TENANT = "linuxco"  # no overrides in rules/heuristics.yaml: the shipped defaults apply
DATA = REPO_DIR / "tests" / "data" / "linuxweb"
RECEIVED = datetime(2026, 3, 4, tzinfo=UTC)


def _events(name: str, parser: str) -> list[tuple[int, dict[str, object]]]:
    out = []
    for line, event in read_log(DATA / name, parser, tenant=TENANT):
        assert not isinstance(event, ParseError), (name, line, event)
        out.append((line, event.flat()))
    return out


@pytest.fixture(scope="module")
def sigmahq() -> Engine:
    corpus = corpus_dir()
    if corpus is None or not (corpus / "sigma" / "rules" / "linux").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the corpus is missing: set SOCPIPE_CORPUS")
        pytest.skip("corpus not found (../shared/corpus or SOCPIPE_CORPUS)")
    rules = corpus / "sigma" / "rules"
    return Engine(load_rules([rules / "linux", rules / "web"], strict=True))


@pytest.mark.corpus
def test_sigmahq_linux_and_web_rules_all_load(sigmahq: Engine) -> None:
    """Every SigmaHQ Linux and web rule compiles with the shipped pipeline (strict: none may fail)."""
    report = sigmahq.ruleset.report
    assert report.loaded == 255 and not report.failed, report.summary()


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("sample", "parser", "expected"),
    [
        (
            "web-attacks.log",
            "access_log",
            {
                3: {"SQL Injection Strings In URI", "Hack Tool User Agent"},
                5: {"SQL Injection Strings In URI"},
                6: {"Path Traversal Exploitation Attempts"},
                7: {"Path Traversal Exploitation Attempts"},
                9: {"Server Side Template Injection Strings"},
            },
        ),
        (
            "auditd-attacks.log",
            "auditd",
            {4: {"Suspicious Reverse Shell Command Line", "Suspicious Use of /dev/tcp"}},
        ),
        ("beats-auditd-useradd.log", "auditd", {4: {"Creation Of An User Account"}}),
        (
            "auditd-joined.log",
            "auditd",
            {1: {"Copy Passwd Or Shadow From TMP Path"}, 9: {"Decode Base64 Encoded Text"}},
        ),
    ],
)
def test_sigmahq_rules_fire_on_attack_lines(
    sigmahq: Engine, sample: str, parser: str, expected: dict[int, set[str]]
) -> None:
    """The attack lines of the samples fire the SigmaHQ rules written for them."""
    fired: dict[int, set[str]] = {}
    for line, event in _events(sample, parser):
        titles = {m.rule.title for m in sigmahq.match(event)}
        if titles:
            fired[line] = titles
    for line, titles in expected.items():
        assert titles <= fired.get(line, set()), (line, fired.get(line))


@pytest.mark.corpus
def test_process_creation_rules_need_the_joined_auditd_event(sigmahq: Engine) -> None:
    """SigmaHQ's `cp` of /etc/shadow to /tmp rule (Image with CommandLine, routed to auditd.log) fires
    on the joined SYSCALL+EXECVE event and on none of its records read one by one."""
    title = "Copy Passwd Or Shadow From TMP Path"
    alone = [
        parse(RawRecord(tenant=TENANT, source="file:a", parser="auditd", received_at=RECEIVED, data=line))
        for line in (DATA / "auditd-joined.log").read_text().splitlines()[:7]
    ]
    assert not [m for event in alone for m in sigmahq.match(event.flat()) if m.rule.title == title]
    joined = dict(_events("auditd-joined.log", "auditd"))[1]
    assert title in {m.rule.title for m in sigmahq.match(joined)}


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("sample", "parser"),
    [
        ("beats-nginx-access.log", "access_log"),
        ("beats-access-variants.log", "access_log"),
        ("beats-web-errors.log", "web_error"),
        ("beats-secure-rhel7.log", "syslog"),
    ],
)
def test_sigmahq_rules_quiet_on_benign_samples(sigmahq: Engine, sample: str, parser: str) -> None:
    """Ordinary browsing, errors and failed ssh logins fire no SigmaHQ rule."""
    assert [(line, m.rule.title) for line, e in _events(sample, parser) for m in sigmahq.match(e)] == []


def _heuristics(events: list[tuple[int, dict[str, object]]]) -> Counter[tuple[str, str]]:
    engine = HeuristicEngine(load_config())
    found: Counter[tuple[str, str]] = Counter()
    for _, event in events:
        when = event_time(event)
        assert when is not None, event
        for finding in engine.feed(event, TENANT, when):
            found[(finding.rule_id, finding.key)] += 1
    return found


def test_real_sshd_brute_force_gives_one_finding_per_attacking_source() -> None:
    """A real RHEL 7 /var/log/secure (Filebeat's test log): 202.109.143.106 fails root 27 times in three
    minutes, 116.31.116.27 nine times (three per connection), drewr logs in with a key. The shipped
    thresholds (10 in 5 minutes) give one brute-force finding for the first source and one for root;
    the second source stays under the threshold, and the login gives nothing."""
    found = _heuristics(_events("beats-secure-rhel7.log", "syslog"))
    assert found == Counter(
        {
            ("socpipe-heuristic-brute-force", "source:202.109.143.106"): 1,
            ("socpipe-heuristic-brute-force", "account:root"): 1,
        }
    )


@pytest.mark.parametrize(
    ("sample", "parser"),
    [("beats-system-auth.log", "syslog"), ("beats-nginx-access.log", "access_log")],
)
def test_heuristics_quiet_on_benign_samples(sample: str, parser: str) -> None:
    """Logins, sudo use, account creation and browsing alone give no heuristic finding."""
    assert _heuristics(_events(sample, parser)) == Counter()


def test_web_attack_heuristic_on_the_attack_sample() -> None:
    """The sqlmap burst in web-attacks.log (5 payload requests in 8 s) is one web_attack finding."""
    found = _heuristics(_events("web-attacks.log", "access_log"))
    assert found == Counter({("socpipe-heuristic-web-attack-burst", "source:203.0.113.66"): 1})
