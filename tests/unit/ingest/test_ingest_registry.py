"""The parser registry: one name per parser, every built-in reachable by the name users configure."""

from __future__ import annotations

import pytest

from ingest.parsers import BUILTIN, ParseError, Parser, ParserRegistry, UnknownParserError, default_registry
from schemas.event import EcsEvent
from schemas.raw import RawRecord


def _never(raw: RawRecord) -> EcsEvent:
    raise ParseError("test parser")


def test_every_builtin_parser_is_reachable_by_name() -> None:
    """Each registered parser is returned by `get(name)`, and the expected formats are all there."""
    registry = default_registry()
    for parser in BUILTIN:
        assert registry.get(parser.name) is parser
    expected = {"json", "text", "windows", "syslog", "auditd", "access_log", "zeek", "suricata", "cloudtrail"}
    assert expected <= set(registry.names())


def test_registering_a_name_twice_is_refused() -> None:
    """A second parser under an existing name raises instead of silently replacing the first."""
    registry = ParserRegistry()
    registry.register(Parser(name="x", parse=_never, description=""))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Parser(name="x", parse=_never, description="another"))


def test_unknown_parser_names_the_registered_ones() -> None:
    """Asking for an unknown parser fails with a message listing what is registered."""
    with pytest.raises(UnknownParserError, match=r"registered parsers: .*windows"):
        default_registry().get("evtx")


def test_parser_names_are_lower_case_words() -> None:
    """Names are what users type in configuration: mixed case or blanks are refused."""
    with pytest.raises(ValueError, match="lower-case"):
        ParserRegistry().register(Parser(name="Syslog", parse=_never, description=""))
