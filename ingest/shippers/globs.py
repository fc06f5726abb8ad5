"""Which files a glob tail reads: patterns expanded to files, each known by its identity (device, inode).

A file is its identity, not its name. A rename that the patterns still match (`app.log` ->
`app.log.1` under `app.log*`) is the same file under a new name, never a new file: it is neither read
twice nor restarted. A file that no longer matches (deleted, or renamed out of the patterns) is gone
from the scan; the tail finishes it from its open handle. Compressed files (`.gz`) never match: a
rotated `app.log.2.gz` is a copy with a new identity, and reading it would repeat its lines.
"""

from __future__ import annotations

import glob
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

Identity = tuple[int, int]  # (st_dev, st_ino)

_GLOB_CHARS = re.compile(r"[*?\[]")


def is_pattern(text: str) -> bool:
    """True when `text` has glob wildcards (`*`, `?`, `[...]`): the shell was told to leave it."""
    return _GLOB_CHARS.search(text) is not None


def absolute_pattern(pattern: str) -> str:
    """`~` expanded, made absolute and normalised, wildcards kept."""
    return os.path.abspath(os.path.expanduser(pattern))


def identity_of(path: Path) -> Identity:
    st = path.stat()
    return st.st_dev, st.st_ino


def expand(patterns: Iterable[str], *, literal_gz: bool = False) -> dict[Identity, Path]:
    """Regular files the patterns name now, one path per identity (the first in sorted order, so a hard
    link or a symbolic link to a matched file is not a second file); a literal path names itself.
    `.gz` files only when `literal_gz` and named by a pattern without wildcards (a one-shot read)."""
    found: dict[Identity, Path] = {}
    for pattern in patterns:
        for name in sorted(glob.glob(pattern)):
            path = Path(name)
            if path.suffix == ".gz" and not (literal_gz and glob.escape(name) == pattern):
                continue
            try:
                st = path.stat()
            except OSError:  # gone between the listing and the stat, or a dangling link
                continue
            if stat.S_ISREG(st.st_mode):
                found.setdefault((st.st_dev, st.st_ino), path)
    return found


@dataclass(frozen=True)
class Scan:
    """What changed between the files a tail reads and what the patterns match now."""

    new: dict[Identity, Path]  # matched, not yet read: open (at its checkpoint if it has one)
    gone: list[Identity]  # read, matched no more: finish from the open handle, then let go
    moved: dict[Identity, Path]  # read, matched under another name: keep reading, same handle


def compare(tracked: Mapping[Identity, Path], found: Mapping[Identity, Path]) -> Scan:
    return Scan(
        new={i: p for i, p in found.items() if i not in tracked},
        gone=[i for i in tracked if i not in found],
        moved={i: p for i, p in found.items() if i in tracked and tracked[i] != p},
    )


def find_renamed(path: Path, identity: Identity) -> Path | None:
    """A sibling named like `path` plus a suffix (`app.log.1`, `app.log-2026...`) that is `identity`:
    where a file went when it was rotated while nobody was reading it."""
    for sibling in sorted(path.parent.glob(glob.escape(path.name) + "*")):
        try:
            if sibling.suffix != ".gz" and identity_of(sibling) == identity:
                return sibling
        except OSError:
            continue
    return None
