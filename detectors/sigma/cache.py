"""The on-disk cache of lowered rule sets: a warm start reads one file instead of parsing every rule.

What is cached is the loader's pySigma work (lower.py: metadata, routes, conditions as plain data),
never closures. The key is a hash of everything that can change that work's result:

- every rule file's path (it is reported with each detection) and the sha256 of its bytes;
- the field-mapping pipeline, all of it (name, version and every mapping: its canonical JSON);
- the engine's own code (the source of every detectors/sigma module), the cache format, the
  pySigma version and the Python version (marshal's format is Python's own).

Placeholder values (global and per tenant) and disabled rules are applied after the cache (matchers
are built from the lowered form with the values of the day), so they never make an entry stale.
Tenant filter files are lowered and cached the same way, under a key of their own (their paths and
contents, the pipeline, the engine): editing one rebuilds only that entry. The entry is
written with `marshal` (plain data only: reading it runs no code), atomically (temporary file,
rename), and checked on reading: a file that does not parse, or whose header names another key or
format, is ignored with a log line and rebuilt. At most MAX_ENTRIES files are kept, newest first.

When the rule-set entry misses (a file was added, removed or edited), the loader takes the files
that did not change from a per-file table (one entry in the `files` folder, keyed like the others
but without the file hashes; inside, each file's lowered records by path and sha256): only new and
edited files are parsed.

Location: $SOCPIPE_RULE_CACHE, else $XDG_CACHE_HOME/socpipe/rules, else ~/.cache/socpipe/rules;
SOCPIPE_RULE_CACHE=off turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectors.sigma.ir import IR_VERSION
from detectors.sigma.pipeline import Pipeline
from socpipe.logging import get_logger
from socpipe.paths import cache_home

log = get_logger(__name__)
CACHE_FORMAT = 2  # layout of the payload below
MAGIC = b"socpipe-rules\n"
MAX_ENTRIES = 32
_ENGINE_DIR = Path(__file__).resolve().parent
_code_hash: str | None = None


def cache_dir() -> Path | None:
    """Where entries live; None when the cache is off."""
    env = os.environ.get("SOCPIPE_RULE_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "false", "no") else Path(env)
    return cache_home() / "rules"


def engine_code_hash() -> str:
    """sha256 over the engine's own modules: editing the compiler invalidates every entry."""
    global _code_hash  # noqa: PLW0603 - computed once per process
    if _code_hash is None:
        h = hashlib.sha256()
        for f in sorted(_ENGINE_DIR.glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
        _code_hash = h.hexdigest()
    return _code_hash


def _pysigma_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pysigma")
    except PackageNotFoundError:
        return "unknown"


def cache_key(files: Sequence[Path], pipeline: Pipeline, *, extra: str = "") -> str:
    """The hex key of a rule set: changes whenever any input of the lowering changes."""
    h = hashlib.sha256()
    for part in (
        f"format={CACHE_FORMAT} ir={IR_VERSION} python={sys.version} pysigma={_pysigma_version()}",
        engine_code_hash(),
        pipeline.model_dump_json(),
        extra,
    ):
        h.update(part.encode())
        h.update(b"\x00")
    for f in files:
        h.update(str(f).encode())
        h.update(b"\x00")
        h.update(hashlib.sha256(_read(f)).digest())
    return h.hexdigest()


def _read(path: Path) -> bytes:
    """The file's bytes with three system calls (open, read until empty, close): Path.read_bytes adds
    a buffered reader, fstat and ioctl per file, about 0.03 s over 2,858 rule files on every start."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class RuleCache:
    """Read and write lowered rule sets by key (see the module docstring)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @classmethod
    def default(cls) -> RuleCache:
        return cls(cache_dir())

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.rules"

    def get(self, key: str) -> dict[str, Any] | None:  # noqa: PLR0911 - one return per way to fail
        """The payload stored under `key`; None (rebuild) when absent, unreadable or foreign."""
        path = self._path(key)
        if path is None:
            return None
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("rule cache unreadable, rebuilding", path=str(path), error=str(exc))
            return None
        header = MAGIC + f"{CACHE_FORMAT}:{key}\n".encode()
        if not blob.startswith(header):
            log.warning("rule cache entry of another version or key, rebuilding", path=str(path))
            return None
        try:
            payload = marshal.loads(blob[len(header) :])
        except (ValueError, EOFError, TypeError) as exc:
            log.warning("rule cache entry corrupt, rebuilding", path=str(path), error=str(exc))
            return None
        if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT:
            log.warning("rule cache entry malformed, rebuilding", path=str(path))
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used entries survive pruning
        return payload

    def put(self, key: str, payload: dict[str, Any]) -> None:
        """Store atomically; a cache that cannot be written is logged, never fatal."""
        path = self._path(key)
        if path is None:
            return
        payload = {**payload, "format": CACHE_FORMAT}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(MAGIC + f"{CACHE_FORMAT}:{key}\n".encode() + marshal.dumps(payload))
            os.replace(tmp, path)
        except (OSError, ValueError) as exc:
            log.warning("rule cache not written", path=str(path), error=str(exc))
            tmp.unlink(missing_ok=True)
            return
        self._prune()

    def _prune(self) -> None:
        if self.directory is None:
            return
        try:
            entries = sorted(self.directory.glob("*.rules"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in entries[MAX_ENTRIES:]:
                old.unlink(missing_ok=True)
        except OSError:
            pass
