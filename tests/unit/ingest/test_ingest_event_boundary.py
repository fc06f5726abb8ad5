"""The parsers' output is validated where it becomes an EcsEvent (`base.event_from`): a value of the
wrong type is a ParseError naming the field, and in the normalise stage a dead letter, never an event."""

from __future__ import annotations

import pytest

from ingest.normalise import NormaliseStage
from ingest.parsers import ParseError, Parser, ParserRegistry
from ingest.parsers.base import event_from
from schemas.event import EcsEvent
from schemas.raw import RawRecord
from schemas.topics import Topics
from socpipe.bus import Inbound
from tests.unit.ingest.conftest import RECEIVED, raw_record


def _bad_pid(raw: RawRecord) -> EcsEvent:
    """A parser with a bug: it hands over a process id that is no number."""
    return event_from(raw, RECEIVED, {"line": raw.data}, None, {"process": {"pid": "not-a-pid"}})


def test_a_wrongly_typed_value_is_a_parse_error_naming_the_field() -> None:
    """The compiled validator still runs on every event the hot parsers build."""
    with pytest.raises(ParseError, match=r"cannot build the ECS event: process\.pid"):
        _bad_pid(raw_record("x", "bad"))


def test_the_normalise_stage_dead_letters_it() -> None:
    """Through the stage: no event, one dead letter with the reason and the consumed bytes."""
    registry = ParserRegistry()
    registry.register(Parser(name="bad", parse=_bad_pid, description="test parser with a bug"))
    topics = Topics.with_prefix("t.")
    value = raw_record("x", "bad").model_dump_json().encode()
    out = NormaliseStage(topics, registry).process(
        [Inbound(topic=topics.raw, partition=0, offset=7, value=value, key=b"acme:h")]
    )
    assert out.messages == []
    (letter,) = out.dead_letters
    assert "process.pid" in letter.reason and letter.original == value and letter.position.offset == 7
