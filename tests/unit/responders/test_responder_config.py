"""The responders' configuration files: the shipped ones load, bad ones are refused with every problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from responders.config import ConfigError, ResponderConfig, load_config, parse_duration
from schemas.evidence import EvidenceType
from socpipe.paths import rules_dir
from socpipe.settings import load_settings


def test_shipped_files_load_and_map_every_record_type(shipped_config: ResponderConfig) -> None:
    """rules/tenants.yaml, incident_grouping.yaml and controls.yaml load; every record type has controls."""
    assert {"acme", "globex"} <= set(shipped_config.tenants)
    for record_type in EvidenceType:
        assert shipped_config.controls.for_record(record_type), record_type


def test_controls_cover_the_frameworks_the_issue_names(shipped_config: ResponderConfig) -> None:
    """SOC 2 CC7.2-7.5, ISO 27001 A.5.24-28, PCI DSS 10.x and 12.10, HIPAA 164.308(a)(6), NIST CSF 2.0 DE
    and RS, GDPR art. 33 (personal data only)."""
    used = {c for t in EvidenceType for c in shipped_config.controls.for_record(t, personal_data=True)}
    for control in [
        "SOC2:CC7.2",
        "SOC2:CC7.3",
        "SOC2:CC7.4",
        "SOC2:CC7.5",
        "ISO27001:A.5.24",
        "ISO27001:A.5.25",
        "ISO27001:A.5.26",
        "ISO27001:A.5.27",
        "ISO27001:A.5.28",
        "PCI-DSS-4.0:12.10.1",
        "HIPAA:164.308(a)(6)(ii)",
        "NIST-CSF-2.0:DE.CM",
        "NIST-CSF-2.0:RS.MA",
        "GDPR:Art.33",
    ]:
        assert control in used, control
    assert any(c.startswith("PCI-DSS-4.0:10.") for c in used)
    assert "GDPR:Art.33" not in shipped_config.controls.for_record(EvidenceType.detection)


def test_grouping_precedence_is_most_specific_first(shipped_config: ResponderConfig) -> None:
    """tenant+rule beats rule, rule beats tenant, tenant beats default, setting by setting."""
    mimikatz = "0d1c3b7e-8a52-4d4e-b1f2-7e4c2b9a0c02"
    g = shipped_config.grouping
    assert g.resolve("globex", "any").keys == ("rule", "host", "user", "source_ip")
    assert g.resolve("globex", "any").window == timedelta(hours=1)
    assert g.resolve("acme", "any").keys == ("host",)
    assert g.resolve("acme", "any").window == timedelta(hours=2)
    assert g.resolve("globex", mimikatz).keys == ("rule", "host")
    assert g.resolve("acme", mimikatz).keys == ("rule", "host")
    assert g.resolve("acme", mimikatz).window == timedelta(hours=24)


@pytest.mark.parametrize(
    ("text", "expected"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), (15, 15)]
)
def test_durations(text: object, expected: int) -> None:
    """Windows are written as 90s, 30m, 2h, 1d or a number of seconds."""
    assert parse_duration(text) == timedelta(seconds=expected)


def test_bad_files_report_every_problem_with_its_location(tmp_path: Path) -> None:
    """A webhook without secret, a bad address, a duplicate tenant, an unknown key and control: one error."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "tenants.yaml").write_text(
        "tenants:\n"
        "  - {id: a, name: A, routes: [{channel: webhook, destination: 'https://x'}]}\n"
        "  - {id: a, name: A2, routes: [{channel: email, destination: nobody},\n"
        "                               {channel: pager, destination: x}]}\n"
    )
    (rules / "incident_grouping.yaml").write_text("default: {keys: [rule, planet]}\n")
    controls = (rules_dir() / "controls.yaml").read_text().replace("[GDPR:Art.33]", "[GDPR:Art.99]")
    (rules / "controls.yaml").write_text(controls)
    with pytest.raises(ConfigError) as caught:
        load_config(load_settings(), rules=rules)
    message = str(caught.value)
    assert "tenants.0.routes.0: a webhook needs secret_env" in message
    assert "listed twice" in message
    assert "'nobody' is not an email address" in message
    assert (
        "tenants.1.routes.1.channel: unknown notice channel 'pager'; "
        "registered notice channels: email, webhook" in message
    )
    assert "incident_grouping.yaml: default.keys.1" in message
    assert "GDPR:Art.99" in message


def test_unknown_tenant_gets_defaults_without_routes(shipped_config: ResponderConfig) -> None:
    """A tenant nobody configured is still processed, but nobody is notified."""
    tenant = shipped_config.tenant("newco")
    assert tenant.id == "newco" and tenant.routes == [] and not tenant.personal_data


def test_bad_service_levels_are_reported_with_their_location(tmp_path: Path) -> None:
    """A bad duration, an unknown severity, a bad timezone, business hours ending before they start and a
    bad on-call route: every one located in tenants.yaml, all in one error."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "tenants.yaml").write_text(
        "provider: {oncall: [{channel: email, destination: nobody}]}\n"
        "service_levels:\n"
        "  targets:\n"
        "    critical: {notify_within: soon}\n"
        "    urgent: {notify_within: 5m}\n"
        "tenants:\n"
        "  - id: a\n"
        "    name: A\n"
        "    timezone: Mars/Olympus\n"
        "    service_levels: {hours: business, business_hours: {start: '17:00', end: '09:00'}}\n"
    )
    for name in ("incident_grouping.yaml", "controls.yaml"):
        (rules / name).write_text((rules_dir() / name).read_text())
    with pytest.raises(ConfigError) as caught:
        load_config(load_settings(), rules=rules)
    message = str(caught.value)
    assert "service_levels.targets.critical.notify_within" in message and "got 'soon'" in message
    assert "service_levels.targets.urgent" in message
    assert "tenants.0.timezone" in message and "unknown timezone 'Mars/Olympus'" in message
    assert "tenants.0.service_levels.business_hours" in message and "must be after start" in message
    (rules / "tenants.yaml").write_text("provider: {oncall: [{channel: email, destination: nobody}]}\n")
    with pytest.raises(ConfigError, match=r"provider\.oncall\.0: 'nobody' is not an email address"):
        load_config(load_settings(), rules=rules)


def test_shipped_service_levels_and_oncall(shipped_config: ResponderConfig) -> None:
    """The provider pages its own on-call; globex counts business hours in its own timezone."""
    assert [r.destination for r in shipped_config.provider.oncall] == ["soc-oncall@provider.example"]
    assert shipped_config.levels("globex").hours == "business"
    assert shipped_config.levels("acme").hours == "24x7" and shipped_config.levels("newco").targets
