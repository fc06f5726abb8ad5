"""DNS tunnelling keys on the registered domain from the public suffix list, private suffixes included."""

from __future__ import annotations

import pytest
from heuristic_harness import engine_for, run
from heuristic_scenarios import at, dns, dns_volume

from detectors.heuristics.dns_tunnelling import registered_domain


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.b.example.co.uk", ("example.co.uk", "a.b")),
        ("x.example.com", ("example.com", "x")),
        ("q1.q2.example.com.au", ("example.com.au", "q1.q2")),
        ("data.evil.duckdns.org", ("evil.duckdns.org", "data")),  # a private suffix: one customer's name
        ("d1x2y3z4.cloudfront.net", ("d1x2y3z4.cloudfront.net", "")),  # a CDN host name: nothing encoded
        ("a.b.corp.local", ("corp.local", "a.b")),
        ("x.y.z.unlisted-tld", ("z.unlisted-tld", "x.y")),
        ("com", ("com", "")),
        ("localhost", ("localhost", "")),
    ],
)
def test_registered_domain(name: str, expected: tuple[str, str]) -> None:
    assert registered_domain(name) == expected


def test_dynamic_dns_customers_are_not_lumped_together() -> None:
    """300 distinct names under one attacker's duckdns name fire for that name; the same volume spread
    over 300 different duckdns customers (one lookup each) does not."""
    scenario = dns_volume()
    spread = [dns(at(0, 12, seconds=i), "ws-13.acme.local", f"h.customer{i}.duckdns.org") for i in range(300)]
    attack = [dns(at(0, 13, seconds=i), "ws-12.acme.local", f"h{i}.evil.duckdns.org") for i in range(300)]
    events = sorted(scenario.background + spread + attack, key=lambda e: e[0])
    found = run(engine_for(scenario), events)
    assert {f.key for f in found} == {"ws-12.acme.local|evil.duckdns.org"}
