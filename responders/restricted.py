"""Detections whose details stay with the provider: matches of TLP:RED and TLP:AMBER+STRICT indicators.

The client's Kibana space reads the tenant's detections, incidents, notices and evidence indices
(indices.CLIENT_KINDS). A restricted match is written there as `client_view`: the client sees that an
indicator matched, on which field of its event, and how to ask for the details; never the indicator,
its source, labels or confidence, nor the event value that equals it. The whole detection, with the
indicator's provenance, goes to the tenant's provider-only index `P-restricted-T` (kind `restricted`),
which is outside the client's alias and role, and which the provider's analysts read.

Why an index of its own rather than `P-state-T`: the state index is the responder's bookkeeping
(unmapped, `dynamic: false`, overwritten as heads move); the restricted copy is analyst-facing data with
the detections' strict mapping, so Kibana can show it and a role can grant it to the provider alone.

Evidence is unchanged by this split: a detection's evidence record (records.detection_evidence) holds
the rule id, the rule title (already generic for restricted matches), the event reference and the
incident, never `matched` or the explanation, so its hash covers nothing that is withheld.
"""

from __future__ import annotations

from typing import Any

from responders.redaction import redact_event
from schemas.detection import INTEL_RESTRICTED_RULE_ID, Detection

# Rule tags that carry an indicator's details (the feed's labels, such as a campaign or actor name).
_DETAIL_TAG_PREFIX = "intel."


def is_restricted(detection: Detection) -> bool:
    """Whether the detection's details must stay with the provider (the matcher marks it by rule id)."""
    return detection.rule.id == INTEL_RESTRICTED_RULE_ID


def how_to_ask(detection_id: str) -> str:
    return (
        "details of this indicator (TLP:RED or TLP:AMBER+STRICT) stay with your SOC: ask your SOC "
        f"for them, quoting the detection id {detection_id}"
    )


def client_view(detection: Detection) -> Detection:
    """The detection as a client-visible index may hold it: unchanged unless it is restricted."""
    if not is_restricted(detection):
        return detection
    field = detection.matched.get("field")
    value = detection.matched.get("value")
    # The event is the client's own, but with the indicator's value beside "matched a restricted
    # indicator" it would name the indicator: the value is scrubbed wherever it occurs in it.
    event = detection.event
    if event is not None and value:
        event = redact_event(event, [], values=[str(value)])
    matched: dict[str, Any] = {
        "field": field,
        "restricted": True,
        "retrospective": bool(detection.matched.get("retrospective", False)),
        "details": how_to_ask(detection.id),
    }
    tags = [t for t in detection.rule.tags if not t.startswith(_DETAIL_TAG_PREFIX)]
    where = f"{field} of this event" if field else "this event"
    return detection.model_copy(
        update={
            "rule": detection.rule.model_copy(update={"tags": tags}),
            "matched": matched,
            "event": event,
            "explanation": f"{where} matched a threat-intelligence indicator; {how_to_ask(detection.id)}",
        }
    )


def provider_details(doc: dict[str, Any]) -> dict[str, Any]:
    """What the provider's analysts read of one restricted detection document (`P-restricted-T`): the
    event's field and value, the indicator and its provenance. One shape for `socpipe incident show`
    and the triage page."""
    detection = doc.get("detection") or {}
    matched = detection.get("matched") or {}
    intel = matched.get("intel") or {}
    return {
        "detection": detection.get("id"),
        "time": doc.get("@timestamp"),
        "field": matched.get("field"),
        "value": matched.get("value"),
        "indicator": intel.get("indicator"),
        "type": intel.get("type"),
        "indicator id": intel.get("id"),
        "source": intel.get("source"),
        "tlp": intel.get("tlp"),
        "confidence": intel.get("confidence"),
        "labels": ", ".join(intel.get("labels") or []) or None,
        "valid until": intel.get("valid_until"),
        "retrospective": bool(matched.get("retrospective")),
    }
