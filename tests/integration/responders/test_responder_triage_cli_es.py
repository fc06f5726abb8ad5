"""Analyst triage from the command line against real Elasticsearch, with real notice receivers."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch
from responder_helpers import SmtpSink, WebhookSink, detection, inbound, sources

from cli.main import cli
from responders.evidence.audit import verify_live
from responders.worker import Responders
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch


def test_list_show_ack_assign_close_each_recorded_as_evidence_and_notified(
    socpipe: Callable[..., Result],
    responders: Responders,
    es: Elasticsearch,
    rsettings: Settings,
    smtp: SmtpSink,
    webhooks: WebhookSink,
) -> None:
    """The whole triage of one incident: every action records who, when and why in the incident and as a
    triage_action evidence record; ack and close notify the client (red asked for both on its webhook)."""
    responders.stage().process(inbound([detection(1), detection(2, "blue")]))
    listed = socpipe("incident", "list", "--tenant", "red", "--json")
    [red] = [orjson.loads(line) for line in listed.output.splitlines()]
    assert red["tenant"] == "red"
    everyone = socpipe("incident", "list")
    assert (
        "red" in everyone.output and "blue" in everyone.output and "GDPR art.33 due in 72h" in everyone.output
    )

    shown = socpipe("incident", "show", red["id"])
    assert "Rule rule-a on ws-1" in shown.output and "personal data: yes" in shown.output
    hooks_before = len(webhooks.at("/red"))
    assert socpipe("incident", "ack", red["id"], "--reason", "looking at it").exit_code == 0
    assert len(webhooks.at("/red")) == hooks_before + 1  # red's webhook asked for acknowledgements
    assert orjson.loads(webhooks.at("/red")[-1].body)["type"] == "incident.acknowledge"
    assert socpipe("incident", "assign", red["id"], "--to", "bob", "--actor", "lead").exit_code == 0
    mails_before = len(smtp.messages)
    closed = socpipe(
        "incident",
        "close",
        red["id"],
        "--verdict",
        "true_positive",
        "--reason",
        "contained",
        "--actor",
        "bob",
    )
    assert closed.exit_code == 0 and "closed" in closed.output
    assert len(smtp.messages) == mails_before + 1 and "closed" in smtp.messages[-1]["Subject"]
    assert "verdict: true positive" in smtp.messages[-1].get_payload(decode=True).decode()  # type: ignore[union-attr]

    history = socpipe("incident", "show", red["id"], "--json")
    incident = orjson.loads(history.output)
    assert [(h["action"], h["actor"], h["reason"]) for h in incident["history"]] == [
        ("acknowledge", "ann", "looking at it"),
        ("assign", "lead", "to bob"),
        ("close", "bob", "contained"),
    ]
    assert (
        incident["status"] == "closed"
        and incident["verdict"] == "true_positive"
        and incident["assignee"] == "bob"
    )
    evidence = [s["evidence"] for s in sources(es, rsettings, "evidence", "red")]
    triage = [e for e in evidence if e["record_type"] == "triage_action"]
    assert [
        (e["details"]["action"], e["details"]["actor"]) for e in sorted(triage, key=lambda e: e["sequence"])
    ] == [
        ("acknowledge", "ann"),
        ("assign", "lead"),
        ("close", "bob"),
    ]
    assert any(e["record_type"] == "incident_closed" for e in evidence)
    assert all("GDPR:Art.33" in e["controls"] for e in triage)
    assert verify_live(es, rsettings, "red").ok

    again = CliRunner().invoke(cli, ["incident", "close", red["id"], "--verdict", "benign", "--reason", "x"])
    assert again.exit_code != 0 and "already closed" in again.output
    assert socpipe("incident", "list", "--tenant", "red", "--json").output.strip() == ""
    closed_list = socpipe("incident", "list", "--tenant", "red", "--status", "closed", "--json")
    assert orjson.loads(closed_list.output)["id"] == red["id"]


def test_one_tenants_queries_never_return_anothers_incidents(
    socpipe: Callable[..., Result], responders: Responders
) -> None:
    """`--tenant blue` lists and shows only blue's incidents: red's id is not found under blue."""
    responders.stage().process(inbound([detection(1), detection(2, "blue", level="critical")]))
    red = orjson.loads(socpipe("incident", "list", "--tenant", "red", "--json").output)
    blue = [
        orjson.loads(line)
        for line in socpipe("incident", "list", "--tenant", "blue", "--json").output.splitlines()
    ]
    assert [b["tenant"] for b in blue] == ["blue"]
    shown = CliRunner().invoke(cli, ["incident", "show", red["id"], "--tenant", "blue"])
    assert shown.exit_code != 0 and "no incident" in shown.output


def test_flagging_personal_data_starts_the_gdpr_clock(
    socpipe: Callable[..., Result], responders: Responders
) -> None:
    """Blue does not flag its incidents; an analyst flags one, which gets the art. 33 deadline; then
    escalates it (`incident escalate`) to critical."""
    responders.stage().process(inbound([detection(2, "blue")]))
    blue = orjson.loads(socpipe("incident", "list", "--tenant", "blue", "--json").output)
    assert blue["gdpr_deadline"] is None
    assert (
        socpipe("incident", "flag", blue["id"], "--personal-data", "--reason", "customer emails").exit_code
        == 0
    )
    flagged = orjson.loads(socpipe("incident", "show", blue["id"], "--json").output)
    assert flagged["personal_data"] and flagged["gdpr_deadline"]
    escalated = socpipe("incident", "escalate", blue["id"], "--severity", "critical", "--reason", "exfil")
    assert escalated.exit_code == 0, escalated.output
    shown = orjson.loads(socpipe("incident", "show", blue["id"], "--json").output)
    assert shown["severity"] == "critical"
    assert (shown["history"][-1]["action"], shown["history"][-1]["reason"]) == (
        "escalate",
        "to critical: exfil",
    )
