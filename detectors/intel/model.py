"""What one indicator is: its kind, its normalised value and where it came from.

Feeds hold hundreds of thousands of indicators, so the loaded form is a msgspec Struct, not a pydantic
model: the formats are validated at their boundary (parsers), and what many indicators of a feed share
(source, TLP, labels, confidence) is one interned `Provenance` object, not a copy each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import msgspec

from schemas.common import deterministic_id


class IndicatorKind(StrEnum):
    """Indicator kinds socpipe matches; an `ip` value may be a CIDR block."""

    ip = "ip"
    domain = "domain"
    url = "url"
    md5 = "md5"
    sha1 = "sha1"
    sha256 = "sha256"
    email = "email"


HASH_KINDS = (IndicatorKind.md5, IndicatorKind.sha1, IndicatorKind.sha256)


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 markings (TLP:WHITE of 1.0 reads as CLEAR)."""

    clear = "clear"
    green = "green"
    amber = "amber"
    amber_strict = "amber+strict"
    red = "red"

    @classmethod
    def parse(cls, text: str | None, default: Tlp | None = None) -> Tlp | None:
        """`TLP:AMBER+STRICT`, `amber+strict`, `tlp:white` ... as a marking; None or `default` if not one."""
        if not text:
            return default
        word = text.strip().lower().removeprefix("tlp:").strip()
        if word == "white":
            return cls.clear
        try:
            return cls(word)
        except ValueError:
            return default

    @property
    def restricted(self) -> bool:
        """Details may not leave the provider: not to be put in a client notice."""
        return self in (Tlp.red, Tlp.amber_strict)


@dataclass(frozen=True, slots=True)
class Provenance:
    """What the indicators of one feed (or one STIX object group) share; interned per load."""

    source: str
    tlp: Tlp = Tlp.amber
    confidence: int | None = None
    labels: tuple[str, ...] = ()


class Indicator(msgspec.Struct, gc=False):
    """One matchable value. Times are POSIX seconds (None: unknown / no expiry).

    A msgspec Struct rather than a slotted dataclass: its __init__ is C (a dataclass's Python __init__
    was a fifth of a million-indicator load), and `gc=False` keeps a million of them out of the cyclic
    garbage collector, whose full passes over them cost another second a load and 16 bytes each (an
    Indicator holds only strings, numbers, an enum and a Provenance: it cannot be part of a cycle).
    Treated as immutable once read (not `frozen`: hashing is never needed)."""

    kind: IndicatorKind
    value: str
    provenance: Provenance
    ref: str | None = None  # the source's own id (STIX indicator id, MISP attribute uuid)
    first_seen: float | None = None
    last_seen: float | None = None
    valid_until: float | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"

    def expired(self, now: float) -> bool:
        return self.valid_until is not None and self.valid_until <= now

    def id(self) -> str:
        """The source's id, or a stable one made from the source and the value."""
        return self.ref or deterministic_id("indicator", self.provenance.source, self.key)

    def describe(self) -> dict[str, Any]:
        """Provenance as JSON-able data, for a detection's `matched` and the CLI."""
        return {
            "indicator": self.value,
            "type": str(self.kind),
            "id": self.id(),
            "source": self.provenance.source,
            "tlp": f"TLP:{self.provenance.tlp.upper()}",
            "confidence": self.provenance.confidence,
            "labels": list(self.provenance.labels),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "valid_until": iso(self.valid_until),
        }


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def epoch(value: Any) -> float | None:
    """A STIX/MISP timestamp (ISO 8601 text, or POSIX seconds as int or text) in POSIX seconds."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    return _parse_time(str(value).strip())


@lru_cache(maxsize=65536)
def _parse_time(text: str) -> float:
    """Cached: a feed's indicators share a handful of creation and modification times."""
    if text.isdigit():
        return float(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class Interner:
    """One Provenance object per distinct value within a load (a million indicators, a few objects)."""

    def __init__(self) -> None:
        self._seen: dict[Provenance, Provenance] = {}

    def __call__(self, provenance: Provenance) -> Provenance:
        return self._seen.setdefault(provenance, provenance)
