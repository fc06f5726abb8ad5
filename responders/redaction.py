"""A tenant's redaction policy (`sensitive_fields` in rules/tenants.yaml), for notices and stored events.

The policy names fields the way the incident does (`user`, `source_ip`, `entity.user`): a dotted name
is that path, a plain name that key wherever it occurs. Notices apply it to the incident summary
(notices/render.py). An event (what a detection carries into the client-visible detections index) names
the same things differently, so `redact_event` widens each plain name to its ECS and source spellings
(EVENT_NAMES: `source_ip` is also `source.ip`, `IpAddress`, ...), replaces those values, and then scrubs
every removed value out of the event's free text (the raw line, the message, command lines), which
quote the user or the address as often as the fields do.
"""

from __future__ import annotations

from typing import Any

REDACTED = "[redacted]"
MIN_SCRUBBED = 3

# Plain policy names -> the names the same thing has in a normalised event (ECS, then the sources' own,
# as detectors/detection.py reads them for the entity).
EVENT_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("user", "User", "TargetUserName", "SubjectUserName", "AccountName", "related.user"),
    "source_ip": ("source.ip", "client.ip", "IpAddress", "SourceIp", "src_ip", "related.ip"),
    "host": ("host", "Computer", "Hostname"),
}


def redact(value: Any, sensitive: list[str], path: str = "", removed: list[str] | None = None) -> Any:
    """Replace the values at sensitive paths (`entity.user`) or keys anywhere (`user`) by [redacted].

    The removed values (each string inside them) are appended to `removed` (when given), so free text
    quoting them can be cleaned too.
    """
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            here = f"{path}.{key}" if path else key
            hit = here in sensitive or key in [s for s in sensitive if "." not in s]
            if hit and inner not in (None, "", [], {}):
                out[key] = REDACTED
                if removed is not None:
                    removed += _leaves(inner)
            else:
                out[key] = redact(inner, sensitive, here, removed)
        return out
    if isinstance(value, list):
        return [redact(item, sensitive, path, removed) for item in value]
    return value


def scrub(text: str, removed: list[str]) -> str:
    """Free text (a title naming the user, say) without any of the redacted values."""
    for value in sorted(set(removed), key=len, reverse=True):
        if value:
            text = text.replace(value, REDACTED)
    return text


def redact_event(
    event: dict[str, Any], sensitive: list[str], *, values: list[str] | None = None
) -> dict[str, Any]:
    """The event with the tenant's sensitive fields replaced and their values scrubbed from every string;
    `values` are scrubbed too wherever they occur (a TLP:RED indicator the event matched)."""
    if not sensitive and not values:
        return event
    names = [alias for name in sensitive for alias in (name, *EVENT_NAMES.get(name, ()))]
    removed: list[str] = list(values or [])
    redacted: dict[str, Any] = redact(event, names, removed=removed)
    # Values of fewer than MIN_SCRUBBED characters (a user id 0, a two-letter domain) stay in free text:
    # scrubbing them would shred every string; the field itself is redacted all the same.
    quoted = [v for v in removed if len(v) >= MIN_SCRUBBED and not v.isdigit()]
    if not quoted:
        return redacted
    scrubbed: dict[str, Any] = _scrub_all(redacted, quoted)
    return scrubbed


def _scrub_all(value: Any, removed: list[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, removed)
    if isinstance(value, dict):
        return {key: _scrub_all(inner, removed) for key, inner in value.items()}
    if isinstance(value, list):
        return [_scrub_all(item, removed) for item in value]
    return value


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for inner in value.values() for leaf in _leaves(inner)]
    if isinstance(value, list):
        return [leaf for inner in value for leaf in _leaves(inner)]
    return [] if value is None else [str(value)]
