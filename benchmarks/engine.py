"""Sigma engine throughput on one core, with its baselines measured in the same run.

All Windows rules of the corpus are loaded; ../shared/corpus/bench/otrf-200k.jsonl.gz is streamed
in chunks of 20,000 lines (decompression is not timed, so that it does not flatter the ratio) and
each line is decoded (orjson) and matched. Prints:

- rules loaded / failed (with reasons), load time;
- engine events/s (median of --repeat runs), its CPU time per event, detections, peak RSS;
- (a) the cost of only decoding the same lines with stdlib json, and the engine / json ratio;
- (b) a naive evaluator (every rule tried on every event, no index, no prefilter) on a sample
  of every 40th event;
- (c) whether engine and naive evaluator give identical detections on that sample;
- (d) the engine with the anomaly heuristics of rules/heuristics.yaml beside it (each event also fed
  to a HeuristicEngine at its own time, parsed from the record), unless --no-heuristics;
- (e) the steady state of a running detector: a fresh engine, on rules loaded anew and empty value
  memos, fed the first half of the events (untimed), then timed on the second half, which it has
  not seen. The first repeat above is a
  fresh engine's first pass (what one `socpipe scan` pays: buckets and matchers built, memos
  filled); the later repeats replay the same events, so every value is in a memo and they flatter.

    .venv/bin/python benchmarks/engine.py [--events N] [--repeat 3] [--sample 5000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.heuristics import HeuristicEngine, event_time
from detectors.sigma import Engine, load_rules
from detectors.sigma.literals import literal_search
from detectors.sigma.loader import RuleSet, rule_files
from detectors.sigma.naive import naive_match
from socpipe.heap import settle
from socpipe.paths import corpus_dir

T = TypeVar("T")


def windows_rule_files(sigma: Path) -> list[Path]:
    """Rule files whose logsource product is windows (the issue's 2,858 Windows rules)."""
    out = []
    for f in rule_files([sigma / d for d in ("rules", "rules-threat-hunting", "rules-emerging-threats")]):
        text = f.read_text(encoding="utf-8")
        if "product: windows" in text:
            out.append(f)
    return out


def chunks(path: Path, limit: int, size: int = 20_000) -> Iterator[list[bytes]]:
    """The file's non-empty lines in lists of `size` (first `limit` lines only when limit > 0)."""
    seen = 0
    with gzip.open(path) as fh:
        batch: list[bytes] = []
        for line in fh:
            if not line.strip():
                continue
            batch.append(line)
            seen += 1
            if len(batch) == size or seen == limit:
                yield batch
                batch = []
                if seen == limit:
                    return
        if batch:
            yield batch


def timed(fn: Callable[..., T], *args: Any) -> tuple[float, T]:
    t = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t, result


def cpu_timed(fn: Callable[..., T], *args: Any) -> tuple[float, float, T]:
    """(wall seconds, CPU seconds of this process, result): CPU time is what a loaded machine
    does not inflate by much (other processes' turns are not counted)."""
    w, c = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - w, time.process_time() - c, result


def new_engine(ruleset: RuleSet) -> Engine:
    """An engine as the detector worker and `socpipe scan` run it: built, then the heap settled
    (socpipe/heap.py: the loaded rules frozen, the collector's thresholds raised)."""
    engine = Engine(ruleset)
    settle()
    return engine


def run_engine(engine: Engine, lines: Sequence[bytes]) -> int:
    loads, match = orjson.loads, engine.match
    n = 0
    for line in lines:
        n += len(match(loads(line)))
    return n


def run_with_heuristics(engine: Engine, heuristics: HeuristicEngine, lines: list[bytes]) -> int:
    loads, match, feed = orjson.loads, engine.match, heuristics.feed
    n = 0
    for line in lines:
        event = loads(line)
        n += len(match(event))
        ts = event_time(event)
        if ts is not None:
            n += len(feed(event, "bench", ts))
    return n


def run_json(lines: list[bytes]) -> None:
    loads = json.loads
    for line in lines:
        loads(line)


def fresh_ruleset(files: list[Path]) -> RuleSet:
    """The rules loaded anew (from the rule cache) with the literal searches forgotten: an engine on
    them starts with empty value memos. A second Engine on the same RuleSet does not: it shares the
    compiled rules (their leaf and whole-rule memos) and, through `literal_search`, the prefilter's
    value memos of every engine built before it in the process."""
    literal_search.cache_clear()
    return load_rules(files)


def steady_state(files: list[Path], bench: Path, n: int) -> tuple[float, int]:
    """CPU seconds and event count of a fresh engine's pass over the second half of the first `n`
    events, after an untimed pass over the first half (fresh rules and memos: see fresh_ruleset)."""
    engine = new_engine(fresh_ruleset(files))
    cpu = 0.0
    seen = timed_n = 0
    for lines in chunks(bench, n, size=max(1, min(20_000, n // 10))):
        if seen >= n // 2:
            cpu += cpu_timed(run_engine, engine, lines)[1]
            timed_n += len(lines)
        else:
            run_engine(engine, lines)
        seen += len(lines)
    return cpu, timed_n


def compare(ruleset: RuleSet, engine: Engine, lines: list[bytes]) -> tuple[float, int, list[str]]:
    """Naive evaluator time on the sample, its detection count, and any difference to the engine."""
    fresh = Engine(ruleset)  # cold buckets and memos, so the comparison exercises building them too
    t = time.perf_counter()
    naive = [sorted(naive_match(ruleset, orjson.loads(line))) for line in lines]
    elapsed = time.perf_counter() - t
    diffs = []
    for i, line in enumerate(lines):
        fast = sorted(m.rule.id for m in fresh.match(orjson.loads(line)))
        if fast != naive[i]:
            diffs.append(f"line {i}: engine {fast} naive {naive[i]}")
    return elapsed, sum(map(len, naive)), diffs


def main() -> int:  # noqa: PLR0915 (one linear report, figure after figure)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=0, help="use only the first N events (0: all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=5000, help="events for the naive comparison")
    ap.add_argument("--no-heuristics", action="store_true", help="skip (d), the engine with the heuristics")
    args = ap.parse_args()
    corpus = corpus_dir()
    if corpus is None:
        print("corpus not found: set SOCPIPE_CORPUS or put it at ../shared/corpus", file=sys.stderr)
        return 2
    files = windows_rule_files(corpus / "sigma")
    load_time, ruleset = timed(load_rules, files)
    report = ruleset.report
    total = report.loaded + len(report.failed)
    print(
        f"rules: {report.loaded}/{total} Windows rules loaded ({len(report.failed)} failed)"
        f" in {load_time:.1f}s"
    )
    for reason, n in report.reasons().most_common():
        print(f"  failed {n:4d}  {reason}")
    engine = new_engine(ruleset)

    bench = corpus / "bench" / "otrf-200k.jsonl.gz"
    engine_times: list[float] = []
    json_times: list[float] = []
    sample: list[bytes] = []
    detections = n = 0
    engine_cpu: list[float] = []
    both_times: list[float] = []
    both_found = 0
    for _ in range(args.repeat):
        eng_t = json_t = both_t = eng_c = 0.0
        detections = n = both_found = 0
        heuristics = None if args.no_heuristics else HeuristicEngine()
        for lines in chunks(bench, args.events):  # interleaved, so both see the same machine load
            t, c, found = cpu_timed(run_engine, engine, lines)
            eng_t += t
            eng_c += c
            detections += found
            json_t += timed(run_json, lines)[0]
            if heuristics is not None:
                t, found = timed(run_with_heuristics, engine, heuristics, lines)
                both_t += t
                both_found += found
            n += len(lines)
            if len(engine_times) == 0:  # spread the sample over the whole file
                sample += lines[:: max(1, 200_000 // args.sample)]
        engine_times.append(eng_t)
        engine_cpu.append(eng_c)
        json_times.append(json_t)
        both_times.append(both_t)
    print(f"events: {n} from bench/otrf-200k.jsonl.gz (decode + match timed, decompression not)")
    eng_t, json_t = statistics.median(engine_times), statistics.median(json_times)
    print(
        f"engine: {n / eng_t:,.0f} events/s median of {args.repeat} "
        f"({', '.join(f'{n / t:,.0f}' for t in engine_times)}), {detections} detections"
    )
    cpu = statistics.median(engine_cpu)
    each = ", ".join(f"{c / n * 1e6:.2f}" for c in engine_cpu)
    print(
        f"engine CPU time: {cpu / n * 1e6:.2f} us/event median ({each}),"
        f" i.e. {n / cpu:,.0f} events per CPU-second (80,000 events/s is 12.5 us/event)"
    )
    print(
        f"(a) stdlib json.loads only: {n / json_t:,.0f} events/s;"
        f" engine costs {eng_t / json_t:.2f}x json decoding"
    )
    if not args.no_heuristics:
        both_t = statistics.median(both_times)
        print(
            f"(d) engine + heuristics: {n / both_t:,.0f} events/s ({both_t / eng_t - 1:+.0%} time), "
            f"{both_found - detections} heuristic findings"
        )
    errors = sum(engine.errors.values())
    if errors:
        print(f"    rule evaluation errors: {dict(engine.errors)}")

    sample = sample[: args.sample]
    naive_t, naive_n, diffs = compare(ruleset, engine, sample)
    fast_t = timed(run_engine, Engine(ruleset), sample)[0]
    print(
        f"(b) naive evaluator (every rule on every event) on {len(sample)} events: "
        f"{len(sample) / naive_t:,.0f} events/s vs engine {len(sample) / fast_t:,.0f} events/s cold "
        f"({naive_t / fast_t:.1f}x slower), {naive_n} detections"
    )
    verdict = "IDENTICAL" if not diffs else f"DIFFERENT on {len(diffs)} events"
    print(f"(c) engine vs naive detections on the sample: {verdict}")
    for d in diffs[:10]:
        print("    " + d)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before (e)'s second engine
    steady_cpu, steady_n = steady_state(files, bench, n)
    print(
        f"(e) steady state: {steady_cpu / steady_n * 1e6:.2f} us/event CPU, i.e. {steady_n / steady_cpu:,.0f}"
        f" events per CPU-second on {steady_n} events not seen before (first pass above:"
        f" {engine_cpu[0] / n * 1e6:.2f} us/event)"
    )
    print(f"peak RSS: {rss:,.0f} MB  (pid {os.getpid()}, python {sys.version.split()[0]})")
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
