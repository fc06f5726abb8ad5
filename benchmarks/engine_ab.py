"""A/B of the Sigma engine's per-event CPU cost between source trees, rounds alternating in one run.

Each round runs one fresh process per tree (`--child TREE`), which imports that tree's engine (through
the tree's own benchmarks/engine.py), loads all Windows rules of the corpus (its rule cache is keyed by
the tree's code: a first run rebuilds it, which load time absorbs and the figures below do not), holds
the 200,000 benchmark lines in memory and measures, in CPU time (`time.process_time`), decoding
(orjson) included:

- first pass: a fresh engine over all events (buckets and matchers built, memos filled: what one
  `socpipe scan` pays);
- warm replay: the same engine over the same events again (every value memoised: it flatters);
- steady state: another fresh engine, on rules loaded anew with empty value memos (engine.py's
  `fresh_ruleset`), fed events 1-100,000 untimed, then timed on 100,001-200,000 (a running detector
  on events it has not seen; engine.py's (e)).

Rounds alternate A, B, A, B, ... so both trees see the same machine load; the load average is printed
beside each process. The medians are what to compare; one round alone says little on a shared machine.

    .venv/bin/python benchmarks/engine_ab.py --rounds 3 /work/wt/base-tree /work/wt/this-tree
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PHASES = ("first", "warm", "steady")


def child(tree: Path) -> dict[str, Any]:
    """One tree's figures, measured in this process (see the module doc)."""
    sys.path.insert(0, str(tree / "benchmarks"))
    import engine as bench  # the tree's own benchmark module; it puts the tree first on sys.path

    import detectors
    from detectors.sigma import Engine, load_rules
    from detectors.sigma.literals import literal_search
    from socpipe.paths import corpus_dir

    if not Path(detectors.__file__).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"imported {detectors.__file__}, not from {tree}")
    corpus = corpus_dir()
    if corpus is None:
        raise SystemExit("corpus not found: set SOCPIPE_CORPUS or put it at ../shared/corpus")
    files = bench.windows_rule_files(corpus / "sigma")
    ruleset = load_rules(files)
    with gzip.open(corpus / "bench" / "otrf-200k.jsonl.gz") as fh:
        # A tuple of bytes, which the collector stops tracking: a list of 200,000 lines would be walked
        # by every full collection, a cost no detector has (it holds one batch).
        lines = tuple(line for line in fh if line.strip())
    n, half = len(lines), len(lines) // 2
    out: dict[str, Any] = {"tree": str(tree), "events": n, "load": [os.getloadavg()[0]]}
    # The engine as the tree's worker runs it (engine.py's new_engine: built, heap settled); older
    # trees have no such step.
    new_engine = getattr(bench, "new_engine", Engine)
    engine = new_engine(ruleset)
    for phase in ("first", "warm"):
        cpu = time.process_time()
        found = bench.run_engine(engine, lines)
        out[phase] = (time.process_time() - cpu) / n * 1e6
        out[f"{phase}_detections"] = found
    del engine, ruleset
    literal_search.cache_clear()  # as engine.py's fresh_ruleset (which older trees do not have)
    steady = new_engine(load_rules(files))
    bench.run_engine(steady, lines[:half])
    cpu = time.process_time()
    out["steady_detections"] = bench.run_engine(steady, lines[half:])
    out["steady"] = (time.process_time() - cpu) / (n - half) * 1e6
    out["load"].append(os.getloadavg()[0])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trees", nargs="*", type=Path, help="source trees to compare (A first)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    if not args.trees:
        ap.error("name at least one source tree")
    results: dict[Path, list[dict[str, Any]]] = {t: [] for t in args.trees}
    for r in range(args.rounds):
        for tree in args.trees:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(tree)],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "PYTHONPATH": str(tree)},
            )
            if proc.returncode != 0:
                print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed")
                return 1
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            results[tree].append(res)
            print(
                f"round {r + 1} {tree}: "
                + ", ".join(f"{p} {res[p]:.2f}" for p in PHASES)
                + f" us/event; detections {res['first_detections']}/{res['warm_detections']}"
                + f"/{res['steady_detections']}; load {res['load'][0]:.2f} -> {res['load'][1]:.2f}",
                flush=True,
            )
    print("\nmedians, CPU us/event (decoding included):")
    base = None
    for tree, runs in results.items():
        meds = {p: statistics.median(x[p] for x in runs) for p in PHASES}
        rel = "" if base is None else "  (" + ", ".join(f"{meds[p] / base[p] - 1:+.1%}" for p in PHASES) + ")"
        print(f"  {tree}: " + ", ".join(f"{p} {meds[p]:.2f}" for p in PHASES) + rel)
        base = base or meds
    return 0


if __name__ == "__main__":
    sys.exit(main())
