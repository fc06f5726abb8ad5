"""The whole pipeline under a fixed load: real shipper, every stage as real `socpipe ... run` processes.

Sends a multi-tenant stream (benchmarks/pipeline_load.py: the corpus's Windows events, syslog lines and
rounds of the attack samples; one tenant 60% of the volume) at `--rate` lines/s for `--seconds` to
`socpipe ingest http`, through every stage in STAGES (the detector `--workers` times) on the Kafka and
Elasticsearch of KAFKA_BOOTSTRAP_SERVERS / ELASTICSEARCH_URL, and measures (benchmarks/pipeline_probes.py):

- sustained: the offer was accepted in full and on time, and no stage's lag grew: at the end of the
  sending window each stage is less than LAG_SECONDS of input behind, and its lag over the second half
  of the window did not trend upwards by more than that either;
- latency per detection (so per event that leads to an incident): shipper receipt -> detection on Kafka
  -> its incident and its evidence record searchable in Elasticsearch; p50/p95/p99 of the last step;
- lag per stage over time (sampled each second) and its maximum;
- CPU ms per 1,000 sent events per stage (and per process), from /proc/<pid>/stat, sending start to drained;
- the share of the largest tenant's events each detector worker processed.

Every run uses its own topic, index and consumer-group prefix and deletes its topics, indices, templates
and groups at the end, so it never collides with the tests or another run.

    .venv/bin/python benchmarks/pipeline.py --rate 2000 --seconds 60 --workers 2 \\
        --json out.json --plot out.png
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pipeline_load as load
from pipeline_probes import LagSample, LagSampler, LatencyProbe, cpu_seconds, detector_share

from devtools.mailbox import Mailbox
from socpipe.bus import KafkaBus
from socpipe.es import es_client
from socpipe.paths import corpus_dir, samples_dir
from socpipe.settings import Settings, load_settings


@dataclass(frozen=True)
class StageSpec:
    """One worker stage: `socpipe <command> run`, its input topic (a `Topics` field), its consumer
    group setting (a `Settings` field, set unique per run), and whether `--workers` scales it."""

    command: str
    input_topic: str
    group_setting: str
    scaled: bool = False


# The pipeline's worker stages, in flow order: the ONE list to edit when a stage is added.
STAGES: tuple[StageSpec, ...] = (
    StageSpec("normalise", "raw", "normalise_group"),
    StageSpec("detector", "ecs", "detector_group", scaled=True),
    StageSpec("correlate", "contributions", "correlate_group"),
    StageSpec("responder", "detections", "responder_group"),
)
DETECTOR = "detector"
SHIPPER = "ingest"  # the HTTP receiver, measured like a stage
LAG_SECONDS = 2.0  # a stage this many seconds of input behind (or more) is not keeping up
READY_TIMEOUT_S = 120.0


def socpipe_command() -> list[str]:
    script = Path(sys.executable).parent / "socpipe"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from cli.main import main; main()"]


_T0 = time.monotonic()


def phase(what: str) -> None:
    """One progress line with the seconds since start: where a slow run spends its time."""
    print(f"[{time.monotonic() - _T0:6.1f} s] {what}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """The run's subprocesses, by stage; stopped with SIGTERM (then SIGKILL) by their own pids."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.by_stage: dict[str, list[subprocess.Popen[bytes]]] = {}

    def start(self, stage: str, args: list[str]) -> None:
        n = len(self.by_stage.get(stage, [])) + 1
        log = (self.logs / f"{stage}-{n}.log").open("wb")
        proc = subprocess.Popen(
            [*socpipe_command(), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.by_stage.setdefault(stage, []).append(proc)

    def check_alive(self) -> None:
        for stage, procs in self.by_stage.items():
            for n, proc in enumerate(procs, 1):
                if proc.poll() is not None:
                    tail = (self.logs / f"{stage}-{n}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{stage}-{n} exited with {proc.returncode}:\n{tail}")

    def cpu(self) -> dict[str, float]:
        """CPU seconds per process, named stage-n."""
        return {
            f"{stage}-{n}": cpu_seconds(proc.pid)
            for stage, procs in self.by_stage.items()
            for n, proc in enumerate(procs, 1)
        }

    def stop(self) -> None:
        everyone = [p for procs in self.by_stage.values() for p in procs]
        for proc in everyone:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in everyone:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_settings(partitions: int) -> tuple[Settings, dict[str, str]]:
    """Settings with this run's prefixes, and the environment that gives every subprocess the same."""
    unique = f"pb{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update({
        "SOCPIPE_TOPIC_PREFIX": f"{unique}.",
        "SOCPIPE_INDEX_PREFIX": f"{unique}-socpipe",
        "SOCPIPE_TOPIC_PARTITIONS": str(partitions),
        "SOCPIPE_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    for spec in STAGES:
        if spec.group_setting in Settings.model_fields:
            env[f"SOCPIPE_{spec.group_setting.upper()}"] = f"{unique}-{spec.command}"
    overrides = {k.removeprefix("SOCPIPE_").lower(): v for k, v in env.items() if k.startswith("SOCPIPE_")}
    settings = load_settings(**{k: v for k, v in overrides.items() if k in Settings.model_fields})
    return settings, env


def stage_groups(settings: Settings) -> dict[str, tuple[str, str]]:
    """Stage -> (consumer group, input topic), for the stages whose topic and group exist."""
    topics = settings.topics.model_dump()
    return {
        spec.command: (getattr(settings, spec.group_setting), topics[spec.input_topic])
        for spec in STAGES
        if spec.group_setting in Settings.model_fields and spec.input_topic in topics
    }


def wait_ready(
    url: str, sampler: LagSampler, procs: Processes, opts: argparse.Namespace, settings: Settings
) -> None:
    """Until the receiver answers and every stage's consumer group has its members and partitions."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        procs.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200 and _groups_ready(
                sampler, opts, settings
            ):
                return
        time.sleep(0.5)
    raise RuntimeError(f"stages not ready after {READY_TIMEOUT_S:.0f} s; see their logs")


def _groups_ready(sampler: LagSampler, opts: argparse.Namespace, settings: Settings) -> bool:
    for spec in STAGES:
        group, topic = stage_groups(settings).get(spec.command, (None, None))
        if group is None or topic is None:
            continue
        owners = set(sampler.assignment(group, topic).values())
        if len(owners) < min(workers_of(spec, opts), opts.partitions):
            return False
    return True


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1..99), NaN (null in the JSON) when there is nothing to measure."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def sustained_verdict(
    samples: list[LagSample], window: tuple[float, float], input_rates: dict[str, float]
) -> dict[str, Any]:
    """Per stage: end-of-window lag and the lag trend over the window's second half, against LAG_SECONDS."""
    start, end = window
    half = [s for s in samples if (start + end) / 2 <= s.t <= end]
    verdict: dict[str, Any] = {}
    for stage, rate in input_rates.items():
        points = [(s.t, s.lag[stage]) for s in half if stage in s.lag]
        allowed = max(200.0, LAG_SECONDS * rate)
        if len(points) < 2:
            verdict[stage] = {"ok": False, "why": "no lag samples"}
            continue
        slope = statistics.linear_regression([t for t, _ in points], [v for _, v in points]).slope
        growth = slope * (points[-1][0] - points[0][0])
        last = points[-1][1]
        verdict[stage] = {
            "ok": last <= allowed and growth <= allowed,
            "lag_at_end": last,
            "growth_second_half": round(growth),
            "allowed": round(allowed),
        }
    return verdict


@dataclass
class Observed:
    """Everything one run saw, before it is summarised."""

    prefix: str  # of the run's topics, indices and consumer groups
    sent: load.SendStats
    samples: list[LagSample]
    probe: LatencyProbe
    cpu: dict[str, float]  # CPU seconds per process from sending start until drained
    window: tuple[float, float]  # monotonic: sending started, sending stopped
    wall_start: float
    drained: bool
    incidents: int
    notices: int
    shares: dict[str, float]


def start_pipeline(procs: Processes, settings: Settings, opts: argparse.Namespace, work: Path) -> str:
    """The shipper and every stage's workers started; their receiver's URL."""
    KafkaBus(settings).ensure_pipeline_topics()
    port = free_port()
    keys = load.key_file(work / "keys.yaml", list(load.tenant_weights(opts.tenants)))
    procs.start(SHIPPER, ["ingest", "http", "--listen", f"127.0.0.1:{port}", "--keys", str(keys)])
    for spec in STAGES:
        for _ in range(workers_of(spec, opts)):
            procs.start(spec.command, [spec.command, "run"])
    phase("shipper and workers started; creating the tenants' indices meanwhile")
    prepare_tenants(settings, list(load.tenant_weights(opts.tenants)))
    phase("tenants' indices ready")
    return f"http://127.0.0.1:{port}"


def workers_of(spec: StageSpec, opts: argparse.Namespace) -> int:
    """Processes of a stage: --workers for the scaled one, --scale STAGE=N for any, else 1."""
    return int(opts.scale.get(spec.command, opts.workers if spec.scaled else 1))


def prepare_tenants(settings: Settings, tenants: list[str]) -> None:
    """Index templates and every tenant's indices, as a running deployment has them before its load.

    Creating a tenant's five indices and alias takes seconds on a busy node (cluster state updates),
    paid once by the first detection of a new tenant; left to the run, it would dominate its first seconds.
    """
    from responders.indices import ensure_templates, ensure_tenant

    es = es_client(settings)
    try:
        ensure_templates(es, settings)
        with ThreadPoolExecutor(max_workers=len(tenants)) as pool:  # the node batches them
            list(pool.map(lambda tenant: ensure_tenant(es, settings, tenant), tenants))
    finally:
        es.close()


def observe(
    opts: argparse.Namespace, settings: Settings, procs: Processes, url: str, *, mailbox: Mailbox, es: Any
) -> Observed:
    """Offer the load once every stage is ready, drain, and collect what the probes saw."""
    corpus = corpus_dir()
    if corpus is None:
        raise SystemExit("corpus not found: set SOCPIPE_CORPUS or put ../shared/corpus beside the repository")
    weights = load.tenant_weights(opts.tenants)
    stream = load.Stream(load.windows_lines(corpus, opts.corpus_lines), load.syslog_lines(5000), weights)
    attacks = {t: e for t, e in load.attack_samples(samples_dir()).items() if t in weights}
    sampler = LagSampler(settings, stage_groups(settings), DETECTOR)
    probe = LatencyProbe(settings, es)
    try:
        wait_ready(url, sampler, procs, opts, settings)
        phase("every stage in its consumer group")
        sampler.start()
        probe.start()
        cpu_before = procs.cpu()
        wall_start, mono_start = time.time(), time.monotonic()
        phase(f"sending {opts.rate}/s for {opts.seconds} s to {url} ({opts.workers} detector workers)")
        sent = asyncio.run(load.send(url, stream, attacks, rate=opts.rate, seconds=opts.seconds))
        mono_sent = time.monotonic()
        phase(f"sent {sent.accepted} lines; draining")
        drained = _drain(sampler, probe, procs, timeout_s=opts.drain)
        cpu = {name: after - cpu_before.get(name, 0.0) for name, after in procs.cpu().items()}
        wall_end = time.time()
        phase("drained" if drained else "drain timed out")
    finally:
        sampler.close()
        probe.close()
    biggest = max(weights, key=weights.__getitem__)
    return Observed(
        prefix=settings.topic_prefix.rstrip("."),
        sent=sent,
        samples=sampler.samples,
        probe=probe,
        cpu=cpu,
        window=(mono_start, mono_sent),
        wall_start=wall_start,
        drained=drained,
        incidents=_count(es, f"{settings.index_prefix}-incidents-*"),
        notices=len(list(mailbox.directory.glob("*.eml"))),
        shares=detector_share(
            settings, settings.topics.ecs, biggest, sampler.samples, (wall_start, wall_end)
        ),
    )


def drain_rates(samples: list[LagSample], sent_at: float, min_backlog: int = 1000) -> dict[str, float]:
    """Records/s each stage worked off its backlog once sending stopped: its capacity on this box at
    the time, for the stages that were at least `min_backlog` behind (the ones that did not keep up).
    Upstream stages still feed it while they drain, so this is a lower bound."""
    rates: dict[str, float] = {}
    after = [s for s in samples if s.t >= sent_at]
    for stage in {name for s in after for name in s.lag}:
        points = [(s.t, s.lag[stage]) for s in after if stage in s.lag]
        if not points:
            continue
        peak_t, peak = max(points, key=lambda p: p[1])
        done = next(((t, lag) for t, lag in points if t > peak_t and lag <= peak * 0.05), None)
        if peak >= min_backlog and done is not None:
            rates[stage] = round((peak - done[1]) / (done[0] - peak_t), 1)
    return rates


def run(opts: argparse.Namespace) -> dict[str, Any]:
    settings, env = run_settings(opts.partitions)
    work = Path(tempfile.mkdtemp(prefix="socpipe-pipebench-"))
    es = es_client(settings)
    procs = Processes(env, work)
    try:
        with Mailbox(work / "mailbox") as mailbox:
            env.update({"SOCPIPE_SMTP_HOST": mailbox.host, "SOCPIPE_SMTP_PORT": str(mailbox.port)})
            url = start_pipeline(procs, settings, opts, work)
            return summarise(opts, observe(opts, settings, procs, url, mailbox=mailbox, es=es))
    finally:
        phase("stopping the workers")
        procs.stop()
        phase("cleaning up")
        if opts.keep:
            print(f"kept: logs in {work}, topics {settings.topic_prefix}*, indices {settings.index_prefix}-*")
        else:
            cleanup(settings, es)
            shutil.rmtree(work, ignore_errors=True)
        es.close()


def _drain(sampler: LagSampler, probe: LatencyProbe, procs: Processes, *, timeout_s: float) -> bool:
    """Wait until no stage has lag and every detection seen reached Elasticsearch (or the timeout)."""
    deadline, quiet = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        procs.check_alive()
        time.sleep(1.0)
        last = sampler.samples[-1] if sampler.samples else None
        idle = last is not None and not any(last.lag.values()) and probe.pending() == 0
        quiet = quiet + 1 if idle else 0
        if quiet >= 3:
            return True
    return False


def _count(es: Any, index: str) -> int:
    with contextlib.suppress(Exception):
        es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
        return int(es.count(index=index, ignore_unavailable=True, allow_no_indices=True)["count"])
    return 0


def summarise(opts: argparse.Namespace, seen: Observed) -> dict[str, Any]:
    """The figures of one run (the JSON written by --json)."""
    sent, samples, probe, wall_start = seen.sent, seen.samples, seen.probe, seen.wall_start
    start, sent_at = seen.window
    events = sent.accepted
    detections = list(probe.detections.values())
    e2e = [(d.done - d.received) * 1000 for d in detections if d.done and d.received]
    to_kafka = [(d.on_kafka - d.received) * 1000 for d in detections if d.received]
    to_incident = [(d.incident - d.received) * 1000 for d in detections if d.incident and d.received]
    to_evidence = [(d.evidence - d.received) * 1000 for d in detections if d.evidence and d.received]
    per_process = {name: round(cpu * 1000 / max(events, 1) * 1000, 1) for name, cpu in seen.cpu.items()}
    per_stage: dict[str, float] = {}
    for name, ms in per_process.items():
        stage = name.rsplit("-", 1)[0]
        per_stage[stage] = round(per_stage.get(stage, 0.0) + ms, 1)
    lag_max = {spec.command: max((s.lag.get(spec.command, 0) for s in samples), default=0) for spec in STAGES}
    # Input rate of each stage over the window: what it must consume per second to keep up.
    input_rates = _input_rates(samples, (start, sent_at))
    verdict = sustained_verdict(samples, (start, sent_at), input_rates)
    offer_ok = sent.refused == 0 and sent.accepted >= 0.97 * opts.rate * opts.seconds
    sustained = offer_ok and all(v["ok"] for v in verdict.values()) and seen.drained

    def pcts(values: list[float]) -> dict[str, float | int]:
        ordered = sorted(values)
        return {
            "p50": round(percentile(ordered, 50), 1),
            "p95": round(percentile(ordered, 95), 1),
            "p99": round(percentile(ordered, 99), 1),
            "n": len(ordered),
        }

    return {
        "rate": opts.rate,
        "prefix": seen.prefix,
        "seconds": opts.seconds,
        "workers": opts.workers,
        "processes": {spec.command: workers_of(spec, opts) for spec in STAGES},
        "partitions": opts.partitions,
        "stages": [SHIPPER, *(s.command for s in STAGES)],
        "sustained": sustained,
        "events": events,
        "offered": sent.offered,
        "achieved_rate": round(sent.achieved_rate, 1),
        "refused": sent.refused,
        "late_ticks": sent.late_ticks,
        "attack_lines": sent.attack_lines,
        "events_by_tenant": dict(sent.by_tenant),
        "detections": len(detections),
        "detections_unfinished": sum(1 for d in detections if d.done is None),
        "receipt_lookups": probe.lookups,
        "incidents": seen.incidents,
        "notices": seen.notices,
        "drained": seen.drained,
        "latency_ms": pcts(e2e),
        "latency_breakdown_ms": {
            "to_detection_on_kafka": pcts(to_kafka),
            "to_incident_searchable": pcts(to_incident),
            "to_evidence_searchable": pcts(to_evidence),
        },
        "lag_max": lag_max,
        "input_rate": {stage: round(rate, 1) for stage, rate in input_rates.items()},
        "lag_verdict": verdict,
        "drain_rate": drain_rates(samples, sent_at),
        "cpu_ms_per_1k": per_stage,
        "cpu_ms_per_1k_process": per_process,
        "detector_share": seen.shares,
        "timeline": {
            "lag": [{"t": round(s.t - start, 2), **s.lag} for s in samples],
            "latency": [
                {"t": round(d.received - wall_start, 3), "ms": round((d.done - d.received) * 1000, 1)}
                for d in sorted(detections, key=lambda d: d.received or 0)
                if d.done and d.received
            ],
        },
        "machine": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
    }


def _input_rates(samples: list[LagSample], window: tuple[float, float]) -> dict[str, float]:
    """Records/s written to each stage's input topic while sending: what it must take to keep up."""
    inside = [s for s in samples if window[0] <= s.t <= window[1]]
    rates: dict[str, float] = {}
    for stage in {name for s in inside for name in s.ends}:
        points = [(s.t, s.ends[stage]) for s in inside if stage in s.ends]
        if len(points) >= 2:
            rates[stage] = (points[-1][1] - points[0][1]) / max(points[-1][0] - points[0][0], 1e-9)
    return rates


def cleanup(settings: Settings, es: Any) -> None:
    """Delete the run's topics, consumer groups, indices and index templates, and check they stay gone
    (a client still closing can bring a topic back by asking for its metadata)."""
    for attempt in range(3):
        if not _delete_run_data(settings, es):
            return
        time.sleep(2.0 * (attempt + 1))
    print(f"warning: could not delete everything of {settings.topic_prefix}* / {settings.index_prefix}-*")


def _delete_run_data(settings: Settings, es: Any) -> int:
    """Delete what is left of the run (by exact names); return how many things were found."""
    from kafka import KafkaAdminClient

    found = 0
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
    try:
        ours = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        found += len(ours)
        if ours:
            admin.delete_topics(ours)
        groups = [
            g["group_id"] for g in admin.list_groups() if g["group_id"].startswith(settings.topic_prefix[:-1])
        ]
        if groups:
            with contextlib.suppress(Exception):
                admin.delete_groups(groups)
    finally:
        admin.close()
    prefix = settings.index_prefix
    with contextlib.suppress(Exception):
        indices = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all", allow_no_indices=True))
        found += len(indices)
        for start in range(0, len(indices), 50):
            es.indices.delete(index=",".join(indices[start : start + 50]))
    with contextlib.suppress(Exception):
        for template in es.indices.get_index_template(name=f"{prefix}-*")["index_templates"]:
            es.indices.delete_index_template(name=template["name"])
    return found


def _scale(value: str) -> tuple[str, int]:
    stage, _, count = value.partition("=")
    if not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"expected STAGE=N with N >= 1, got {value!r}")
    return stage, int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=2000, help="lines per second offered")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load is offered")
    parser.add_argument("--workers", type=int, default=2, help="detector worker processes")
    parser.add_argument(
        "--scale",
        type=_scale,
        action="append",
        default=[],
        metavar="STAGE=N",
        help="run N processes of another stage too (repeatable), e.g. --scale normalise=2",
    )
    parser.add_argument("--partitions", type=int, default=6, help="partitions of every topic of the run")
    parser.add_argument("--tenants", type=int, default=5, help="tenants (the largest sends 60%%)")
    parser.add_argument("--corpus-lines", type=int, default=50_000, help="corpus events to cycle through")
    parser.add_argument("--drain", type=float, default=60.0, help="max seconds to wait for the backlog after")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--plot", type=Path, help="write a PNG of latency and lag over time here")
    parser.add_argument("--keep", action="store_true", help="keep topics, indices and logs (debugging)")
    opts = parser.parse_args()
    opts.scale = dict(opts.scale)
    unknown = set(opts.scale) - {s.command for s in STAGES}
    if unknown:
        parser.error(f"--scale: no stage {sorted(unknown)}; stages: {[s.command for s in STAGES]}")
    if opts.rate < 1 or opts.seconds <= 0 or opts.workers < 1 or opts.partitions < opts.workers:
        parser.error("need --rate >= 1, --seconds > 0, 1 <= --workers <= --partitions")
    if not 1 <= opts.tenants <= len(load.TENANT_WEIGHTS):
        parser.error(f"--tenants: 1 to {len(load.TENANT_WEIGHTS)}")
    # SIGTERM (timeout, a CI job cancelled) unwinds like Ctrl-C: the workers stopped, the run's data deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(opts)
    if opts.json:
        opts.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    if opts.plot:
        from pipeline_plot import plot

        plot(result, opts.plot)
    summary = {
        k: v for k, v in result.items() if k not in ("timeline", "lag_verdict", "cpu_ms_per_1k_process")
    }
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
