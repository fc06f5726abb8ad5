"""The one registry of ingest parsers, keyed by the name users write in configuration.

Registration is explicit (`ingest.parsers.default_registry` lists every built-in parser) and refuses a
name twice, so two modules cannot silently claim `syslog`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingest.parsers.base import Parser


class UnknownParserError(KeyError):
    """A configuration or a record names a parser that is not registered."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(name)
        self.message = f"unknown parser {name!r}; registered parsers: {', '.join(sorted(known))}"

    def __str__(self) -> str:
        return self.message


class ParserRegistry:
    def __init__(self) -> None:
        self._parsers: dict[str, Parser] = {}

    def register(self, parser: Parser) -> Parser:
        if not parser.name or parser.name != parser.name.strip().lower():
            raise ValueError(f"parser names are lower-case words, got {parser.name!r}")
        if parser.name in self._parsers:
            raise ValueError(f"a parser named {parser.name!r} is already registered")
        self._parsers[parser.name] = parser
        return parser

    def get(self, name: str) -> Parser:
        try:
            return self._parsers[name]
        except KeyError:
            raise UnknownParserError(name, self._parsers) from None

    def names(self) -> list[str]:
        return sorted(self._parsers)

    def __contains__(self, name: object) -> bool:
        return name in self._parsers
