"""The engine's steady state in instructions (callgrind), which a shared machine's load does not move.

One fresh process: the source tree's engine (through the tree's own benchmarks/engine.py), rules from
the cache, a fresh engine fed benchmark events 1-WARM untimed, then COUNT events from 100,001 on, every
STRIDE-th (default 1), matched between `oct()` and `bin()`, which callgrind is told to zero and dump at:

    PYTHONPATH=TREE valgrind --tool=callgrind --zero-before=builtin_oct --dump-before=builtin_bin \\
        --callgrind-out-file=cg.%p .venv/bin/python benchmarks/engine_callgrind.py TREE 100000 5000 20

The dump ending in `.1` holds the counted part: its `summary:` line divided by COUNT is instructions
per event (decoding included). Several minutes per run under valgrind; run the trees side by side.
Events 100,001-105,000 are all Sysmon (no PowerShell event among them, against 11% PowerShell 800 and
4103 events in 100,001-200,000): a STRIDE of 20 spreads the COUNT events over the whole second half.
"""

from __future__ import annotations

import gzip
import itertools
import sys
from pathlib import Path


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    tree, warm, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    stride = int(sys.argv[4]) if len(sys.argv) == 5 else 1
    sys.path.insert(0, str(tree / "benchmarks"))
    import engine as bench  # the tree's own benchmark module; it puts the tree first on sys.path

    from detectors.sigma import Engine, load_rules
    from socpipe.paths import corpus_dir

    corpus = corpus_dir()
    if corpus is None:
        print("corpus not found: set SOCPIPE_CORPUS or put it at ../shared/corpus", file=sys.stderr)
        return 2
    ruleset = load_rules(bench.windows_rule_files(corpus / "sigma"))
    with gzip.open(corpus / "bench" / "otrf-200k.jsonl.gz") as fh:
        lines = list(itertools.islice(fh, 100_000 + count * stride))
    engine = getattr(bench, "new_engine", Engine)(ruleset)  # as the tree's worker runs it, if it says
    bench.run_engine(engine, lines[:warm])
    timed = lines[100_000 : 100_000 + count * stride : stride]
    oct(1)  # callgrind zeroes its counters here (--zero-before=builtin_oct)
    found = bench.run_engine(engine, timed)
    bin(1)  # ... and dumps them here (--dump-before=builtin_bin)
    print(f"{found} detections on {len(timed)} events", file=sys.stderr)
    try:  # which copies ran: a compiled module rebuilt while this started is missed (pure Python)
        from detectors.sigma import native

        pickers = ("prefilter_module", "matchers_module")
        ran = [getattr(native, f)().__name__ for f in pickers if hasattr(native, f)]
        print("modules:", ", ".join(ran), file=sys.stderr)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
