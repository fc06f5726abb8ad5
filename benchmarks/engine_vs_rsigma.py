"""socpipe's Sigma engine against RSigma (the Rust `rsigma` crate), whole process, same rules, same events.

Both run as separate processes over the 2,858 Windows rules of ../shared/corpus/sigma (the rule files
whose logsource product is windows) and the 200,000 flat events of bench/otrf-200k.jsonl.gz
(decompressed once to a plain file, which both read):

    socpipe scan --rules RULES --format jsonl [--no-heuristics] EVENTS
    rsigma engine eval -r RULES -e @EVENTS

Runs alternate (socpipe, rsigma, socpipe, ...) so that both see the same machine load; the figures
are medians. Printed: wall and CPU seconds (user + system, from wait4), peak RSS, start-up alone
(the same commands over one event; socpipe's with a warm rule cache, and once cold), the ratios,
and both detection counts. This script installs nothing: without `rsigma` on PATH it measures socpipe
alone and says how to get RSigma.

    .venv/bin/python benchmarks/engine_vs_rsigma.py [--runs 3] [--startup-runs 5] [--events N]
        [--heuristics] [--rsigma PATH]

socpipe's rule cache is kept in a folder of this script's own (under the system temp dir), so the
first run fills it and the timed runs are warm. PYTHONDONTWRITEBYTECODE is removed from socpipe's
environment: an installed socpipe has its bytecode cached, and a start-up that recompiles every
module of the project each time measures the environment, not the engine.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.engine import windows_rule_files
from socpipe.paths import corpus_dir

INSTALL = "cargo install rsigma --version 0.23.0 --locked --root DIR  (then put DIR/bin on PATH)"
WHY = (
    "The counts differ because RSigma evaluates every rule on every event (no logsource routing): a rule"
    " written for one log source also fires on events of other channels whose fields happen to match,"
    " while socpipe evaluates a rule only on the events of its logsource (Channel / EventID routing)."
)


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    detections: int


def run(cmd: list[str], env: dict[str, str], count: str) -> Run:
    """One process, timed by wait4; its detections counted from stdout lines or socpipe's summary."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {stderr.strip()[-2000:]}")
    if count == "summary":
        found = re.search(r"(\d+) events, (\d+) detections", stderr)
        detections = int(found.group(2)) if found else -1
    else:  # rsigma: its own summary on stderr, else its ndjson lines
        found = re.search(r"Processed (\d+) events, (\d+) matches", stderr)
        lines = sum(1 for line in stdout.splitlines() if line.strip().startswith(b"{"))
        detections = int(found.group(2)) if found else lines
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, detections)


def prepare(work: Path, limit: int) -> tuple[Path, Path, Path, int]:
    """The rules folder (links to the Windows rule files), the events file and a one-event file."""
    corpus = corpus_dir()
    if corpus is None:
        raise SystemExit("corpus not found: set SOCPIPE_CORPUS or put it at ../shared/corpus")
    sigma = corpus / "sigma"
    commit = (sigma / "COMMIT").read_text().strip()[:12] if (sigma / "COMMIT").is_file() else "unknown"
    rules = work / f"windows-rules-{commit}"
    files = windows_rule_files(sigma)
    if not rules.is_dir() or sum(1 for _ in rules.rglob("*.yml")) != len(files):
        shutil.rmtree(rules, ignore_errors=True)
        for f in files:
            link = rules / f.relative_to(sigma)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f)
    events = work / f"otrf-{limit or 'all'}.jsonl"
    if not events.is_file():
        tmp = events.with_suffix(".tmp")
        with gzip.open(corpus / "bench" / "otrf-200k.jsonl.gz", "rb") as src, tmp.open("wb") as dst:
            for n, line in enumerate(src):
                if limit and n >= limit:
                    break
                dst.write(line)
        tmp.replace(events)
    one = work / "one-event.jsonl"
    with events.open("rb") as fh:
        one.write_bytes(fh.readline())
    with events.open("rb") as fh:
        n_events = sum(1 for line in fh if line.strip())
    return rules, events, one, n_events


def med(runs: list[Run], attr: str) -> float:
    return float(statistics.median(getattr(r, attr) for r in runs))


def show(name: str, runs: list[Run]) -> str:
    walls = ", ".join(f"{r.wall:.2f}" for r in runs)
    return (
        f"  {name:8s} wall {med(runs, 'wall'):6.2f}s  cpu {med(runs, 'cpu'):6.2f}s  "
        f"peak RSS {med(runs, 'rss_mb'):5.0f} MB  detections {runs[0].detections}   (wall of each: {walls})"
    )


def report(  # noqa: PLR0917 - the figures of one run
    args: argparse.Namespace,
    n_events: int,
    cold: Run,
    start_s: list[Run],
    start_r: list[Run],
    full_s: list[Run],
    full_r: list[Run],
) -> None:
    print(f"\nstart-up alone (one event), median of {args.startup_runs}:")
    print(show("socpipe", start_s) + "   warm rule cache")
    print(f"  socpipe  wall {cold.wall:6.2f}s  cpu {cold.cpu:6.2f}s  cold (empty rule cache), once")
    if start_r:
        print(show("rsigma", start_r))
    print(f"\nwhole process over {n_events} events, median of {args.runs}:")
    print(show("socpipe", full_s))
    if full_r:
        print(show("rsigma", full_r))
        print(
            f"\nratios socpipe / rsigma: whole process wall {med(full_s, 'wall') / med(full_r, 'wall'):.2f}, "
            f"cpu {med(full_s, 'cpu') / med(full_r, 'cpu'):.2f}; "
            f"start-up wall {med(start_s, 'wall') / med(start_r, 'wall'):.2f}, "
            f"cpu {med(start_s, 'cpu') / med(start_r, 'cpu'):.2f}; "
            f"peak RSS {med(full_s, 'rss_mb') / med(full_r, 'rss_mb'):.2f}"
        )
        per_s = (med(full_s, "cpu") - med(start_s, "cpu")) / n_events * 1e6
        per_r = (med(full_r, "cpu") - med(start_r, "cpu")) / n_events * 1e6
        print(f"per event (cpu, start-up taken out): socpipe {per_s:.1f} us, rsigma {per_r:.1f} us")
        print(f"detections: socpipe {full_s[0].detections}, rsigma {full_r[0].detections}. {WHY}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="whole-file runs of each engine (alternating)")
    ap.add_argument("--startup-runs", type=int, default=5, help="one-event runs of each engine")
    ap.add_argument("--events", type=int, default=0, help="first N events only (0: all 200,000)")
    ap.add_argument("--heuristics", action="store_true", help="socpipe also runs its anomaly heuristics")
    ap.add_argument("--rsigma", default=shutil.which("rsigma"), help="rsigma binary (default: from PATH)")
    args = ap.parse_args()

    work = Path(tempfile.gettempdir()) / "socpipe-bench-rsigma"
    work.mkdir(exist_ok=True)
    rules, events, one, n_events = prepare(work, args.events)
    socpipe_bin = Path(sys.executable).with_name("socpipe")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SOCPIPE_RULE_CACHE"] = str(work / "rule-cache")
    scan = [str(socpipe_bin), "scan", "--rules", str(rules), "--format", "jsonl", "--no-progress"]
    scan += [] if args.heuristics else ["--no-heuristics"]

    def socpipe(path: Path, cache_env: dict[str, str] = env) -> Run:
        return run([*scan, str(path)], cache_env, "summary")

    def rsigma(path: Path) -> Run:
        return run(
            [args.rsigma, "engine", "eval", "-r", str(rules), "-e", f"@{path}"], dict(os.environ), "lines"
        )

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    print(f"rules: {sum(1 for _ in rules.rglob('*.yml'))} Windows rule files ({rules})")
    print(f"events: {n_events} ({events})")
    print(f"socpipe: {' '.join(scan)} EVENTS" + ("" if args.heuristics else "   (Sigma only, like RSigma)"))
    if args.rsigma:
        print(f"rsigma:  {args.rsigma} engine eval -r RULES -e @EVENTS")
    else:
        print(f"rsigma:  not on PATH; socpipe measured alone. To compare, build it once: {INSTALL}")

    cold_env = {**env, "SOCPIPE_RULE_CACHE": str(work / f"cold-{os.getpid()}")}
    cold = socpipe(one, cold_env)  # an empty cache: parses every rule, fills that cache
    shutil.rmtree(work / f"cold-{os.getpid()}", ignore_errors=True)
    socpipe(one)  # fills the benchmark's own cache (and the bytecode): the timed runs are warm
    if args.rsigma:
        rsigma(one)  # page cache

    start_s: list[Run] = []
    start_r: list[Run] = []
    for _ in range(args.startup_runs):
        start_s.append(socpipe(one))
        if args.rsigma:
            start_r.append(rsigma(one))
    full_s: list[Run] = []
    full_r: list[Run] = []
    for _ in range(args.runs):
        full_s.append(socpipe(events))
        if args.rsigma:
            full_r.append(rsigma(events))

    report(args, n_events, cold, start_s, start_r, full_s, full_r)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
