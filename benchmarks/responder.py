"""Responder throughput: synthetic detections through `ResponderStage.process` on the real Elasticsearch.

N detections (default 2,000) of several tenants, grouped into far fewer incidents (default 10 detections
per incident: same rule, host, user and address, within the grouping window), fed to the stage in
batches of `--batch` (500, the worker loop's `max_records`) as the worker would. Each of `--runs` runs
(median reported) uses a fresh index prefix, so every run is a first processing; then the same batches
are fed again (a replay after a crash before the offset commit), which must write nothing new. The replay
starts `--replay-pause` seconds (2) after the first processing, as a restarted worker's would: right
after the writes, every real-time read would first pay for Elasticsearch's refresh of what was just
written, which no real replay sees.

The Elasticsearch client's transport is wrapped to count requests, per batch and by kind (bulk, mget,
get, create, index, search...), so the figures say where the round trips go. Notices are off by default
(the tenants have no routes); `--notices` routes every tenant's incidents to a local aiosmtpd mailbox.

"client CPU" is this process's CPU time while processing (all threads): the rest of the wall time is
spent waiting for Elasticsearch (which, on a developer's machine, shares the same cores).

After each run (outside the timing) every tenant's chain is verified and the records counted.

    .venv/bin/python benchmarks/responder.py [--detections 2000] [--tenants 4] [--per-incident 10]
        [--batch 500] [--runs 3] [--replay-pause 2] [--notices]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from responders.evidence.audit import verify_live
from responders.worker import Responders, ensure_indices
from schemas.detection import Detection, Entity, EventRef, RuleRef
from schemas.envelope import Envelope
from socpipe.bus import Inbound
from socpipe.es import es_client
from socpipe.logging import configure_logging
from socpipe.settings import Settings, load_settings

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class RequestCounter:
    """Counts the HTTP requests an Elasticsearch client's transport performs, by kind."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def install(self, es: Any) -> None:
        transport = es.transport
        inner = transport.perform_request

        def counted(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
            self.kinds[_kind(method, target)] += 1
            return inner(method, target, *args, **kwargs)

        transport.perform_request = counted

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def _kind(method: str, target: str) -> str:
    path = target.split("?", maxsplit=1)[0]
    for part in ("_bulk", "_mget", "_search", "_refresh", "_create", "_count", "_aliases"):
        if part in path:
            return part.strip("_")
    if "/_doc/" in path:
        return {"GET": "get", "PUT": "index", "POST": "index", "DELETE": "delete"}.get(method, method)
    return f"{method} other"


def detections(n: int, tenants: int, per_incident: int, seed: int = 7) -> list[Detection]:
    """`n` detections, tenant i % tenants, incident group (host) i % groups: `per_incident` each."""
    groups = max(1, n // per_incident)
    out = []
    for i in range(n):
        tenant, group = f"bench{i % tenants}", i % groups
        out.append(
            Detection(
                id=Detection.make_id(tenant, "rule-bench", f"evt-{i}"),
                tenant=tenant,
                rule=RuleRef(
                    id="rule-bench",
                    title="Encoded PowerShell command line",
                    level="high",  # type: ignore[arg-type]
                    tags=["attack.t1059.001"],
                ),
                event_time=T0 + timedelta(seconds=i),
                entity=Entity(host=f"ws-{group:04d}", user=f"user-{group % 17}", source_ip="192.0.2.10"),
                event_ref=EventRef(event_id=f"evt-{i}", topic="events.ecs", partition=i % 6, offset=i),
            )
        )
    random.Random(seed).shuffle(out)
    return out


def inbound(batch: list[Detection], start: int) -> list[Inbound]:
    return [
        Inbound(
            topic="detections",
            partition=0,
            offset=start + i,
            value=Envelope[Detection](kind="detection", tenant=d.tenant, id=d.id, payload=d)
            .model_dump_json()
            .encode(),
            key=d.tenant.encode(),
        )
        for i, d in enumerate(batch)
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mailbox(enabled: bool) -> Iterator[tuple[int, list[bytes]]]:
    """A local aiosmtpd server that keeps what it receives (or nothing at all when notices are off)."""
    received: list[bytes] = []
    if not enabled:
        yield 25, received
        return
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(envelope.content)
            return "250 2.0.0 queued"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def tenants_file(directory: Path, tenants: int, notices: bool) -> Path:
    lines = ["tenants:"]
    for t in range(tenants):
        lines += [f"  - id: bench{t}", f"    name: Bench {t}"]
        if notices:
            lines += [
                "    routes:",
                f"      - {{channel: email, destination: soc@bench{t}.example, min_severity: low}}",
            ]
        else:
            lines.append("    routes: []")
    path = directory / "tenants.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def one_run(
    base: Settings, data: list[Detection], batch_size: int, tenants: int, replay_pause: float
) -> dict[str, Any]:
    settings = base.model_copy(update={"index_prefix": f"bench{uuid.uuid4().hex[:8]}-socpipe"})
    ensure_indices(settings)
    responders = Responders(settings)
    counter = RequestCounter()
    counter.install(responders.es)
    stage = responders.stage()
    batches = [data[i : i + batch_size] for i in range(0, len(data), batch_size)]
    encoded = [inbound(b, i * batch_size) for i, b in enumerate(batches)]
    names = [f"bench{t}" for t in range(tenants)]
    stage._ready.update(names)  # indices made above: time the stage, not index creation
    result: dict[str, Any] = {}
    try:
        for phase in ("first", "replay"):
            if phase == "replay":
                time.sleep(replay_pause)  # a replay comes after a restart, not in the same second
            counter.kinds.clear()
            started, cpu = time.perf_counter(), time.process_time()
            for records in encoded:
                stage.process(records)
            seconds = time.perf_counter() - started
            result[phase] = {
                "seconds": seconds,
                "cpu": time.process_time() - cpu,
                "rate": len(data) / seconds,
                "requests_per_batch": counter.total / len(batches),
                "kinds": dict(counter.kinds),
            }
            if phase == "first":
                check = es_client(settings)
                try:
                    result["records"] = sum(verify_live(check, settings, t).checked for t in names)
                    result["verified"] = all(verify_live(check, settings, t).ok for t in names)
                finally:
                    check.close()
        check = es_client(settings)
        try:
            records_after = sum(verify_live(check, settings, t).checked for t in names)
        finally:
            check.close()
        result["replay_wrote"] = records_after - result["records"]
    finally:
        responders.close()
        cleanup = es_client(settings)
        try:
            cleanup.indices.delete(index=f"{settings.index_prefix}-*", expand_wildcards="all")
            cleanup.indices.delete_index_template(name=f"{settings.index_prefix}-*")
        finally:
            cleanup.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detections", type=int, default=2000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--per-incident", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--replay-pause", type=float, default=2.0, help="seconds between first processing and replay"
    )
    parser.add_argument("--notices", action="store_true", help="route notices to a local aiosmtpd mailbox")
    args = parser.parse_args()
    configure_logging("WARNING")

    data = detections(args.detections, args.tenants, args.per_incident)
    incidents = len({(d.tenant, d.entity.host) for d in data})
    print(
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}; "
        f"{len(data)} detections, {args.tenants} tenants, {incidents} incidents, batches of {args.batch}, "
        f"notices {'to a local mailbox' if args.notices else 'off'}"
    )
    runs = []
    with tempfile.TemporaryDirectory() as tmp, mailbox(args.notices) as (port, received):
        base = load_settings(
            tenants_file=tenants_file(Path(tmp), args.tenants, args.notices),
            smtp_port=port,
        )
        for n in range(args.runs):
            result = one_run(base, data, args.batch, args.tenants, args.replay_pause)
            runs.append(result)
            first, replay = result["first"], result["replay"]
            print(
                f"run {n + 1}: first {first['rate']:,.0f} det/s ({first['seconds']:.2f} s, "
                f"{first['cpu']:.2f} s client CPU, "
                f"{first['requests_per_batch']:.1f} requests/batch {first['kinds']}); "
                f"replay {replay['rate']:,.0f} det/s ({replay['seconds']:.2f} s, "
                f"{replay['requests_per_batch']:.1f} requests/batch {replay['kinds']}); "
                f"{result['records']} evidence records, verified {result['verified']}, "
                f"replay wrote {result['replay_wrote']}; mails so far {len(received)}"
            )

    def median(phase: str, key: str) -> float:
        return float(statistics.median(r[phase][key] for r in runs))

    print(
        f"median of {len(runs)}: first {median('first', 'rate'):,.0f} detections/s, "
        f"{median('first', 'requests_per_batch'):.1f} ES requests/batch; "
        f"replay {median('replay', 'rate'):,.0f} detections/s, "
        f"{median('replay', 'requests_per_batch'):.1f} ES requests/batch"
    )


if __name__ == "__main__":
    main()
