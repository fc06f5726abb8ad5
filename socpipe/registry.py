"""One small registry shape for every extension kind: ingest parsers, heuristics, notice channels.

Keyed by the name users write in configuration (`parser: syslog`, `brute_force:` in heuristics.yaml,
`channel: webhook` in a tenant's routes). Registration is explicit and refuses a second entry under a
name already taken, or a name that is not a lower-case word, so two modules cannot silently claim one
name. An unknown name raises `UnknownNameError` listing the registered ones, so a configuration error
can say what would have been accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class UnknownNameError(KeyError):
    """A configuration names something not registered; the message lists what is."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.kind, self.name, self.known = kind, name, known
        self.message = f"unknown {kind} {name!r}; registered {kind}s: {', '.join(known) or 'none'}"

    def __str__(self) -> str:
        return self.message


class Registry(Generic[T]):
    """Entries of one kind by name, in registration order; `names()` sorted for messages."""

    def __init__(self, kind: str, unknown: type[UnknownNameError] = UnknownNameError) -> None:
        self.kind = kind
        self.unknown = unknown  # a subclass, for callers that catch one kind's unknown names
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; ValueError for a bad or duplicate name."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{self.kind} names are lower-case words (a-z, 0-9, _), got {name!r}")
        if name in self._entries:
            raise ValueError(f"a {self.kind} named {name!r} is already registered: {self._entries[name]!r}")
        self._entries[name] = entry
        return entry

    def decorator(self, name_of: Callable[[T], str]) -> Callable[[T], T]:
        """A decorator registering what it decorates under `name_of(it)` (e.g. its `name` attribute)."""
        return lambda entry: self.add(name_of(entry), entry)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise self.unknown(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
