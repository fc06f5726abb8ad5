"""Field agreement with Filebeat's own parsers: for each sample under tests/data/linuxweb that ships
with the output Filebeat's module expects for the same lines (`<name>.expected.jsonl`, the fields of
the upstream `*-expected.json` in elastic/beats, Apache-2.0, one object per line), the share of lines
where socpipe's parser gives the same value, per field. The origin of each file, and how it was
reduced, is in tests/data/linuxweb/README.md.

A field counts on the lines where Elastic sets it; lists compare as sets (ECS keyword arrays have no
order), and a one-element list equals its single value (Elastic's auditd writes `event.action` as a
list). socpipe's extra fields are not counted against it.

    .venv/bin/python benchmarks/field_agreement.py [--markdown]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.parsers import ParseError
from ingest.read import read_log

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "linuxweb"
SAMPLES = {  # sample -> parser
    "beats-system-auth": "syslog",
    "beats-nginx-access": "access_log",
    "beats-auditd-useradd": "auditd",
}
RECEIVED = datetime(2022, 6, 1, tzinfo=UTC)  # syslog has no year; Elastic's fixtures were run in 2022


@dataclass
class Tally:
    agree: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.agree / self.total if self.total else 0.0


def _same(mine: Any, theirs: Any) -> bool:
    if isinstance(theirs, list) and len(theirs) == 1 and not isinstance(mine, list):
        theirs = theirs[0]
    if isinstance(theirs, list) and isinstance(mine, list):
        return {str(v) for v in theirs} == {str(v) for v in mine}
    if isinstance(mine, str) and isinstance(theirs, str) and theirs.endswith("Z") and "T" in theirs:
        return datetime.fromisoformat(mine) == datetime.fromisoformat(theirs)
    return str(mine) == str(theirs)


def agreement(sample: str, parser: str) -> dict[str, Tally]:
    """Per field: on how many of the lines Elastic sets it socpipe agrees."""
    expected = [orjson.loads(line) for line in (DATA / f"{sample}.expected.jsonl").read_bytes().splitlines()]
    events = [r for _, r in read_log(DATA / f"{sample}.log", parser, received_at=RECEIVED)]
    if len(events) != len(expected):
        raise SystemExit(f"{sample}: {len(events)} events for {len(expected)} expected lines")
    tallies: dict[str, Tally] = defaultdict(Tally)
    for number, (event, wanted) in enumerate(zip(events, expected, strict=True), 1):
        flat = {} if isinstance(event, ParseError) else event.flat()
        for name, value in wanted.items():
            if name == "@timestamp" and parser == "syslog":
                continue  # the year of a syslog line is the reader's guess on both sides
            tally = tallies[name]
            tally.total += 1
            if name in flat and _same(flat[name], value):
                tally.agree += 1
            else:
                tally.misses.append(f"line {number}: socpipe {flat.get(name)!r}, Elastic {value!r}")
    return dict(sorted(tallies.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", action="store_true", help="List each disagreeing line.")
    args = parser.parse_args()
    print("| sample (parser) | field | agree | lines | % |")
    print("| --- | --- | ---: | ---: | ---: |")
    for sample, name in SAMPLES.items():
        for fname, tally in agreement(sample, name).items():
            print(f"| {sample} ({name}) | {fname} | {tally.agree} | {tally.total} | {tally.percent:.0f} |")
            if args.misses:
                for miss in tally.misses:
                    print(f"|  |  ↳ {miss} | | | |")


if __name__ == "__main__":
    main()
