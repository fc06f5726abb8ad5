"""Ingest parsers: RawRecord -> EcsEvent, one per log format, found by the name users configure.

Every built-in parser is registered here, explicitly; `default_registry()` is what the normalise stage
and the shippers (to refuse an unknown `--parser` at start) use.
"""

from __future__ import annotations

from functools import lru_cache

from ingest.parsers import (
    access_log,
    audit_join,
    cloudtrail,
    generic,
    journald,
    network,
    syslog,
    web_error,
    windows,
)
from ingest.parsers.base import ParseError, Parser
from ingest.parsers.registry import ParserRegistry, UnknownParserError

BUILTIN: tuple[Parser, ...] = (
    generic.JSON,
    generic.TEXT,
    windows.PARSER,
    syslog.PARSER,
    audit_join.PARSER,
    access_log.PARSER,
    web_error.PARSER,
    journald.PARSER,
    network.ZEEK,
    network.SURICATA,
    cloudtrail.PARSER,
)


@lru_cache(maxsize=1)
def default_registry() -> ParserRegistry:
    registry = ParserRegistry()
    for parser in BUILTIN:
        registry.register(parser)
    return registry


__all__ = ["BUILTIN", "ParseError", "Parser", "ParserRegistry", "UnknownParserError", "default_registry"]
