"""The logon heuristics on sshd and PAM lines, first-time logons over ssh, and the web heuristics'
readers: each on events the real parsers make from log lines."""

from __future__ import annotations

from datetime import timedelta

from heuristic_harness import run
from heuristic_scenarios import TENANT, at, parsed, sshd, web

from detectors.heuristics import HeuristicEngine, parse_config
from detectors.heuristics.auth import logon
from detectors.heuristics.web import attacks, request


def _engine(**sections: dict[str, object]) -> HeuristicEngine:
    return HeuristicEngine(parse_config({"defaults": sections}))


def test_an_ssh_attempt_counts_once() -> None:
    """`Invalid user` announces the connection and PAM's sshd line repeats the attempt: neither counts;
    `Failed password for invalid user` does."""
    t = at(1, 3)
    assert logon(sshd(t, "h", "Invalid user admin from 203.0.113.9 port 4000")[1]) is None
    pam = (
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9"
    )
    assert logon(sshd(t, "h", pam)[1]) is None
    failed = logon(sshd(t, "h", "Failed password for invalid user admin from 203.0.113.9 port 4000 ssh2")[1])
    assert (
        failed is not None and failed.failed and (failed.account, failed.source) == ("admin", "203.0.113.9")
    )


def test_pam_failures_of_other_services_count() -> None:
    """su's PAM failure (no sshd line behind it) is a failed logon for the target account."""
    t = at(1, 3)
    line = "Mar  3 03:00:00 h su[7]: pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 "
    line += "tty=pts/0 ruser=bob rhost=  user=root"
    attempt = logon(parsed(t, "syslog", line)[1])
    assert attempt is not None and attempt.failed and attempt.account == "root"


def test_brute_force_over_ssh_then_success_escalates() -> None:
    """12 failures for root from one address, then `Accepted password`: brute force, then the
    success finding, each naming the address and the account."""
    events = [
        sshd(at(1, 3, 0, 5 * i), "web01", f"Failed password for root from 203.0.113.5 port {4000 + i} ssh2")
        for i in range(12)
    ]
    events.append(sshd(at(1, 3, 2), "web01", "Accepted password for root from 203.0.113.5 port 4100 ssh2"))
    found = run(_engine(), events)
    rules = {f.rule_id for f in found}
    assert rules == {"socpipe-heuristic-brute-force", "socpipe-heuristic-brute-force-success"}, rules
    assert all(f.entity.source_ip == "203.0.113.5" and f.entity.host == "web01" for f in found)


def test_first_time_logon_over_ssh() -> None:
    """With the `logon` kind on: an account's first ssh logon from an address fires once, after the
    learning period; the same pair again does not."""
    engine = _engine(first_time={"kinds": ["logon"], "learning_period": "1d"})
    learn = sshd(at(0, 9), "web01", "Accepted publickey for alice from 10.0.2.10 port 50000 ssh2")
    again = sshd(at(2, 9), "web01", "Accepted publickey for alice from 10.0.2.10 port 50001 ssh2")
    new = sshd(at(2, 23), "web01", "Accepted password for alice from 198.51.100.77 port 50002 ssh2")
    found = run(engine, [learn, again, new, (new[0] + timedelta(minutes=5), new[1])])
    assert [(f.rule_id, f.key) for f in found] == [
        ("socpipe-heuristic-first-time-logon", "logon|alice|198.51.100.77")
    ]
    assert found[0].entity.user == "alice"


def test_attack_families_read_the_decoded_target_and_the_agent() -> None:
    """Double-encoded traversal, SQL injection and a shellshock user agent are named by family."""
    t = at(1, 1)
    for target, agent, family in [
        ("/x?f=..%252f..%252f..%252fetc%252fpasswd", "curl", "path_traversal"),
        ("/p?id=1%27%20UNION%20SELECT%20password%20FROM%20users--", "sqlmap", "sql_injection"),
        ("/cgi-bin/status", "() { :; }; /bin/bash -c 'id'", "shellshock"),
    ]:
        event = web(t, "192.0.2.1", target, 200, agent)[1]
        req = request(event)
        assert req is not None
        assert family in attacks(event, req), (target, attacks(event, req))
    benign = web(t, "192.0.2.1", "/search?q=select+a+union+jack+flag", 200)[1]
    benign_request = request(benign)
    assert benign_request is not None and attacks(benign, benign_request) == []


def test_web_heuristics_have_per_tenant_thresholds() -> None:
    """A tenant's own web_scanning threshold replaces the default."""
    config = parse_config(
        {
            "defaults": {"web_scanning": {"threshold": 50}},
            "tenants": {TENANT: {"web_scanning": {"threshold": 5}}},
        }
    )
    engine = HeuristicEngine(config)
    events = [web(at(1, 2, 0, i), "192.0.2.9", f"/probe{i}", 404) for i in range(6)]
    assert [f.heuristic for f in run(engine, events)] == ["web_scanning"]


def test_a_repeated_failure_counts_as_its_attempts() -> None:
    """rsyslog folds identical lines: `message repeated 9 times: [ Failed password ...]` after one
    failure is ten failures, enough for the brute-force threshold of 10."""
    first = "Failed password for root from 203.0.113.8 port 4000 ssh2"
    events = [
        sshd(at(1, 5), "web01", first),
        sshd(at(1, 5, 0, 20), "web01", f"message repeated 9 times: [ {first}]"),
    ]
    found = run(_engine(), events)
    assert {f.key for f in found} == {"account:root", "source:203.0.113.8"}
    assert all(f.evidence["failures"] == 10 for f in found)
