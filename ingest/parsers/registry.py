"""The one registry of ingest parsers, keyed by the name users write in configuration.

Registration is explicit (`ingest.parsers.default_registry` lists every built-in parser) and refuses a
name twice, so two modules cannot silently claim `syslog`: the shape every registry has
(socpipe/registry.py).
"""

from __future__ import annotations

from ingest.parsers.base import Parser
from socpipe.registry import Registry, UnknownNameError


class UnknownParserError(UnknownNameError):
    """A configuration or a record names a parser that is not registered."""


class ParserRegistry(Registry[Parser]):
    def __init__(self) -> None:
        super().__init__("parser", UnknownParserError)

    def register(self, parser: Parser) -> Parser:
        return self.add(parser.name, parser)
