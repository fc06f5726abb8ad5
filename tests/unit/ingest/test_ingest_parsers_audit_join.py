"""Joining the auditd records of one event (ingest/parsers/audit_join.py): SYSCALL, EXECVE, CWD, PATH,
PROCTITLE of one serial become one event, with nothing lost; in read_log and the normalise stage."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from ingest.normalise import EventEnvelope, NormaliseStage
from ingest.parsers import ParseError, default_registry
from ingest.parsers.audit_join import AuditJoiner
from ingest.parsers.base import Joined
from ingest.read import read_log
from schemas.raw import RawRecord
from schemas.topics import Topics
from socpipe.bus import Inbound
from socpipe.paths import REPO_DIR
from tests.unit.ingest.conftest import raw_record

SAMPLE = REPO_DIR / "tests" / "data" / "linuxweb" / "auditd-joined.log"
LINES = SAMPLE.read_text().splitlines()


def _raws(lines: list[str], source: str = "file:/var/log/audit/audit.log") -> list[RawRecord]:
    return [
        raw_record(text, "auditd", line=n, offset=n * 100, source=source) for n, text in enumerate(lines, 1)
    ]


def _all(joiner: AuditJoiner, raws: list[RawRecord]) -> list[Joined]:
    out = [pair for raw in raws for pair in joiner.add(raw)]
    return out + joiner.flush()


def test_syscall_and_execve_of_one_serial_are_one_event_with_program_and_command_line() -> None:
    """The cp of /etc/shadow: SYSCALL's exe, uid and pid with EXECVE's full command line, CWD's
    directory, both PATH names, at the SYSCALL's position; the EOE ends it and is no event."""
    pairs = _all(AuditJoiner(), _raws(LINES[:7]))
    assert len(pairs) == 1
    first, event = pairs[0]
    assert first.line == 1 and event.log is not None and event.log.offset == 100
    assert event.process is not None
    assert event.process.executable == "/usr/bin/cp"
    assert event.process.command_line == "cp /etc/shadow /tmp/.cache-s"
    assert event.process.pid == 4188 and event.model_extra is not None
    assert event.flat()["process.working_directory"] == "/home/mallory"
    assert event.user is not None and event.user.id == "1000"
    assert (event.event.action, event.event.category, event.event.type) == (
        "executed",
        ["process"],
        ["start"],
    )
    original = event.original
    assert original["type"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert (original["a0"], original["a1"], original["a2"]) == ("cp", "/etc/shadow", "/tmp/.cache-s")
    assert original["syscall_a0"] == "55d8f1c3a2b0", "the SYSCALL's registers are kept, renamed"
    assert original["name"] == ["/usr/bin/cp", "/lib64/ld-linux-x86-64.so.2"]
    assert original["key"] == "exec" and original["audit_serial"] == 300


def test_nothing_is_lost_and_standalone_records_come_at_once() -> None:
    """Every record of the sample is in exactly one event: the USER_CMD comes out when read, the
    EOE-less event and the EXECVE whose SYSCALL was lost come out on flush, each on its own."""
    joiner = AuditJoiner()
    raws = _raws(LINES)
    early = [pair for raw in raws[:8] for pair in joiner.add(raw)]
    assert [first.line for first, _ in early] == [1, 8]  # the cp event (its EOE), the USER_CMD
    rest = [pair for raw in raws[8:] for pair in joiner.add(raw)] + joiner.flush()
    assert sorted(first.line or 0 for first, _ in early + rest) == [1, 8, 9, 13, 18]
    types = [e.original["type"] for _, e in early + rest]
    assert types.count("EXECVE") == 1, "the orphan EXECVE is still an event"
    assert len(joiner) == 0 and joiner.refused == []
    kinds = sum(len(t) if isinstance(t, list) else 1 for t in types)
    assert kinds == len(LINES) - 3, "each type of each event once: 18 lines less 2 EOEs and a 2nd PATH"


def test_syscall_without_execve_keeps_its_own_arguments() -> None:
    """A read of /etc/shadow (openat): no EXECVE, so a0 is still the SYSCALL's (Sigma's SYSCALL
    rules read it), and the PATH's name is the file."""
    ((_, event),) = _all(AuditJoiner(), _raws(LINES[12:17]))
    assert event.original["type"] == ["SYSCALL", "CWD", "PATH", "PROCTITLE"]
    assert event.original["a0"] == "ffffff9c" and "syscall_a0" not in event.original
    assert event.original["name"] == "/etc/shadow" and event.original["SYSCALL"] == "openat"
    assert event.process is not None and event.process.command_line == "cat /etc/shadow"


def test_bounds_records_per_event_open_events_and_audit_time() -> None:
    """max_records emits what came so far (the rest is another event); a new serial emits the
    oldest once max_open are open; a record max_age seconds newer emits the old event."""
    syscall, execve, cwd = LINES[8], LINES[9], LINES[10]
    small = AuditJoiner(max_records=2)
    out = [pair for raw in _raws([syscall, execve, cwd]) for pair in small.add(raw)]
    assert [e.original["type"] for _, e in out] == [["SYSCALL", "EXECVE"]] and len(small) == 1
    assert [e.original["type"] for _, e in small.flush()] == ["CWD"]

    one = AuditJoiner(max_open=1)
    assert one.add(_raws([syscall])[0]) == []
    (pair,) = one.add(_raws([LINES[12]])[0])  # serial 303 starts: 302 is done
    assert pair[1].original["audit_serial"] == 302

    timed = AuditJoiner(max_age_s=1.0)
    assert timed.add(_raws([syscall])[0]) == []
    later = syscall.replace("1772532101.020:302", "1772532103.020:999")
    (pair,) = timed.add(_raws([later])[0])
    assert pair[1].original["audit_serial"] == 302 and len(timed) == 1


def test_streams_are_kept_apart() -> None:
    """The same serial from two sources (two hosts' audit.log) is two events."""
    joiner = AuditJoiner()
    raws = _raws(LINES[:2], source="file:/a") + _raws(LINES[:2], source="file:/b")
    for raw in raws:
        joiner.add(raw)
    assert sorted(first.source for first, _ in joiner.flush()) == ["file:/a", "file:/b"]


def test_a_bad_record_raises_and_leaves_the_buffer_as_it_was() -> None:
    """Not auditd, or an implausible time: ParseError for that record; the open event is intact."""
    joiner = AuditJoiner()
    joiner.add(_raws([LINES[0]])[0])
    with pytest.raises(ParseError, match="not an auditd record"):
        joiner.add(raw_record("hello", "auditd"))
    with pytest.raises(ParseError, match="implausible"):
        joiner.add(raw_record(LINES[1].replace("1772532100.120", "99999999999.1"), "auditd"))
    assert len(joiner) == 1
    ((_, event),) = joiner.flush()
    assert event.original["type"] == "SYSCALL", "one record: the single-record event, as before"


def test_read_log_joins_at_the_first_record_line(tmp_path: Path) -> None:
    """`socpipe parse` / `scan` read through the joiner: five events for the sample's 18 lines."""
    lines = [line for line, _ in read_log(SAMPLE, "auditd")]
    assert sorted(lines) == [1, 8, 9, 13, 18]


def test_normalise_stage_joins_and_dead_letters_bad_records() -> None:
    """The stage feeds the batch's auditd records to one joiner, which holds the open cp event (its
    first record's offset reported held) until the input is idle: then it is one message; a bad
    record in between is a dead letter."""
    topics = Topics.with_prefix("t.")
    values = [r.model_dump_json().encode() for r in _raws(LINES[:3])]
    values.insert(1, raw_record("garbage", "auditd").model_dump_json().encode())
    batch = [
        Inbound(topic=topics.raw, partition=0, offset=i, value=v, key=b"acme:h") for i, v in enumerate(values)
    ]
    stage = NormaliseStage(topics)
    out = stage.process(batch)
    assert [letter.position.offset for letter in out.dead_letters] == [1]
    assert out.messages == [] and out.held == {(topics.raw, 0): 0}
    (message,) = stage.idle().messages
    assert message.value is not None
    event = EventEnvelope.model_validate_json(message.value).payload
    assert event.original["type"] == ["SYSCALL", "EXECVE", "CWD"]
    assert event.process is not None and event.process.command_line == "cp /etc/shadow /tmp/.cache-s"


def test_auditd_is_the_one_registered_parser_with_a_joiner() -> None:
    """The registry's auditd entry joins; the others parse record by record."""
    joining = [name for name, p in default_registry().items() if p.joiner is not None]
    assert joining == ["auditd"]


def _normalised_by_loop(batch_size: int, failed_flushes: int = 0) -> dict[str, str | None]:
    """The sample through the worker loop (in-memory source and sink) in batches of `batch_size`,
    the first `failed_flushes` writes failing (an outage: the loop goes back to its last commit):
    event id -> command line; no event written twice, and the commit ends past every record."""
    from socpipe.worker import run_loop
    from socpipe.worker_io import MemorySink, MemorySource

    inbound = [Inbound("raw", 0, n, raw.model_dump_json().encode()) for n, raw in enumerate(_raws(LINES))]
    source = MemorySource(inbound)
    sink = MemorySink(fail_flushes=failed_flushes, flush_error=KafkaTimeoutError("broker away"))
    run_loop(NormaliseStage(Topics()), source, sink, "dlq", max_records=batch_size, idle_polls_before_exit=1,
             max_backoff_s=0.01)  # fmt: skip
    assert source.committed == {("raw", 0): len(LINES)}
    found: dict[str, str | None] = {}
    for message in sink.durable:
        envelope = EventEnvelope.model_validate_json(message.value)
        assert envelope.id not in found, "an event written twice"
        found[envelope.id] = envelope.payload.process.command_line if envelope.payload.process else None
    return found


def test_batch_boundaries_do_not_change_the_joined_events_or_their_ids() -> None:
    """Batches of 1 record (every event straddles batches) and of 500 give the same events with the
    same ids: the stage holds an open event across batches instead of emitting its halves."""
    one, whole = _normalised_by_loop(1), _normalised_by_loop(500)
    assert one == whole
    assert "cp /etc/shadow /tmp/.cache-s" in whole.values()


def test_an_outage_while_an_event_is_held_redoes_it_from_its_first_record() -> None:
    """Writes failing while records are held: the loop goes back to the commit (short of the held
    records) and the stage forgets what it held, so each event is written once, whole."""
    assert _normalised_by_loop(3, failed_flushes=3) == _normalised_by_loop(500)


def test_the_commit_stops_at_the_first_record_of_a_held_event() -> None:
    """After the SYSCALL and EXECVE of serial 300 (no EOE yet), the stage reports them held: a restart
    reads them again; the records of completed events are past it."""
    stage = NormaliseStage(Topics())
    inbound = [
        Inbound("raw", 0, 10 + n, raw.model_dump_json().encode()) for n, raw in enumerate(_raws(LINES))
    ]
    first = stage.process(inbound[:2])
    assert (first.messages, first.held) == ([], {("raw", 0): 10})
    done = stage.process(inbound[2:7])
    assert len(done.messages) == 1 and done.held == {}
    stage.process(inbound[7:9])  # USER_CMD (alone, emitted) and serial 302's SYSCALL (held)
    stage.reset()  # the worker went back to its last commit: nothing is held any more
    assert stage.idle().messages == []
