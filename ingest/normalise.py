"""The normalise stage: RawRecords from events.raw, parsed by their named parser, to events.ecs.

Each event travels as `Envelope(kind="event", id=event.event_id())`, keyed by tenant and host
(`event_key`): one host's events stay in order on one partition, and one tenant's events spread over
every partition, so a large tenant uses every detector worker. The detectors are stateless; what
stateful detection needs is repartitioned by its own key after them (detectors/contributions.py).
A record that is not a RawRecord, names an unknown parser, or that its parser refuses becomes a
dead letter with the reason, the parser, the tenant, the Kafka and source positions, and the
consumed bytes (the RawRecord, so `socpipe dlq replay` can re-drive it as is).

A parser with a joiner (auditd: the SYSCALL, EXECVE ... records of one event become one event) is fed
the batch's records in order and flushed at the batch's end: a group is never held across batches,
whose offsets are committed once their output is written. An event whose records straddle two
batches is emitted as two partial events (nothing lost); the shippers key a host's records to one
partition in order, so the records of one event are otherwise together.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from ingest.parsers import ParseError, ParserRegistry, UnknownParserError, default_registry
from ingest.parsers.base import Joiner
from schemas.deadletter import DeadLetter, SourcePosition
from schemas.envelope import Envelope
from schemas.event import EcsEvent
from schemas.raw import RawRecord
from schemas.topics import Topics
from socpipe.bus import Inbound, Outbound
from socpipe.settings import Settings
from socpipe.worker import StageOutput, dead_letter

EventEnvelope = Envelope[EcsEvent]


class NormaliseStage:
    name = "normalise"

    def __init__(self, topics: Topics, registry: ParserRegistry | None = None) -> None:
        self.topics = topics
        self.registry = registry or default_registry()

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        out = StageOutput()
        joiners: dict[str, Joiner] = {}  # per parser, for this batch only (see the module's notes)
        positions: dict[int, Inbound] = {}  # the Kafka record of each raw record a joiner holds
        for record in batch:
            try:
                raw = RawRecord.model_validate_json(record.value)
            except ValidationError as exc:
                out.dead_letters.append(dead_letter(record, self.name, exc))
                continue
            try:
                parser = self.registry.get(raw.parser)
                if parser.joiner is None:
                    events = parser.events(raw)
                else:
                    joiner = joiners.get(parser.name) or joiners.setdefault(parser.name, parser.joiner())
                    positions[id(raw)] = record
                    events = [event for _, event in joiner.add(raw)]
                    self._refused_held(joiner, positions, out)
            except (ParseError, UnknownParserError) as exc:
                out.dead_letters.append(self._refused(record, raw, exc))
                continue
            out.messages.extend(self._outbound(event, raw) for event in events)
        for joiner in joiners.values():
            out.messages.extend(self._outbound(event, first) for first, event in joiner.flush())
            self._refused_held(joiner, positions, out)
        return out

    def _refused_held(self, joiner: Joiner, positions: dict[int, Inbound], out: StageOutput) -> None:
        for raw, exc in joiner.refused:
            out.dead_letters.append(self._refused(positions[id(raw)], raw, exc))
        joiner.refused.clear()

    def _outbound(self, event: EcsEvent, raw: RawRecord) -> Outbound:
        envelope = EventEnvelope(kind="event", tenant=event.tenant, id=event.event_id(), payload=event)
        return Outbound(
            self.topics.ecs,
            envelope.model_dump_json(by_alias=True, exclude_none=True).encode(),
            event_key(event, envelope.id),
        )

    def _refused(self, record: Inbound, raw: RawRecord, exc: ParseError | UnknownParserError) -> DeadLetter:
        return DeadLetter(
            reason=exc.reason if isinstance(exc, ParseError) else str(exc),
            stage=self.name,
            parser=raw.parser,
            source=raw.source,
            tenant=raw.tenant,
            error_type=type(exc).__name__,
            position=SourcePosition(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                path=raw.path,
                line=raw.line,
                peer=raw.peer,
            ),
            original=record.value,
            replay_topic=record.topic,
            timezone=raw.timezone,
        )


def build_stage(settings: Settings) -> NormaliseStage:
    """The normalise stage for these settings' topics, with every built-in parser."""
    return NormaliseStage(settings.topics)


def event_key(event: EcsEvent, event_id: str) -> bytes:
    """tenant|host (lower-cased: Windows host names are case-insensitive); an event without a host
    is keyed by its own id, so hostless sources (cloud audit logs) spread too."""
    host = event.entity_host()
    return f"{event.tenant}|{host.lower() if host else '#' + event_id}".encode()
