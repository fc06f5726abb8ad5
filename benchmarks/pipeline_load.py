"""The pipeline benchmark's load: a multi-tenant stream sent at a fixed rate to `socpipe ingest http`.

The stream mixes the corpus's Windows events (otrf-200k) with generated syslog lines, spread over
tenants by fixed weights (the largest over half of the volume), and every few seconds one round of
the attack samples of samples/ (their hosts renamed per round and their times set to now, so each
round is new evidence and opens new incidents rather than replaying old ones).

The sender paces by the clock, not by the answers: every tick it posts what is due so far, one
request per tenant and parser, without waiting for earlier answers (up to a cap in flight). A
receiver that cannot keep up therefore shows as refused or late requests, never as a slower offer.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

# Tenant -> share of the volume. acme and globex have the sample intrusions and notice routes
# (rules/tenants.yaml); the others are background clients with no route (incidents, no notices).
TENANT_WEIGHTS: dict[str, float] = {
    "acme": 0.6,
    "globex": 0.15,
    "initech": 0.1,
    "umbrella": 0.1,
    "hooli": 0.05,
}
SYSLOG_SHARE = 0.3  # of each tenant's lines; the rest are Windows events
TICKS_PER_S = 10
COLLECTORS = 4  # each tenant posts as this many collector hosts (the raw topic's key hint)
MAX_IN_FLIGHT = 64
ATTACK_SHARE = 0.05  # at most this share of the volume is attack-sample lines


LARGEST_SHARE = 0.6


def tenant_weights(count: int) -> dict[str, float]:
    """The first `count` tenants: the largest keeps LARGEST_SHARE, the others split the rest as above."""
    picked = list(TENANT_WEIGHTS)[: max(1, count)]
    if len(picked) == 1:
        return {picked[0]: 1.0}
    rest = sum(TENANT_WEIGHTS[t] for t in picked[1:])
    return {picked[0]: LARGEST_SHARE} | {
        t: (1 - LARGEST_SHARE) * TENANT_WEIGHTS[t] / rest for t in picked[1:]
    }


def api_key(tenant: str) -> str:
    return f"bench-{tenant}-key"


def key_file(path: Path, tenants: list[str]) -> Path:
    """The HTTP receiver's key file: one clear-text development key per tenant."""
    doc = {"tenants": {t: {"keys": [api_key(t)]} for t in tenants}}
    path.write_bytes(orjson.dumps(doc))  # JSON is YAML
    return path


def windows_lines(corpus: Path, limit: int) -> list[bytes]:
    with gzip.open(corpus / "bench" / "otrf-200k.jsonl.gz", "rb") as src:
        return [line.rstrip(b"\n") for line in itertools.islice(src, limit)]


def syslog_lines(count: int, seed: int = 7) -> list[bytes]:
    """RFC 5424 and RFC 3164 lines as an sshd / sudo / cron feed writes them (no attack in them)."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        host, pid = f"lnx{rng.randrange(30):02d}", rng.randint(100, 65000)
        user = rng.choice(("root", "alice", "bob", "deploy", "www-data"))
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"
        if n % 3 == 0:
            line = (
                f"<86>1 2026-12-01T08:00:{n % 60:02d}.000Z {host} sshd {pid} - - "
                f"Accepted publickey for {user} from {ip} port {rng.randint(1024, 65535)} ssh2"
            )
        elif n % 3 == 1:
            line = (
                f"<85>Dec  1 08:00:{n % 60:02d} {host} sudo[{pid}]: {user} : TTY=pts/0 ; "
                f"PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl status nginx"
            )
        else:
            line = (
                f"<78>Dec  1 08:00:{n % 60:02d} {host} CRON[{pid}]: ({user}) CMD (run-parts /etc/cron.hourly)"
            )
        out.append(line.encode())
    return out


def attack_samples(samples: Path) -> dict[str, list[dict[str, object]]]:
    """Tenant -> the events of its sample file (`acme-windows.jsonl` is acme's)."""
    return {
        p.name.split("-", 1)[0]: [orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip()]
        for p in sorted(samples.glob("*-windows.jsonl"))
    }


def attack_round(events: list[dict[str, object]], round_no: int) -> list[bytes]:
    """One replay of a tenant's samples as a new intrusion: hosts renamed, times now."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    out = []
    for event in events:
        fresh = dict(event)
        fresh["Computer"] = f"{event.get('Computer', 'host')}-R{round_no}"
        fresh["SystemTime"] = now
        out.append(orjson.dumps(fresh))
    return out


@dataclass
class SendStats:
    offered: int = 0
    accepted: int = 0
    refused: int = 0  # records of requests answered other than 200
    failed_requests: int = 0
    late_ticks: int = 0
    by_tenant: Counter[str] = field(default_factory=Counter)
    attack_lines: int = 0
    started: float = 0.0
    finished: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def achieved_rate(self) -> float:
        return self.accepted / max(self.finished - self.started, 1e-9)


class Stream:
    """Per tenant, an endless cycle of (parser, line) in a fixed Windows / syslog mix."""

    def __init__(
        self, windows: list[bytes], syslog: list[bytes], weights: dict[str, float], seed: int = 11
    ) -> None:
        rng = random.Random(seed)
        self._cycles: dict[str, Iterator[tuple[str, bytes]]] = {}
        for n, tenant in enumerate(weights):
            # Each tenant starts at a different place of the corpus, so tenants do not send identical lines.
            w = windows[n * len(windows) // len(weights) :] + windows
            mixed = [("windows", line) for line in w[: len(windows)]]
            mixed += [("syslog", line) for line in syslog]
            rng.shuffle(mixed)
            mix_len = round(len(windows) / (1 - SYSLOG_SHARE))
            self._cycles[tenant] = itertools.cycle(mixed[:mix_len])
        self._quota = itertools.cycle(_tenant_sequence(weights))

    def take(self, count: int) -> dict[str, list[tuple[str, bytes]]]:
        out: dict[str, list[tuple[str, bytes]]] = {}
        for tenant in itertools.islice(self._quota, count):
            out.setdefault(tenant, []).append(next(self._cycles[tenant]))
        return out


def _tenant_sequence(weights: dict[str, float], length: int = 1000) -> list[str]:
    """A fixed interleaving of tenants whose counts are exactly the weights (per 1,000)."""
    seq: list[str] = []
    for tenant, weight in weights.items():
        seq += [tenant] * round(weight * length)
    random.Random(3).shuffle(seq)
    return seq


class Sender:
    """Posts lines to the receiver without waiting for earlier answers (at most MAX_IN_FLIGHT open)."""

    def __init__(self, url: str, http: aiohttp.ClientSession, stats: SendStats) -> None:
        self.url, self.http, self.stats = url, http, stats
        self.gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.tasks: set[asyncio.Task[None]] = set()

    async def submit(self, tenant: str, parser: str, lines: list[bytes], host: str) -> None:
        self.stats.offered += len(lines)
        await self.gate.acquire()
        task = asyncio.create_task(self._post(tenant, parser, lines, host))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks)

    async def _post(self, tenant: str, parser: str, lines: list[bytes], host: str) -> None:
        stats = self.stats
        try:
            async with self.http.post(
                f"{self.url}/v1/ingest",
                params={"parser": parser, "host": host},
                data=b"\n".join(lines),
                headers={"Authorization": f"Bearer {api_key(tenant)}", "Content-Type": "text/plain"},
            ) as answer:
                stats.statuses[answer.status] += 1
                if answer.status == 200:
                    accepted = int((await answer.json()).get("accepted", 0))
                    stats.accepted += accepted
                    stats.by_tenant[tenant] += accepted
                else:
                    stats.refused += len(lines)
        except (aiohttp.ClientError, TimeoutError):
            stats.failed_requests += 1
            stats.refused += len(lines)
        finally:
            self.gate.release()


async def send(
    url: str,
    stream: Stream,
    attacks: dict[str, list[dict[str, object]]],
    *,
    rate: int,
    seconds: float,
) -> SendStats:
    """Offer `rate` lines/s for `seconds` to the receiver at `url` (http://host:port)."""
    stats = SendStats()
    attack_lines = sum(len(e) for e in attacks.values())
    attack_every = min(5.0, max(1.0, attack_lines / (ATTACK_SHARE * rate)))
    timeout = aiohttp.ClientTimeout(total=90)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
        sender = Sender(url, http, stats)
        stats.started = time.monotonic()
        next_attack, round_no, tick = stats.started, 0, 0
        while (now := time.monotonic()) < stats.started + seconds:
            batches = stream.take(max(int(rate * (now - stats.started)) - stats.offered, 0))
            if now >= next_attack and attacks:
                round_no += 1
                next_attack += attack_every
                for tenant, events in attacks.items():
                    lines = attack_round(events, round_no)
                    batches.setdefault(tenant, []).extend(("windows", line) for line in lines)
                    stats.attack_lines += len(lines)
            for tenant, items in batches.items():
                for parser in ("windows", "syslog"):
                    if lines := [line for p, line in items if p == parser]:
                        await sender.submit(tenant, parser, lines, f"{tenant}-collector-{tick % COLLECTORS}")
            tick += 1
            sleep = stats.started + tick / TICKS_PER_S - time.monotonic()
            if sleep > 0:
                await asyncio.sleep(sleep)
            else:
                stats.late_ticks += 1
        await sender.drain()
        stats.finished = time.monotonic()
    return stats
