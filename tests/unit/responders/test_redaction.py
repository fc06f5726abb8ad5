"""The tenant's redaction policy on the event a detection carries into the client-visible index."""

from __future__ import annotations

from datetime import UTC, datetime

from responders.evidence.documents import detection_doc
from responders.redaction import REDACTED, redact_event
from responders.restricted import client_view
from schemas.detection import INTEL_RESTRICTED_RULE_ID, Detection, EventRef, RuleRef

EVENT = {
    "@timestamp": "2026-05-04T10:00:00Z",
    "event": {"code": "4625", "original": "4625 logon failure for alice from 192.0.2.10"},
    "host": {"name": "WS-1"},
    "user": {"name": "alice", "domain": "AC", "id": "0"},
    "source": {"ip": "192.0.2.10", "port": 50000},
    "process": {"command_line": "net use \\\\srv /user:alice"},
    "message": "An account failed to log on: alice",
    "original": {"EventID": 4625, "TargetUserName": "alice", "IpAddress": "192.0.2.10", "LogonType": 3},
}


def test_the_user_is_redacted_in_its_fields_and_scrubbed_from_free_text() -> None:
    """`user`: the ECS user object and the source's user name fields are replaced, and the name is gone
    from the raw line, the message and the command line; other fields and short values are untouched."""
    out = redact_event(EVENT, ["user"])
    assert out["user"] == REDACTED
    assert out["original"]["TargetUserName"] == REDACTED
    assert "alice" not in str(out)
    assert out["message"] == f"An account failed to log on: {REDACTED}"
    assert out["source"]["ip"] == "192.0.2.10" and out["original"]["LogonType"] == 3
    assert out["event"]["code"] == "4625", "the user id 0 and domain AC are too short to scrub text by"
    assert EVENT["user"] == {"name": "alice", "domain": "AC", "id": "0"}, "the input is not changed"


def test_the_source_address_is_redacted_under_its_ecs_and_source_names() -> None:
    out = redact_event(EVENT, ["source_ip"])
    assert out["source"]["ip"] == REDACTED and out["source"]["port"] == 50000
    assert out["original"]["IpAddress"] == REDACTED
    assert "192.0.2.10" not in str(out)
    assert out["user"]["name"] == "alice"


def test_no_policy_leaves_the_event_as_it_is() -> None:
    assert redact_event(EVENT, []) is EVENT


def test_the_detection_document_carries_the_redacted_event() -> None:
    """detection_doc: the stored `detection.event` is redacted by the policy; the model keeps the event."""
    detection = Detection(
        id="d1",
        tenant="acme",
        rule=RuleRef(id="r", title="R"),
        event_time=datetime(2026, 5, 4, tzinfo=UTC),
        event_ref=EventRef(event_id="e1"),
        event=EVENT,
    )
    doc = detection_doc(detection, "inc-1", sensitive=["user"])
    assert doc["detection"]["event"]["user"] == REDACTED
    assert "alice" not in str(doc["detection"]["event"])
    assert detection.event is not None and detection.event["user"]["name"] == "alice"
    assert detection_doc(detection, "inc-1")["detection"]["event"] == EVENT


def test_a_restricted_indicators_value_is_scrubbed_from_the_stored_event() -> None:
    """A TLP:RED match names neither its indicator in the title nor the address in the entity; the
    client view of the detection, which the detections index stores, loses the value from its event too
    (here the source address), with no policy of the tenant's."""
    detection = Detection(
        id="d2",
        tenant="acme",
        kind="intel",
        rule=RuleRef(id=INTEL_RESTRICTED_RULE_ID, title="Threat intelligence match"),
        event_time=datetime(2026, 5, 4, tzinfo=UTC),
        event_ref=EventRef(event_id="e1"),
        matched={"field": "source.ip", "value": "192.0.2.10"},
        event=EVENT,
    )
    event = detection_doc(client_view(detection), "inc-1")["detection"]["event"]
    assert event["source"]["ip"] == REDACTED and "192.0.2.10" not in str(event)
    assert event["user"]["name"] == "alice"
