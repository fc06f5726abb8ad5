"""Threat intelligence end to end on real Kafka and Elasticsearch, the `socpipe demo` path.

A STIX feed served over HTTP; Sysmon events shipped, normalised, detected and responded to. An event
contacting an indicator becomes an incident and a notice (a TLP:RED one without its details, neither in
the notice nor in any document of the client's space, while the provider-only index keeps them); then the
feed brings a new indicator and the automatic retro-hunt finds last week's event that contacted it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli.demo import run_pipeline_once, run_until_idle
from detectors.intel.build import build_intel
from detectors.intel.hunt import Hunter, only_new
from devtools.mailbox import Mailbox
from responders.evidence.verify import verify_live
from responders.worker import Responders
from responders.worker import build_stage as build_responder_stage
from socpipe.es import es_client, tenant_indices
from socpipe.settings import Settings
from tests.unit.detectors.intel.intel_helpers import DATA

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]
NOW = datetime.now(UTC).replace(microsecond=0)
LAST_WEEK = NOW - timedelta(days=6)
NEW_INDICATOR = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--7d1f0c2a-9b8e-4c3d-a2f1-0e9d8c7b6a50",
    "created": NOW.isoformat().replace("+00:00", "Z"),
    "modified": NOW.isoformat().replace("+00:00", "Z"),
    "pattern": "[domain-name:value = 'later-campaign.example']",
    "pattern_type": "stix",
    "valid_from": NOW.isoformat().replace("+00:00", "Z"),
    "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
}


def mail_text(path: Path) -> str:
    """Subject and decoded body of a delivered notice (quoted-printable wraps long lines)."""
    message = BytesParser(policy=policy.default).parse(path.open("rb"))
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return f"{message['Subject']}\n{body.get_content()}"


def sysmon(event_id: int, host: str, when: datetime, **fields: object) -> str:
    return json.dumps(
        {
            "Provider_Name": "Microsoft-Windows-Sysmon",
            "EventID": event_id,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": host,
            "SystemTime": when.isoformat().replace("+00:00", "Z"),
            "Image": "C:\\Users\\bob\\AppData\\Local\\Temp\\upd.exe",
            **fields,
        }
    )


@pytest.fixture
def feed_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP, holding the sample STIX bundle."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "bundle.json").write_bytes((DATA / "bundle.json").read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/bundle.json"
    finally:
        server.shutdown()
        server.server_close()


def test_indicator_match_incident_notice_tlp_and_retro_hunt(
    settings: Settings, tmp_path: Path, feed_dir: tuple[Path, str]
) -> None:
    served, url = feed_dir
    config = tmp_path / "intel.yaml"
    config.write_text(f"refresh_s: 0\nfeeds:\n  - name: example-cert\n    url: {url}\n")
    logs = tmp_path / "acme-windows.jsonl"
    logs.write_text(
        "\n".join(
            [
                sysmon(
                    3,
                    "WS-ACME-07",
                    NOW,
                    SourceIp="10.1.0.7",
                    DestinationIp="198.51.100.23",
                    DestinationPort=443,
                ),
                sysmon(
                    3,
                    "WS-ACME-08",
                    NOW,
                    SourceIp="10.1.0.8",
                    DestinationIp="203.0.113.50",
                    DestinationPort=8443,
                ),
                sysmon(22, "WS-ACME-09", LAST_WEEK, QueryName="cdn.later-campaign.example", QueryStatus="0"),
            ]
        )
        + "\n"
    )
    with Mailbox(tmp_path / "mailbox") as mailbox:
        settings = settings.model_copy(
            update={"smtp_host": mailbox.host, "smtp_port": mailbox.port, "intel_file": config}
        )
        run = run_pipeline_once(settings, {"acme": logs}, tmp_path / "checkpoints")
        assert run.stages["detector"].records == 3

        responders = Responders(settings, check=False)
        try:
            incidents = {i.entity.host: i for i in responders.triage().list("acme")}
            assert set(incidents) == {"WS-ACME-07", "WS-ACME-08"}, incidents
            green, red = incidents["WS-ACME-07"], incidents["WS-ACME-08"]
            assert "198.51.100.23" in green.title and green.rule_ids == ["socpipe-intel"]
            assert red.rule_ids == ["socpipe-intel-restricted"] and "203.0.113" not in red.title
            notices = [mail_text(p) for p in mailbox.messages()]
            assert len(notices) == 2
            red_notice = next(text for text in notices if red.id in text)
            green_notice = next(text for text in notices if green.id in text)
            assert (
                "TLP:RED or TLP:AMBER+STRICT" in red_notice
                and f"quote the incident id {red.id}" in red_notice
            )
            assert "203.0.113" not in red_notice and "example-cert" not in red_notice
            assert "198.51.100.23" in green_notice
            assert_restricted_details_stay_with_provider(settings, red.id, red.detection_ids)

            # The feed publishes a new indicator; the automatic hunt searches what Kafka still holds.
            holder = build_intel(settings)
            assert holder is not None
            before = holder.current
            bundle = json.loads((served / "bundle.json").read_text())
            bundle["objects"].append(NEW_INDICATOR)
            (served / "bundle.json").write_text(json.dumps(bundle))
            holder.request()
            fresh = holder.take()
            assert fresh is not None
            new = only_new(before, fresh)
            assert new is not None and len(new) == 1
            result = Hunter(settings, new).run(NOW - timedelta(days=7))
            assert result.detections == 1 and result.by_tenant == {"acme": 1}
            responder = build_responder_stage(settings)
            run_until_idle(settings, responder, settings.responder_group, settings.topics.detections)

            retro = {i.entity.host: i for i in responders.triage().list("acme")}["WS-ACME-09"]
            assert "later-campaign.example" in retro.title
            assert retro.first_seen == LAST_WEEK  # the event's own time
            assert len(mailbox.messages()) == 3

            # Asked again (a restart), the hunt is done already and adds no incident.
            assert Hunter(settings, new).run(NOW - timedelta(days=7)).already_done
            assert len(responders.triage().list("acme")) == 3
        finally:
            responders.close()


def assert_restricted_details_stay_with_provider(
    settings: Settings, incident_id: str, detection_ids: list[str]
) -> None:
    """Every document the client's space reads (its alias: detections, incidents, notices, evidence)
    about the TLP:RED match says that an indicator matched and how to ask, never the indicator, the
    matched address or the feed; the provider-only index holds the whole detection, and the chain
    still verifies."""
    es = es_client(settings)
    try:
        alias = tenant_indices(settings, "acme").alias
        es.indices.refresh(index=alias)
        hits = es.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
        about_red = [h for h in hits if incident_id in json.dumps(h["_source"])]
        kinds = {h["_index"].split("-")[-2] for h in about_red}
        assert kinds == {"detections", "incidents", "notices", "evidence"}, kinds
        for hit in about_red:
            text = json.dumps(hit["_source"])
            for secret in ("203.0.113", "example-cert", "Example CERT"):
                assert secret not in text, (secret, hit["_index"], text)
        [client_doc] = [h["_source"] for h in about_red if h["_id"] in detection_ids]
        assert client_doc["detection"]["matched"]["restricted"] is True
        assert "ask your SOC" in client_doc["message"] and detection_ids[0] in client_doc["message"]

        provider = tenant_indices(settings, "acme").restricted
        es.indices.refresh(index=provider)
        [full] = [h["_source"] for h in es.search(index=provider, query={"match_all": {}})["hits"]["hits"]]
        assert full["detection"]["id"] == detection_ids[0]
        assert full["detection"]["matched"]["intel"]["source"] == "example-cert"
        assert full["detection"]["matched"]["value"] == "203.0.113.50"
        assert provider not in es.indices.get_alias(name=alias)
        verified = verify_live(es, settings, "acme")
        assert verified.ok and verified.checked > 0, verified.first_break
    finally:
        es.close()
