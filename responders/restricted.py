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
