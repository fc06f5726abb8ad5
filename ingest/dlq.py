"""Reading and re-driving the dead-letter topic (`socpipe dlq inspect | replay`).

Replay sends each selected letter back where it came from, after a fix (a new parser version, a
corrected configuration): a `normalise` letter's original is the RawRecord itself and goes back to
events.raw as it was (or with `parser` changed); an `ingest` letter holds the bytes a shipper could
not ship, which become a RawRecord again when they can now be decoded (`encoding`), with the source's
time zone the letter kept (a normalise letter's RawRecord carries its own). A letter cut
short because it was oversized cannot be replayed and is reported as skipped. Ids downstream are
deterministic, so replaying a letter twice does not duplicate events.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from kafka.structs import TopicPartition
from pydantic import ValidationError

from schemas.deadletter import DeadLetter
from schemas.raw import RawRecord
from socpipe.bus import KafkaBus, Outbound


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    letter: DeadLetter


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


def read_letters(bus: KafkaBus, where: LetterFilter, limit: int | None = None) -> Iterator[Letter]:
    """The dead letters present now, oldest first per partition; unreadable ones are skipped."""
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
        count, deadline = 0, time.monotonic() + 120
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    try:
                        letter = DeadLetter.model_validate_json(record.value)
                    except ValidationError:
                        continue
                    if where.accepts(letter):
                        yield Letter(tp.partition, record.offset, letter)
                        count += 1
                        if limit is not None and count >= limit:
                            return
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


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: list[tuple[Letter, str]] = field(default_factory=list)


def replay_message(item: Letter, default_topic: str, *, parser: str | None, encoding: str) -> Outbound:
    """The message that re-drives a letter; ValueError says why one cannot be re-driven."""
    letter = item.letter
    topic = letter.replay_topic or default_topic
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
    report = ReplayReport()
    publisher = None if dry_run else bus.publisher()
    try:
        for item in letters:
            try:
                message = replay_message(item, bus.topics.raw, parser=parser, encoding=encoding)
            except ValueError as exc:
                report.skipped.append((item, str(exc)))
                continue
            if publisher is not None:
                publisher.send(message)
            report.replayed += 1
        if publisher is not None:
            publisher.flush()
    finally:
        if publisher is not None:
            publisher.close()
    return report
