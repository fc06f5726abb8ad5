"""Ingest parsers: RawRecord -> EcsEvent, one per log format, found by the name users configure.

Every built-in parser is registered here, explicitly; `default_registry()` is what the normalise stage
and the shippers (to refuse an unknown `--parser` at start) use.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ingest.parsers.base import ParseError, Parser
from ingest.parsers.registry import ParserRegistry, UnknownParserError


def builtin_parsers() -> tuple[Parser, ...]:
    """Every built-in parser. Their modules are imported here, not with the package: `socpipe scan`
    of Windows JSON needs only ParseError and the flattening helpers, and importing every parser cost
    about 0.05 s of its start-up (benchmarks/engine-results.md, session 9)."""
    from ingest.parsers import (  # noqa: PLC0415
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

    return (
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


def __getattr__(name: str) -> Any:
    """`BUILTIN`, the tuple of builtin_parsers(), built on first use (PEP 562)."""
    if name == "BUILTIN":
        return builtin_parsers()
    raise AttributeError(f"module 'ingest.parsers' has no attribute {name!r}")


@lru_cache(maxsize=1)
def default_registry() -> ParserRegistry:
    registry = ParserRegistry()
    for parser in builtin_parsers():
        registry.register(parser)
    return registry


__all__ = ["BUILTIN", "ParseError", "Parser", "ParserRegistry", "UnknownParserError", "default_registry"]
