"""Before/after parse throughput in one session: benchmarks/parsers.py on two checkouts, in rounds.

Each round runs the script on the other checkout (`--base`, e.g. main's) and then on this one, one
process each, so both see the same machine load; the medians over the rounds are printed beside the
bare regular-expression baseline of the same processes. Rates are lines per CPU-second
(time.process_time), the figure that other load on a shared machine disturbs least.

    git worktree add /tmp/socpipe-main main   # or: git archive main | tar -x -C /tmp/socpipe-main
    .venv/bin/python benchmarks/parsers_compare.py --base /tmp/socpipe-main [--rounds 5] [--lines 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "parsers.py"
HERE = SCRIPT.parent.parent


def _run(code: Path, lines: int, runs: int) -> dict[str, dict[str, float]]:
    command = [sys.executable, str(SCRIPT), "--json", "--code", str(code), "--lines", str(lines)]
    out = subprocess.run([*command, "--runs", str(runs)], check=True, capture_output=True, text=True)
    rates: dict[str, dict[str, float]] = json.loads(out.stdout)["rates"]
    return rates


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--base", type=Path, required=True, help="the checkout to compare against")
    options.add_argument("--rounds", type=int, default=5)
    options.add_argument("--lines", type=int, default=10000)
    options.add_argument("--runs", type=int, default=3, help="runs per process (its median is kept)")
    args = options.parse_args()
    seen: dict[str, dict[str, dict[str, list[float]]]] = {"base": {}, "this": {}}
    for _ in range(args.rounds):
        for name, code in (("base", args.base), ("this", HERE)):
            for parser, rates in _run(code, args.lines, args.runs).items():
                for kind, rate in rates.items():
                    seen[name].setdefault(parser, {}).setdefault(kind, []).append(rate)
    print(f"# {args.rounds} rounds x {args.runs} runs of {args.lines} lines; medians; base {args.base}")
    print("| input | code | regex lines/s | parse lines/s | parse CPU µs/line | parse+flat lines/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for parser in seen["this"]:
        for name in ("base", "this"):
            med = {kind: statistics.median(values) for kind, values in seen[name][parser].items()}
            print(
                f"| {parser} | {name} | {med['baseline']:,.0f} | {med['parse']:,.0f} "
                f"| {1e6 / med['parse']:.1f} | {med['parse+flat']:,.0f} |"
            )


if __name__ == "__main__":
    main()
