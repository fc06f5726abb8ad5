"""Where each kind of indicator appears in an event: ECS names, and the source names of the corpus
(Sysmon, Windows, Zeek/Suricata) that the flat view keeps beside them.

Extraction is a fixed table walked once per event: a few dictionary gets, no per-indicator loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from detectors.intel.model import HASH_KINDS, IndicatorKind

IP_FIELDS = (
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "related.ip",
    "SourceIp",
    "DestinationIp",
    "IpAddress",
    "src_ip",
    "dest_ip",
)
DOMAIN_FIELDS = (
    "dns.question.name",
    "url.domain",
    "destination.domain",
    "server.domain",
    "QueryName",
    "DestinationHostname",
)
URL_FIELDS = ("url.original", "url.full")
HASH_FIELDS: dict[str, IndicatorKind] = {
    f"{obj}.hash.{name}": kind
    for obj in ("file", "process", "dll")
    for name, kind in (
        ("md5", IndicatorKind.md5),
        ("sha1", IndicatorKind.sha1),
        ("sha256", IndicatorKind.sha256),
    )
}
SYSMON_HASH_FIELDS = ("Hashes", "Hash")  # "SHA1=...,MD5=...,SHA256=...,IMPHASH=..."
SYSMON_HASH_NAMES = {"MD5": IndicatorKind.md5, "SHA1": IndicatorKind.sha1, "SHA256": IndicatorKind.sha256}
EMAIL_FIELDS = (
    "email.from.address",
    "email.sender.address",
    "email.reply_to.address",
    "email.to.address",
    "email.cc.address",
    "user.email",
    "SenderAddress",
    "RecipientAddress",
)

_HASH_LENGTHS = {32: IndicatorKind.md5, 40: IndicatorKind.sha1, 64: IndicatorKind.sha256}
assert set(_HASH_LENGTHS.values()) == set(HASH_KINDS)


class Fields(Protocol):
    """What matching reads of an event: a flat dict (`EcsEvent.flat()`), or any mapping."""

    def get(self, name: str, /) -> Any: ...


Observation = tuple[IndicatorKind, str, str]  # kind, field, value as the event has it


# name -> (kind, lower-case the value); None as the kind: a Sysmon `Hashes` field, split into its parts.
TABLE: dict[str, tuple[IndicatorKind | None, bool]] = {
    **{name: (IndicatorKind.ip, False) for name in IP_FIELDS},
    **{name: (IndicatorKind.domain, False) for name in DOMAIN_FIELDS},
    **{name: (IndicatorKind.url, False) for name in URL_FIELDS},
    **{name: (kind, True) for name, kind in HASH_FIELDS.items()},
    **{name: (None, False) for name in SYSMON_HASH_FIELDS},
    **{name: (IndicatorKind.email, True) for name in EMAIL_FIELDS},
}
_ORDER = {name: i for i, name in enumerate(TABLE)}
NAMES = frozenset(TABLE)


def observations(flat: Fields) -> list[Observation]:
    """Every (kind, field, value) of the event that an indicator could match, in TABLE order.

    On a dict, the fields present are found by one set intersection (most events carry none, or two or
    three, of the forty names); on anything else, by asking each name.
    """
    if isinstance(flat, dict):
        if NAMES.isdisjoint(flat):
            return []
        names: Iterable[str] = sorted(NAMES.intersection(flat), key=_ORDER.__getitem__)
    else:
        names = TABLE
    out: list[Observation] = []
    seen: set[tuple[IndicatorKind | None, str]] = set()  # DestinationIp and destination.ip: one lookup
    for name in names:
        value = flat.get(name)
        if value is None:
            continue
        kind, lower = TABLE[name]
        for text in (value,) if isinstance(value, str) else value if isinstance(value, list) else ():
            if not isinstance(text, str) or not text or text == "-":
                continue
            if (kind, text) in seen:
                continue
            seen.add((kind, text))
            if kind is None:
                out += _sysmon_hashes(name, text)
            else:
                out.append((kind, name, text.lower() if lower else text))
    return out


def _sysmon_hashes(name: str, text: str) -> Iterator[Observation]:
    for part in text.split(","):
        algorithm, _, digest = part.partition("=")
        if not digest:  # a bare hash (Sysmon configured with one algorithm)
            algorithm, digest = "", algorithm
        kind = SYSMON_HASH_NAMES.get(algorithm.strip().upper()) or (
            None if algorithm else _HASH_LENGTHS.get(len(digest.strip()))
        )
        if kind is not None:
            yield kind, name, digest.strip().lower()
