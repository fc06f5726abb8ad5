"""Parser throughput, lines/s on one core: syslog (sshd, sudo, PAM, cron lines) and web access logs,
each beside a bare regular-expression baseline run on the same lines in the same process.

- parse: `Parser.parse(RawRecord)` -> EcsEvent, the work the normalise stage does per record (the
  RawRecords are built before the clock starts, as the shipper builds them);
- parse+flat: the same and `EcsEvent.flat()`, the view the detectors match on;
- baseline: one compiled regular expression per line (the syslog header and an sshd message, or the
  combined access-log line), `match().groups()` only: what a hand-written grep-speed reader costs.

Lines are generated from templates shaped like real logs (tests/data/linuxweb), with varied users,
addresses, ports and paths so that no cache flatters the figures. Median of `--runs` runs, CPU time
of this process (time.process_time), so other load on the machine does not count.

    .venv/bin/python benchmarks/parsers.py [--runs 5] [--lines 20000] [--code DIR] [--json]

`--code DIR` measures the parsers of another checkout (main's, for a before/after in one session:
benchmarks/parsers_compare.py runs both in alternating rounds); `--json` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path


def _code_dir() -> str:
    """The checkout whose parsers are measured: `--code DIR`, read before the imports below."""
    if "--code" in sys.argv:
        return str(Path(sys.argv[sys.argv.index("--code") + 1]).resolve())
    return str(Path(__file__).resolve().parent.parent)


sys.path.insert(0, _code_dir())

from ingest.parsers import default_registry  # noqa: E402 - after choosing the checkout
from schemas.raw import RawRecord  # noqa: E402

RECEIVED = datetime(2026, 3, 10, tzinfo=UTC)
USERS = ["root", "admin", "alice", "bob", "oracle", "postgres", "test", "ubuntu", "git", "deploy"]


def _ip(rng: random.Random) -> str:
    return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def syslog_lines(n: int, rng: random.Random) -> list[str]:
    """auth.log as an internet-facing server writes it: mostly sshd failures, some sudo, PAM, cron."""
    out = []
    for i in range(n):
        stamp = f"Mar  {rng.randint(1, 9)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{i % 60:02d}"
        user, ip, port, pid = rng.choice(USERS), _ip(rng), rng.randint(1024, 65535), rng.randint(100, 99999)
        kind = rng.random()
        if kind < 0.45:
            msg = f"sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2"
        elif kind < 0.55:
            msg = f"sshd[{pid}]: Invalid user {user} from {ip} port {port}"
        elif kind < 0.65:
            msg = f"sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:x"
        elif kind < 0.75:
            msg = f"sshd[{pid}]: Disconnected from authenticating user {user} {ip} port {port} [preauth]"
        elif kind < 0.85:
            msg = (
                f"sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                f"tty=ssh ruser= rhost={ip}  user={user}"
            )
        elif kind < 0.95:
            msg = f"sudo:  {user} : TTY=pts/{pid % 9} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/apt"
        else:
            msg = f"CRON[{pid}]: ({user}) CMD (/usr/local/bin/backup --quiet)"
        out.append(f"{stamp} web{i % 7:02d} {msg}")
    return out


def access_lines(n: int, rng: random.Random) -> list[str]:
    """Combined-format lines, some with a query, a vhost-less nginx server's view."""
    paths = ["/", "/index.html", "/api/v1/items", "/static/app.js", "/search", "/login", "/wp-login.php"]
    agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0", "curl/8.5.0"]
    out = []
    for i in range(n):
        path = rng.choice(paths) + (f"?q={rng.randint(0, 10**6)}&p={i % 9}" if rng.random() < 0.4 else "")
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{i % 60:02d}"
        stamp = f"{rng.randint(10, 28)}/Mar/2026:{clock} +0000"
        status = rng.choice([200, 200, 200, 301, 304, 404, 500])
        out.append(
            f'{_ip(rng)} - - [{stamp}] "GET {path} HTTP/1.1" {status} {rng.randint(0, 90000)} '
            f'"https://shop.example/" "{rng.choice(agents)}"'
        )
    return out


BASELINES = {
    "syslog": re.compile(
        r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\S+) ([^\s:\[]+)(?:\[(\d+)\])?: "
        r"(?:(Failed|Accepted) (\S+) for (?:invalid user )?(\S+) from (\S+) port (\d+))?(.*)"
    ),
    "access_log": re.compile(
        r'(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"'
    ),
}


def _records(parser: str, lines: list[str]) -> list[RawRecord]:
    return [
        RawRecord(tenant="bench", source="file:bench", parser=parser, received_at=RECEIVED, data=line)
        for line in lines
    ]


def _rate(work: Callable[[], int]) -> float:
    start = time.process_time()
    count = work()
    return count / (time.process_time() - start)


def measure(parser: str, lines: list[str], runs: int) -> dict[str, float]:
    parse = default_registry().get(parser).parse
    records = _records(parser, lines)
    pattern = BASELINES[parser]

    def baseline() -> int:
        n = 0
        for line in lines:
            m = pattern.match(line)
            if m is not None:
                m.groups()
                n += 1
        return n

    def parse_only() -> int:
        for raw in records:
            parse(raw)
        return len(records)

    def parse_flat() -> int:
        for raw in records:
            parse(raw).flat()
        return len(records)

    results: dict[str, list[float]] = {"baseline": [], "parse": [], "parse+flat": []}
    for _ in range(runs):
        results["baseline"].append(_rate(baseline))
        results["parse"].append(_rate(parse_only))
        results["parse+flat"].append(_rate(parse_flat))
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--runs", type=int, default=5)
    options.add_argument("--lines", type=int, default=20000)
    options.add_argument("--code", help="measure the parsers of this checkout (default: this one)")
    options.add_argument("--json", action="store_true", help="print one JSON object of the rates")
    args = options.parse_args()
    rng = random.Random(12)
    rates = {
        parser: measure(parser, make(args.lines, rng), args.runs)
        for parser, make in (("syslog", syslog_lines), ("access_log", access_lines))
    }
    if args.json:
        print(json.dumps({"code": _code_dir(), "rates": rates}))
        return
    print(f"# parsers, {args.lines} lines, median of {args.runs} runs, CPU time of one process")
    machine = platform.processor() or platform.machine()
    print(
        f"# {machine}, Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, "
        f"load average {os.getloadavg()[0]:.1f}, code {_code_dir()}"
    )
    print(
        "| input | baseline regex lines/s | parse lines/s | parse CPU µs/line | parse+flat lines/s "
        "| parse / baseline |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for parser, rate in rates.items():
        print(
            f"| {parser} | {rate['baseline']:,.0f} | {rate['parse']:,.0f} | {1e6 / rate['parse']:.1f} "
            f"| {rate['parse+flat']:,.0f} | {rate['parse'] / rate['baseline']:.2f} |"
        )


if __name__ == "__main__":
    main()
