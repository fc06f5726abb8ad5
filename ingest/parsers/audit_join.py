"""Join the auditd records of one kernel event (one `msg=audit(TIME:SERIAL)`) into one event.

The kernel writes an event as several records of one serial: SYSCALL (who, which program, the
outcome), EXECVE (the full command line), CWD, PATH (one per file), PROCTITLE, SOCKADDR ..., and ends
it with EOE. Read one by one, no event has both the program and its command line, which is what
Sigma's process_creation rules (`Image` and `CommandLine`) and most analysts need. `AuditJoiner`
holds the records of open events in a bounded buffer and gives each event's records to
`auditd.to_event` when the event is complete:

- on its EOE record (which adds nothing of its own and is not emitted apart);
- on a new serial in the same stream (a tenant's source and node) when `max_open` events are open
  there already, the oldest of them: the records of one event come together, and the default of 2
  lets one other event interleave with them (a user-space record between kernel ones);
- when it holds `max_records` records (a PATH per file can make an event long): what came so far is
  emitted, and later records of the serial start a new group;
- when a record of the stream is `max_age_s` seconds (audit time) newer than the event: a time bound
  in the records' own clock, so a replay groups the same records the same way;
- on `flush()`: the end of a file, or an idle moment of the normalise stage, which otherwise keeps
  the joiner across batches and commits its Kafka offsets short of the records `held()` still
  holds (ingest/normalise.py), so batch boundaries do not split events.

Why the normalise stage holds events across batches rather than naming them by serial: with the
joiner kept across batches and the commit stopped at the first held record, which records make an
event depends only on their order within the stream, never on where Kafka cut the batches, so the
content-derived `event_id` is already the same on every replay (batches of 1 and of 500 give the
same ids: tests/integration/ingest/test_ingest_audit_join_batches_kafka.py). An id from (tenant,
stream, serial, time) alone would give the two partial events of a split serial one id, and the
second would overwrite the first in Elasticsearch: a loss, which is worse than the duplicate it
avoids. What is left: a partial event where a bound cuts (max_records, max_age, max_open, the
1024-event cap) is deterministic; one cut by the worker's idle flush (a stream silent for a poll
timeout in the middle of an event) is not, and a replay may then write the whole event beside the
two halves; and a stream that stops mid-event while other streams keep its partition busy holds
that partition's commit back until one of the bounds or an idle poll releases it (a restart then
re-reads from there, idempotently).

Records that user space writes alone (USER_LOGIN, ADD_USER, CRED_ACQ ...: no EOE follows them) are
emitted at once. Nothing is lost: a record that never meets the rest of its event is emitted on
its own, as `auditd.parse` would. A record that is not auditd raises ParseError from `add`, for
the caller's dead letter, and leaves the buffer as it was.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ingest.parsers.auditd import AuditRecord, parse, read_record, to_event
from ingest.parsers.base import Joined, ParseError, Parser, parse_time, within
from schemas.raw import RawRecord

# Written by user-space programs (PAM, shadow-utils, systemd, auditd itself) as one record, no EOE.
STANDALONE = frozenset(
    {
        "USER_AUTH", "USER_ACCT", "USER_MGMT", "CRED_ACQ", "CRED_DISP", "CRED_REFR", "USER_START",
        "USER_END", "USER_AVC", "USER_CHAUTHTOK", "USER_ERR", "USER_LOGIN", "USER_LOGOUT", "ADD_USER",
        "DEL_USER", "ADD_GROUP", "DEL_GROUP", "DAC_CHECK", "CHGRP_ID", "TEST", "TRUSTED_APP",
        "USER_SELINUX_ERR", "USER_CMD", "USER_TTY", "CHUSER_ID", "GRP_AUTH", "SYSTEM_BOOT",
        "SYSTEM_SHUTDOWN", "SYSTEM_RUNLEVEL", "SERVICE_START", "SERVICE_STOP", "GRP_MGMT", "GRP_CHAUTHTOK",
        "ACCT_LOCK", "ACCT_UNLOCK", "USER_DEVICE", "SOFTWARE_UPDATE", "DAEMON_START", "DAEMON_END",
        "DAEMON_ABORT", "DAEMON_CONFIG", "DAEMON_RECONFIG", "DAEMON_ROTATE", "DAEMON_RESUME",
        "DAEMON_ACCEPT", "DAEMON_CLOSE", "DAEMON_ERR",
    }
)  # fmt: skip

_MAX_EVENTS = 1024  # open events over all streams (each at most max_records records)
Stream = tuple[str, str, str | None]  # tenant, source, node: where one serial numbering runs


@dataclass
class _Open:
    records: list[AuditRecord] = field(default_factory=list)
    time: Decimal = Decimal(0)


def _time(record: AuditRecord) -> Decimal:
    try:
        return Decimal(record.epoch)
    except InvalidOperation:  # the header's regex admits digits only: not expected
        return Decimal(0)


class AuditJoiner:
    """A bounded buffer of open auditd events; `add` and `flush` return the events completed."""

    def __init__(self, *, max_open: int = 2, max_records: int = 64, max_age_s: float = 2.0) -> None:
        self.max_open = max_open
        self.max_records = max_records
        self.max_age = Decimal(str(max_age_s))
        self._open: OrderedDict[tuple[Stream, int], _Open] = OrderedDict()
        self.refused: list[tuple[RawRecord, ParseError]] = []
        """Held records that could not be made an event after all, for the caller's dead letters."""

    def __len__(self) -> int:
        """How many events are open (their records held)."""
        return len(self._open)

    def add(self, raw: RawRecord) -> list[Joined]:
        """Read one record; the events it completes (often none, or its own event)."""
        record = read_record(raw)
        within(parse_time(record.epoch, field="msg=audit(...)"), raw.received_at)  # refused now, not held
        stream: Stream = (raw.tenant, raw.source, record.node)
        key = (stream, record.serial)
        now = _time(record)
        done = self._expire(stream, now, key)
        group = self._open.get(key)
        if record.type == "EOE":
            if group is None:  # its records were emitted already (a bound): the EOE alone, as before
                return [*done, *self._emit([record])]
            del self._open[key]
            return [*done, *self._emit(group.records)]
        if group is None and record.type in STANDALONE:
            return [*done, *self._emit([record])]
        if group is None:
            done.extend(self._make_room(stream))
            group = self._open[key] = _Open(time=now)
        group.records.append(record)
        if len(group.records) >= self.max_records:
            del self._open[key]
            done.extend(self._emit(group.records))
        return done

    def _emit(self, records: list[AuditRecord]) -> list[Joined]:
        """The event of `records`; should the joined event be refused, each record's own event, and
        the records refused alone go to `refused`."""
        try:
            return [(records[0].raw, to_event(records))]
        except ParseError as exc:
            if len(records) == 1:
                self.refused.append((records[0].raw, exc))
                return []
        return [event for record in records for event in self._emit([record])]

    def flush(self) -> list[Joined]:
        """Every open event, as far as its records came: at the end of the input or of a batch."""
        done = [event for group in self._open.values() for event in self._emit(group.records)]
        self._open.clear()
        return done

    def held(self) -> list[RawRecord]:
        """The records of the open events."""
        return [record.raw for group in self._open.values() for record in group.records]

    def _expire(self, stream: Stream, now: Decimal, keep: tuple[Stream, int]) -> list[Joined]:
        """The open events of `stream` that are `max_age` older than `now` (audit time)."""
        old = [
            key
            for key, group in self._open.items()
            if key[0] == stream and key != keep and now - group.time > self.max_age
        ]
        return [event for key in old for event in self._emit(self._open.pop(key).records)]

    def _make_room(self, stream: Stream) -> list[Joined]:
        """Emit the stream's oldest open event when it has `max_open`, and the oldest of all past
        `_MAX_EVENTS` (many streams at once), so the buffer stays bounded."""
        done: list[Joined] = []
        mine = [key for key in self._open if key[0] == stream]
        if len(mine) >= self.max_open:
            done.extend(self._emit(self._open.pop(mine[0]).records))
        while len(self._open) >= _MAX_EVENTS:
            _, group = self._open.popitem(last=False)
            done.extend(self._emit(group.records))
        return done


PARSER = Parser(
    name="auditd",
    parse=parse,
    description="Linux auditd records, raw or enriched (the records of one event joined)",
    joiner=AuditJoiner,
)
