"""Reading and re-driving the dead-letter topic (`socpipe dlq inspect | replay`).

Replay sends each selected letter back where it came from, after a fix (a new parser version, a
corrected configuration): a `normalise` letter's original is the RawRecord itself and goes back to
events.raw as it was (or with `parser` changed); an `ingest` letter holds the bytes a shipper could
not ship, which become a RawRecord again when they can now be decoded (`encoding`), with the source's
time zone the letter kept (a normalise letter's RawRecord carries its own). A letter cut
short because it was oversized cannot be replayed and is reported as skipped. Ids downstream are
deterministic, so replaying a letter twice does not duplicate events.

Each letter goes back to the input of the stage that refused it (its `replay_topic`, else the stage's
input topic: a detector letter to events.ecs, a responder letter to detections), never to events.raw by
default. A failed client notice is no message to re-drive: it is resent by `socpipe notice retry
--include-failed`. A replayed letter is marked by a small marker record on the dead-letter topic (header
`socpipe-replayed`), so later reads (`inspect`, `replay`, a `--dry-run`) leave it out unless asked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from kafka.structs import TopicPartition
from pydantic import ValidationError

from schemas.common import utc_now
from schemas.deadletter import DeadLetter
from schemas.raw import RawRecord
from schemas.topics import Topics
from socpipe.bus import KafkaBus, Outbound

REPLAYED_HEADER = "socpipe-replayed"


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    letter: DeadLetter
    replayed: bool = False


@dataclass(frozen=True)
class LetterFilter:
    tenant: str | None = None
    stage: str | None = None
    parser: str | None = None
    error_type: str | None = None

    def accepts(self, letter: DeadLetter) -> bool:
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.tenant, letter.tenant),
                (self.stage, letter.stage),
                (self.parser, letter.parser),
                (self.error_type, letter.error_type),
            )
        )


def read_letters(
    bus: KafkaBus, where: LetterFilter, limit: int | None = None, *, include_replayed: bool = False
) -> Iterator[Letter]:
    """The dead letters present now, oldest first per partition, replayed ones only with
    `include_replayed` (marked so); unreadable ones are skipped."""
    replayed: set[tuple[int, int]] = set()
    found: list[Letter] = []
    for partition, offset, headers, value in _records(bus):
        marker = dict(headers).get(REPLAYED_HEADER)
        if marker is not None:
            with contextlib.suppress(ValueError):
                p, o = marker.decode().split(":")
                replayed.add((int(p), int(o)))
            continue
        try:
            letter = DeadLetter.model_validate_json(value)
        except ValidationError:
            continue
        if where.accepts(letter):
            found.append(Letter(partition, offset, letter))
    count = 0
    for item in found:
        done = (item.partition, item.offset) in replayed
        if done and not include_replayed:
            continue
        yield Letter(item.partition, item.offset, item.letter, replayed=done)
        count += 1
        if limit is not None and count >= limit:
            return


def _records(bus: KafkaBus) -> Iterator[tuple[int, int, list[tuple[str, bytes]], bytes]]:
    """Every record of the dead-letter topic present now: (partition, offset, headers, value)."""
    topic = bus.topics.dlq
    consumer = bus.consumer(None, [topic])  # type: ignore[arg-type]  # no group: a reader
    try:
        consumer.unsubscribe()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset < end[tp]:
                        yield tp.partition, record.offset, list(record.headers or []), record.value
    finally:
        consumer.close()


def preview(letter: DeadLetter, width: int = 160) -> str:
    """The original as text, for people: a RawRecord's `data`, else the bytes decoded leniently."""
    text = letter.original.decode("utf-8", errors="backslashreplace")
    if letter.stage == "normalise":
        with contextlib.suppress(ValidationError):
            text = RawRecord.model_validate_json(letter.original).data
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def replayed_marker(dlq_topic: str, item: Letter, to_topic: str) -> Outbound:
    """The record that marks a letter replayed: read by `read_letters`, skipped by older readers (its
    value is no DeadLetter)."""
    where = f"{item.partition}:{item.offset}"
    value = orjson.dumps({"replayed": where, "to": to_topic, "at": utc_now().isoformat()})
    return Outbound(dlq_topic, value, f"replayed:{where}".encode(), ((REPLAYED_HEADER, where.encode()),))


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: list[tuple[Letter, str]] = field(default_factory=list)


def input_topic(letter: DeadLetter, topics: Topics) -> str:
    """Where a letter is re-driven: the topic it was consumed from, else its stage's input topic."""
    if letter.replay_topic:
        return letter.replay_topic
    by_stage = {"ingest": topics.raw, "normalise": topics.raw, "detector": topics.ecs}
    by_stage["responder"] = topics.detections
    if letter.stage not in by_stage:
        raise ValueError(f"stage {letter.stage!r} has no input topic to replay into")
    return by_stage[letter.stage]


def replay_message(item: Letter, topics: Topics, *, parser: str | None, encoding: str) -> Outbound:
    """The message that re-drives a letter; ValueError says why one cannot be re-driven."""
    letter = item.letter
    if letter.error_type == "NoticeDeliveryError":
        raise ValueError(
            "a client notice, not a message: resend it with `socpipe notice retry --include-failed`"
        )
    topic = input_topic(letter, topics)
    if letter.stage == "ingest":
        if letter.error_type == "RecordTooLarge":
            raise ValueError("oversized: the letter keeps only the head of the record")
        if letter.tenant is None or letter.source is None or letter.parser is None:
            raise ValueError("the letter lacks tenant, source or parser")
        try:
            data = letter.original.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ValueError(f"still not decodable as {encoding}: {exc}") from None
        pos = letter.position
        raw = RawRecord(
            tenant=letter.tenant, source=letter.source, parser=parser or letter.parser,
            received_at=letter.failed_at, path=pos.path, offset=pos.offset, line=pos.line, peer=pos.peer,
            host_hint=pos.peer, data=data, timezone=letter.timezone,
        )  # fmt: skip
        # Without a zone, no `timezone` key: normalise workers from before the field refuse any.
        value = raw.model_dump_json(exclude={"timezone"} if raw.timezone is None else None).encode()
        return Outbound(topic, value, f"{raw.tenant}:{raw.host_hint or ''}".encode())
    value = letter.original
    key = (letter.tenant or "").encode()
    if letter.stage == "normalise":
        try:
            raw = RawRecord.model_validate_json(value)
        except ValidationError as exc:
            raise ValueError(f"the original is not a RawRecord ({exc.error_count()} errors)") from None
        if parser:
            value = orjson.dumps({**orjson.loads(value), "parser": parser})
        key = f"{raw.tenant}:{raw.host_hint or ''}".encode()
    return Outbound(topic, value, key)


def replay(
    bus: KafkaBus, letters: Iterator[Letter], *, parser: str | None = None, encoding: str = "utf-8",
    dry_run: bool = False,
) -> ReplayReport:  # fmt: skip
    """Re-drive each letter to its stage's input and mark it replayed (markers are sent after the
    messages, in the same flush: a crash between re-drives a letter twice, which ids downstream absorb)."""
    report = ReplayReport()
    publisher = None if dry_run else bus.publisher()
    try:
        for item in letters:
            try:
                message = replay_message(item, bus.topics, parser=parser, encoding=encoding)
            except ValueError as exc:
                report.skipped.append((item, str(exc)))
                continue
            if publisher is not None:
                publisher.send(message)
                publisher.send(replayed_marker(bus.topics.dlq, item, message.topic))
            report.replayed += 1
        if publisher is not None:
            publisher.flush()
    finally:
        if publisher is not None:
            publisher.close()
    return report
