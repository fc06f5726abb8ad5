"""The normalise stage: RawRecords from events.raw, parsed by their named parser, to events.ecs.

Each event travels as `Envelope(kind="event", id=event.event_id())`, keyed by tenant and host
(`event_key`): one host's events stay in order on one partition, and one tenant's events spread over
every partition, so a large tenant uses every detector worker. The detectors are stateless; what
stateful detection needs is repartitioned by its own key after them (detectors/contributions.py).
A record that is not a RawRecord, names an unknown parser, or that its parser refuses becomes a
dead letter with the reason, the parser, the tenant, the Kafka and source positions, and the
consumed bytes (the RawRecord, so `socpipe dlq replay` can re-drive it as is).

A parser with a joiner (auditd: the SYSCALL, EXECVE ... records of one event become one event) is fed
the records in order, and its buffer lives across batches, so how Kafka cuts the stream into batches
does not change which records make an event. Records a joiner still holds at a batch's end (an event
whose EOE has not come) are reported in `StageOutput.held`: the worker commits short of the first of
them, so a crash or a lost partition reads them again and nothing held is lost. What was emitted past
that point is emitted again on such a replay, the same events with the same ids (`event_id` is derived
from the joined records, which no longer depend on batch boundaries), so the writes stay idempotent.
An empty poll (`idle`) writes out what is held: a stream that pauses mid-event (rare: auditd writes
an event's records at once) is then emitted as two partial events, as the joiner's own bounds do.
The shippers key a stream's records (tenant and host) to one partition, in order, so the records
of one event reach one consumer.
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
        self._joiners: dict[str, Joiner] = {}  # per parser, across batches (see the module's notes)
        self._positions: dict[int, Inbound] = {}  # the Kafka record of each raw record a joiner holds

    def process(self, batch: Sequence[Inbound]) -> StageOutput:
        out = StageOutput()
        joiners, positions = self._joiners, self._positions
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
        out.held = self._held()
        return out

    def idle(self) -> StageOutput:
        """No input for now (the worker's empty poll): every held event as far as its records came."""
        out = StageOutput()
        for joiner in self._joiners.values():
            out.messages.extend(self._outbound(event, first) for first, event in joiner.flush())
            self._refused_held(joiner, self._positions, out)
        self._positions.clear()
        return out

    def reset(self) -> None:
        """The worker goes back to its last commit: what is held will be read again."""
        self._joiners.clear()
        self._positions.clear()

    def _held(self) -> dict[tuple[str, int], int]:
        """The lowest Kafka offset per partition of the records the joiners hold (the positions of
        the others are forgotten)."""
        held = {id(raw) for joiner in self._joiners.values() for raw in joiner.held()}
        self._positions = {key: at for key, at in self._positions.items() if key in held}
        lowest: dict[tuple[str, int], int] = {}
        for at in self._positions.values():
            tp = (at.topic, at.partition)
            lowest[tp] = min(lowest.get(tp, at.offset), at.offset)
        return lowest

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
