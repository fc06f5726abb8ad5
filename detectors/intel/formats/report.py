"""What a feed load found: indicators per kind, and every entry it skipped, with the reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MAX_EXAMPLES = 20


@dataclass
class LoadReport:
    """Counts per kind and skipped entries; a feed whose entries all fail is an error, not an empty feed."""

    source: str
    kinds: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    expired: int = 0
    examples: list[str] = field(default_factory=list)  # `where: why` of the first skipped entries

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason.split(":", 1)[0]] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{self.source} {where}: {reason}")

    @property
    def loaded(self) -> int:
        return sum(self.kinds.values())
