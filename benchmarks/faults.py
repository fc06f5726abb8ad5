"""Faults benchmark: the whole pipeline under a fault schedule, compared with a clean run of the same input.

On a private Kafka and Elasticsearch pair (devtools/private.py: own ports and state, never the shared
servers), a multi-tenant stream of Windows events (3 tenants, attacks among background) is written to
one file per tenant while `socpipe ingest file --follow` ships each and every stage in STAGE_COMMANDS
runs as a process. Notices go to a slow SMTP relay and to a webhook endpoint that fails (503) for the
first part of the run, then recovers.

The same input runs twice, on fresh topics and indices: clean, then with the fault schedule (SIGKILL of
each kind of process, restarted at once; Kafka and Elasticsearch stopped and started again). Afterwards
it compares detections, incidents, notices (stored and delivered, by id), evidence by type and
`evidence verify` for every tenant, and prints lost / duplicated per kind, the stall after each fault
(seconds from the fault's end until its stage's output moved again) and whether any process died.

    .venv/bin/python benchmarks/faults.py --schedule short   # about 4 minutes: the CI suite runs it
    .venv/bin/python benchmarks/faults.py --schedule long    # on demand: 3 kills of each, 45 s outages

With `--servers DIR` it drives a private pair that is already running from that state folder (the fault
tests' session pair) instead of starting its own, leaves it running, and deletes its topics and indices
afterwards, so that the pair's next restart has no more shards to recover than before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from devtools.cleanup import remove_prefixed
from devtools.private import ELASTICSEARCH, KAFKA, PrivatePair, free_ports
from responders.evidence.verify import verify_live
from socpipe.bus import KafkaBus
from socpipe.consumer_lag import group_lag
from socpipe.es import tenant_indices
from socpipe.settings import Settings, load_settings

#: Every stage as a process: one entry per stage, so a new stage (the lead's `correlate run`) is one edit.
#: name -> (command, its consumer group, the topic it reads): the group's position shows its progress.
STAGE_COMMANDS: dict[str, tuple[list[str], Callable[[Settings], str], Callable[[Settings], str]]] = {
    "normalise": (["normalise", "run"], lambda s: s.normalise_group, lambda s: s.topics.raw),
    "detector": (["detector", "run"], lambda s: s.detector_group, lambda s: s.topics.ecs),
    "correlate": (["correlate", "run"], lambda s: s.correlate_group, lambda s: s.topics.contributions),
    "responder": (["responder", "run"], lambda s: s.responder_group, lambda s: s.topics.detections),
}
TENANTS = ("red", "blue", "green")
WEBHOOK_SECRET = "whsec_ZmF1bHRzLWJlbmNobWFyay1zZWNyZXQtMzItYnl0ZXMh"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    events_per_tenant: int
    write_s: float  # the stream is written over this long, so faults land mid-stream
    kills_each: int
    outage_s: float
    webhook_fails_s: float
    smtp_delay_s: float


SCHEDULES = {
    "short": Schedule(events_per_tenant=2_000, write_s=50, kills_each=1, outage_s=15, webhook_fails_s=30,
                      smtp_delay_s=0.3),
    "long": Schedule(events_per_tenant=12_000, write_s=420, kills_each=3, outage_s=45, webhook_fails_s=120,
                     smtp_delay_s=2.0),
}  # fmt: skip


# --- input -----------------------------------------------------------------------------------------


SYSTEM32 = "C:\\Windows\\System32\\"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
POWERSHELL = "WindowsPowerShell\\v1.0\\powershell.exe"


def _process(image: str, command: str, parent: str, original: str) -> dict[str, str]:
    return {
        "Image": SYSTEM32 + image,
        "CommandLine": command,
        "ParentImage": parent,
        "OriginalFileName": original,
    }


def events(tenant: str, count: int, seed: int) -> list[str]:
    """Background process starts with an attack chain (whoami from Word, encoded PowerShell) every 150
    events on one of 8 hosts: deterministic, so the clean and the faulty run read the same lines."""
    rng = random.Random(f"{tenant}-{seed}")
    lines = []
    for n in range(count):
        host = f"{tenant.upper()}-WS-{n % 8:02d}"
        when = (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event: dict[str, Any] = {
            "Provider_Name": "Microsoft-Windows-Sysmon", "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": host, "SystemTime": when,
            "User": f"CORP\\user{n % 5}", "ProcessId": 1000 + n, "ParentProcessId": rng.randint(300, 900),
        }  # fmt: skip
        if n % 150 == 75:
            event |= _process("whoami.exe", "whoami /all", OFFICE + "WINWORD.EXE", "WHOAMI.EXE")
        elif n % 150 == 76:
            event |= _process(POWERSHELL, f"powershell.exe -nop -w hidden -enc SQBFAFgA{n:08d}",
                              SYSTEM32 + "whoami.exe", "PowerShell.EXE")  # fmt: skip
        else:
            event |= _process("svchost.exe", f"svchost.exe -k netsvcs -p {n}", SYSTEM32 + "services.exe",
                              "SVCHOST.EXE")  # fmt: skip
        lines.append(json.dumps(event))
    return lines


# --- notice endpoints ------------------------------------------------------------------------------


class _Smtp:
    def __init__(self, delay_s: float, received: list[str]) -> None:
        self.delay_s, self.received = delay_s, received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(self.delay_s)  # a slow relay
        for line in envelope.content.decode(errors="replace").splitlines():
            if line.lower().startswith("message-id:"):
                self.received.append(line.split(":", 1)[1].strip())
        return "250 OK"


@dataclass
class Endpoints:
    """A slow SMTP relay and a webhook receiver that answers 503 until `fails_until`, then 200."""

    smtp_delay_s: float
    fails_until: float
    ports: tuple[int, int]  # (smtp, webhook): the same in both runs, since notice ids cover destinations
    mails: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    refused: int = 0

    def start(self) -> None:
        self._smtp_port = self.ports[0]
        self.smtp = Controller(
            _Smtp(self.smtp_delay_s, self.mails), hostname="127.0.0.1", port=self._smtp_port
        )
        self.smtp.start()
        endpoints = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if time.monotonic() < endpoints.fails_until:
                    endpoints.refused += 1
                    self.send_response(503)
                else:
                    endpoints.hooks.append(self.headers.get("webhook-id", ""))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.http = ThreadingHTTPServer(("127.0.0.1", self.ports[1]), Hook)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def smtp_port(self) -> int:
        return self._smtp_port

    def close(self) -> None:
        self.smtp.stop()
        self.http.shutdown()
        self.http.server_close()


def tenants_yaml(path: Path, webhook_port: int) -> Path:
    rows = ["tenants:"]
    for tenant in TENANTS:
        rows += [f"  - id: {tenant}", f"    name: {tenant.title()} Org", "    routes:",
                 f"      - {{channel: email, destination: soc@{tenant}.example, min_severity: medium}}",
                 f"      - {{channel: webhook, destination: 'http://127.0.0.1:{webhook_port}/{tenant}',",
                 "         min_severity: medium, secret_env: SOCPIPE_FAULTS_WHSEC}"]  # fmt: skip
    path.write_text("\n".join(rows) + "\n")
    return path


# --- processes -------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    died: int = 0  # exits we did not cause

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log.open("ab")
        )

    def check(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.died += 1
            print(
                f"  !! {self.name} exited by itself (code {self.process.returncode}); restarted", flush=True
            )
            self.start()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def socpipe(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "socpipe"), *args]


# --- progress and results --------------------------------------------------------------------------


def position(settings: Settings, stage: str) -> tuple[int, int]:
    """(how far the stage got, how far it could get): its group's committed offsets and its input's end
    offsets, summed over partitions; a shipper's are the raw topic's end (never "caught up": its progress
    is the raw topic growing). (-1, -1) while Kafka does not answer."""
    if stage in STAGE_COMMANDS:
        _, group, topic = STAGE_COMMANDS[stage]
        group_id, name = group(settings), topic(settings)
    else:
        group_id, name = None, settings.topics.raw
    try:
        bus = KafkaBus(settings)
        reader = bus.reader(request_timeout_ms=5000)
        try:
            if group_id is None:
                end = sum(reader.end_offsets(_partitions(reader, name)).values())
                return end, end + 1
            admin = bus.admin(request_timeout_ms=5000)
            try:  # the shippers write events.raw in transactions: a commit marker per partition is not lag
                found = group_lag(admin, reader, group_id, name, transactional=name == settings.topics.raw)
            finally:
                admin.close()
        finally:
            reader.close()
    except Exception:
        return -1, -1
    if found is None:
        return 0, 0
    return (found.end if found.lag == 0 else found.done), found.end


def _partitions(reader: KafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]


def es_count(es: Elasticsearch, settings: Settings, kind: str) -> int:
    try:
        return int(es.count(index=f"{settings.index_prefix}-{kind}-*")["count"])
    except Exception:
        return -1


def ids(es: Elasticsearch, settings: Settings, kind: str, tenant: str) -> list[str]:
    index = tenant_indices(settings, tenant).of(kind)
    try:
        es.indices.refresh(index=index)
        hits = es.search(index=index, size=10_000, source=False, sort=["_doc"])["hits"]["hits"]
    except Exception:
        return []
    return [h["_id"] for h in hits]


def evidence_types(es: Elasticsearch, settings: Settings, tenant: str) -> Counter[str]:
    index = tenant_indices(settings, tenant).evidence
    try:
        answer = es.search(index=index, size=0, aggs={"t": {"terms": {"field": "event.action", "size": 50}}})
    except Exception:
        return Counter()
    return Counter({b["key"]: b["doc_count"] for b in answer["aggregations"]["t"]["buckets"]})


@dataclass
class Outcome:
    stored: dict[str, dict[str, list[str]]]  # kind -> tenant -> ids
    evidence: dict[str, Counter[str]]
    verified: dict[str, bool]
    mails: list[str]
    hooks: list[str]
    stalls: list[tuple[str, float | None]] = field(default_factory=list)
    died: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# --- one run ---------------------------------------------------------------------------------------


class Run:
    def __init__(  # noqa: PLR0917 - one run's whole set-up
        self,
        pair: PrivatePair,
        schedule: Schedule,
        work: Path,
        label: str,
        faults: bool,
        ports: tuple[int, int],
    ) -> None:
        self.pair, self.schedule, self.faults = pair, schedule, faults
        self.work = work / label
        self.work.mkdir(parents=True)
        endpoints = pair.endpoints
        unique = uuid.uuid4().hex[:6]
        self.settings = load_settings(
            kafka_bootstrap_servers=endpoints.kafka_bootstrap, elasticsearch_url=endpoints.elasticsearch_url,
            topic_prefix=f"{label}{unique}.", index_prefix=f"{label}{unique}-socpipe",
        )  # fmt: skip
        self.notices = Endpoints(schedule.smtp_delay_s, 0.0, ports)
        # The input at one path for both runs: record ids (hence detection ids) cover the source path.
        self.input = work / "input"
        self.input.mkdir(exist_ok=True)
        self.procs: list[Proc] = []

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers, "ELASTICSEARCH_URL": s.elasticsearch_url,
            "SOCPIPE_TOPIC_PREFIX": s.topic_prefix, "SOCPIPE_INDEX_PREFIX": s.index_prefix,
            "SOCPIPE_TENANTS_FILE": str(self.work / "tenants.yaml"),
            "SOCPIPE_SMTP_PORT": str(self.notices.smtp_port),
            "SOCPIPE_FAULTS_WHSEC": WEBHOOK_SECRET, "SOCPIPE_NOTICE_SWEEP_INTERVAL_S": "5",
            "SOCPIPE_NOTICE_ATTEMPTS": "2", "SOCPIPE_NOTICE_BACKOFF_S": "0.5",
            "SOCPIPE_POLL_TIMEOUT_MS": "300",
            "SOCPIPE_CLAIM_TIMEOUT_S": "30",
        }  # fmt: skip

    def execute(self) -> Outcome:
        started = time.monotonic()
        self.notices.fails_until = started + self.schedule.webhook_fails_s
        self.notices.start()
        tenants_yaml(self.work / "tenants.yaml", self.notices.http.server_address[1])
        KafkaBus(self.settings).ensure_pipeline_topics()
        env = self.env()
        for tenant in TENANTS:
            path = self.input / f"{tenant}.jsonl"
            path.unlink(missing_ok=True)
            path.touch()
            command = socpipe("ingest", "file", str(path), "--tenant", tenant, "--parser", "windows",
                              "--follow", "--host", "faults", "--state-dir", str(self.work / "state"),
                              )  # fmt: skip
            self.procs.append(Proc(f"shipper-{tenant}", command, env, self.work / f"shipper-{tenant}.log"))
        for name, (command, *_) in STAGE_COMMANDS.items():
            self.procs.append(Proc(name, socpipe(*command), env, self.work / f"{name}.log"))
        for proc in self.procs:
            proc.start()
        faults_done = threading.Event()
        writer = threading.Thread(target=self._write, args=(faults_done,))
        writer.start()
        es = Elasticsearch(self.settings.elasticsearch_url, request_timeout=10)
        stalls: list[tuple[str, float | None]] = []
        try:
            if self.faults:
                stalls = self._faults()
            faults_done.set()
            writer.join()
            self._until_quiet(es)
            outcome = self._collect(es)
        finally:
            for proc in self.procs:
                proc.stop()
            self.notices.close()
            es.close()
        outcome.stalls = stalls
        outcome.died = {p.name: p.died for p in self.procs}
        outcome.seconds = time.monotonic() - started
        return outcome

    def _write(self, faults_done: threading.Event) -> None:
        """Every tenant's events appended in small bursts over `write_s`: a live stream. The last tenth
        waits for the fault schedule's end, so every fault lands while there is input to process."""
        lines = {t: events(t, self.schedule.events_per_tenant, 1) for t in TENANTS}
        bursts = 100
        step = self.schedule.events_per_tenant // bursts
        for b in range(bursts):
            if b == 90:
                faults_done.wait()
            for tenant in TENANTS:
                chunk = lines[tenant][b * step : (b + 1) * step if b < bursts - 1 else None]
                with (self.input / f"{tenant}.jsonl").open("a") as handle:
                    handle.write("\n".join(chunk) + "\n")
            time.sleep(self.schedule.write_s / bursts)

    def _watch(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for proc in self.procs:
                proc.check()
            time.sleep(0.5)

    def _stall(self, stage: str, limit_s: float = 120, log: Path | None = None) -> float | None:
        """Seconds until the stage moves on (its group commits further) or has caught up with its input;
        for a shipper (`log`), until its replacement resumed reading (None: not within `limit_s`)."""
        since = time.monotonic()
        if log is not None:
            lines = len(log.read_text().splitlines())
            while time.monotonic() - since < limit_s:
                if any('"reading file"' in line for line in log.read_text().splitlines()[lines:]):
                    return round(time.monotonic() - since, 1)
                time.sleep(0.2)
            return None
        before, _ = position(self.settings, stage)
        while time.monotonic() - since < limit_s:
            for proc in self.procs:
                proc.check()
            done, end = position(self.settings, stage)
            if done >= 0 and (done > before >= 0 or done == end):
                return round(time.monotonic() - since, 1)
            if before < 0:
                before = done
            time.sleep(0.3)
        return None

    def _faults(self) -> list[tuple[str, float | None]]:
        rng = random.Random(7)
        kills = [p for p in self.procs if p.name != "shipper-green"] * self.schedule.kills_each
        rng.shuffle(kills)
        plan: list[tuple[str, Any]] = [("kill", p) for p in kills]
        plan.insert(len(plan) // 3, ("outage", KAFKA))
        plan.insert(2 * len(plan) // 3, ("outage", ELASTICSEARCH))
        gap = max(1.0, 0.9 * self.schedule.write_s / max(1, len(plan)))
        stalls = []
        self._watch(8)
        for kind, target in plan:
            self._watch(rng.uniform(0.3, 1.0) * gap)
            if kind == "kill":
                stage = target.name if target.name in STAGE_COMMANDS else "shipper"
                print(f"  SIGKILL {target.name}", flush=True)
                target.kill()
                log = target.log if stage == "shipper" else None
                stalls.append((f"SIGKILL {target.name}", self._stall(stage, log=log)))
            else:
                print(f"  {target} stopped for {self.schedule.outage_s:.0f} s", flush=True)
                self.pair.stop(target, kill=True)
                self._watch(self.schedule.outage_s)
                self.pair.start()
                for stage in ("normalise", "responder") if target == KAFKA else ("responder",):
                    stalls.append(
                        (f"{target} down {self.schedule.outage_s:.0f} s: {stage}", self._stall(stage, 240))
                    )
        return stalls

    def _until_quiet(
        self, es: Elasticsearch, quiet_s: float = 25, settled_s: float = 12, limit_s: float = 600
    ) -> None:
        """Until nothing changed for `quiet_s` (every event through, notices retried and delivered), or
        for `settled_s` while the pipeline is settled (`_settled`). 25 s of nothing covers a notice
        waiting for its retry; once no notice waits, what can still move is a process waking from its
        longest backoff (MAX_WAIT_S, 10 s; the notice sweep runs every 5 s), which `settled_s` covers."""
        deadline = time.monotonic() + limit_s
        last: tuple[int, ...] = ()
        since = time.monotonic()
        while time.monotonic() < deadline:
            for proc in self.procs:
                proc.check()
            positions = {s: position(self.settings, s) for s in ("shipper", *STAGE_COMMANDS)}
            state = (
                *(done for done, _ in positions.values()),
                es_count(es, self.settings, "evidence"),
                es_count(es, self.settings, "notices"), len(self.notices.mails), len(self.notices.hooks),
            )  # fmt: skip
            unchanged_s = time.monotonic() - since
            if state != last:
                last, since = state, time.monotonic()
            elif unchanged_s >= quiet_s or (unchanged_s >= settled_s and self._settled(es, positions)):
                return
            time.sleep(1)
        print("  !! the pipeline did not settle within the limit", flush=True)

    def _settled(self, es: Elasticsearch, positions: dict[str, tuple[int, int]]) -> bool:
        """Every stage's group has committed all of its input, and no notice is pending or failed (a
        transient failure waits for a retry): nothing is left that a later sweep or batch would change."""
        stages = [positions[stage] for stage in STAGE_COMMANDS]
        if any(done < 0 or done != end for done, end in stages):
            return False
        try:
            open_notices = es.count(
                index=f"{self.settings.index_prefix}-notices-*",
                query={"terms": {"notice.status": ["pending", "failed"]}},
            )["count"]
        except Exception:
            return False
        return int(open_notices) == 0

    def remove_data(self) -> None:
        """Delete this run's indices, index templates and topics (on a pair that outlives the run)."""
        s = self.settings
        remove_prefixed(s.kafka_bootstrap_servers, s.elasticsearch_url, [(s.topic_prefix, s.index_prefix)])

    def _collect(self, es: Elasticsearch) -> Outcome:
        stored = {
            kind: {t: ids(es, self.settings, kind, t) for t in TENANTS}
            for kind in ("detections", "incidents", "notices")
        }
        return Outcome(
            stored=stored,
            evidence={t: evidence_types(es, self.settings, t) for t in TENANTS},
            verified={t: verify_live(es, self.settings, t).ok for t in TENANTS},
            mails=list(self.notices.mails),
            hooks=list(self.notices.hooks),
        )


# --- report ----------------------------------------------------------------------------------------


#: Evidence types whose count is the same however the input is batched; an incident's update records
#: follow its versions (one per batch that touched it) and failed-notice records follow the webhook's
#: timing, so those are shown, not judged.
EXACT_EVIDENCE = frozenset({"detection", "incident_opened", "notice_sent"})


def compare(clean: Outcome, faulty: Outcome) -> list[tuple[str, int, int, int]]:
    """(what, clean count, lost, duplicated) per kind."""
    rows = []
    for kind in clean.stored:
        want = Counter(i for t in TENANTS for i in clean.stored[kind][t])
        got = Counter(i for t in TENANTS for i in faulty.stored[kind][t])
        rows.append((f"{kind} (stored)", sum(want.values()), len(set(want) - set(got)),
                     sum(n - 1 for n in got.values() if n > 1)))  # fmt: skip
    for what, want_list, got_list in (("emails delivered", clean.mails, faulty.mails),
                                      ("webhooks delivered", clean.hooks, faulty.hooks)):  # fmt: skip
        want, got = Counter(want_list), Counter(got_list)
        rows.append(
            (what, len(set(want)), len(set(want) - set(got)), sum(n - 1 for n in got.values() if n > 1))
        )
    for tenant in TENANTS:
        want, got = clean.evidence[tenant], faulty.evidence[tenant]
        for kind in sorted(set(want) | set(got)):
            lost = max(0, want[kind] - got[kind])
            extra = max(0, got[kind] - want[kind])
            note = "" if kind in EXACT_EVIDENCE else " (varies with batching and timing)"
            rows.append((f"evidence {tenant} {kind}{note}", want[kind], lost, extra))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="short")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder (logs) afterwards.")
    parser.add_argument(
        "--servers", type=Path, default=None, metavar="DIR",
        help="State folder of a running private pair (devtools/private.py) to use instead of starting one.",
    )  # fmt: skip
    args = parser.parse_args()
    schedule = SCHEDULES[args.schedule]
    work = Path(tempfile.mkdtemp(prefix="socpipe-faults-"))
    pair = PrivatePair.attach(args.servers) if args.servers else PrivatePair(work / "servers")
    runs: list[Run] = []
    print(f"# faults benchmark, schedule {args.schedule}: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()}, {os.cpu_count()} cores; {len(TENANTS)} tenants x {schedule.events_per_tenant} "
          f"events over {schedule.write_s:.0f} s; work folder {work}", flush=True)  # fmt: skip
    try:
        pair.start()
        print("clean run ...", flush=True)
        smtp_port, webhook_port = free_ports(2)
        ports = (smtp_port, webhook_port)
        runs.append(Run(pair, schedule, work, "clean", faults=False, ports=ports))
        clean = runs[-1].execute()
        print(f"clean run: {clean.seconds:.0f} s; faulty run ...", flush=True)
        runs.append(Run(pair, schedule, work, "faulty", faults=True, ports=ports))
        faulty = runs[-1].execute()
        print(f"faulty run: {faulty.seconds:.0f} s\n")
    finally:
        if not pair.owned:
            pair.start()  # both up again, should the run have ended during an outage
            for run in runs:
                try:
                    run.remove_data()
                except Exception as exc:  # the verdict stands; the pair's owner discards it at the end
                    print(f"  !! {run.settings.topic_prefix} data not removed: {exc!r}", flush=True)
        pair.close()
    rows = compare(clean, faulty)
    print("| what | clean | lost | duplicated |\n| --- | --- | --- | --- |")
    for what, want, lost, dup in rows:
        print(f"| {what} | {want} | {lost} | {dup} |")
    print("\n| fault | stalled s (until its stage's output moved again) |\n| --- | --- |")
    for fault, stall in faulty.stalls:
        print(f"| {fault} | {'no progress within the limit' if stall is None else stall} |")
    died = {k: v for k, v in faulty.died.items() if v}
    print(f"\nprocesses that died by themselves: {died or 'none'}")
    print(f"evidence verify: clean {clean.verified}, faulty {faulty.verified}")
    print(f"deliveries: emails {len(faulty.mails)}, webhooks {len(faulty.hooks)} (clean run: "
          f"{len(clean.mails)}, {len(clean.hooks)}); a resend under the same id after a crash mid-send "
          "is allowed")  # fmt: skip
    judged = [row for row in rows if "varies" not in row[0]]
    stored_duplicates = [d for what, _, _, d in judged if "(stored)" in what or what.startswith("evidence")]
    ok = not died and all(faulty.verified.values()) and not any(lost for _, _, lost, _ in judged)
    ok = ok and not any(stored_duplicates)
    print("RESULT:", "PASS" if ok else "FAIL")
    if not args.keep and ok:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
