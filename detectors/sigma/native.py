"""Which copy of the engine's hot modules runs: the mypyc-compiled one when it is there and current, else
the pure-Python module (same code, same answers, slower).

Two modules are compiled at install by hatch_build.py (when a C compiler is there): prefilter.py (the
per-event routing and candidate search) as `detectors.sigma._prefilter_native`, and matchers.py (the
closures rules are made of) as `detectors.sigma._matchers_native`. Each copy records the SHA-256 of
the source it was compiled from. A copy built from another version of the source (edited since the
last `pip install -e .`) is never used: the engine then runs the source as it is, and says once how
to rebuild. SOCPIPE_PURE_PYTHON=1 picks the pure-Python modules whatever is installed (the tests run
both).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from socpipe.logging import get_logger

log = get_logger(__name__)
PURE_ENV = "SOCPIPE_PURE_PYTHON"
NO_NATIVE_ENV = "SOCPIPE_NO_NATIVE"  # set at install: hatch_build.py compiles nothing (same name there)
PREFILTER = "detectors.sigma.prefilter"
MATCHERS = "detectors.sigma.matchers"


def native_name(source: str) -> str:
    """`detectors.sigma.prefilter` -> `detectors.sigma._prefilter_native` (hatch_build.py's naming)."""
    package, _, name = source.rpartition(".")
    return f"{package}._{name}_native"


def source_digest(source: str = PREFILTER) -> str:
    """SHA-256 of the source module's file as it is now."""
    path = importlib.import_module(source).__file__
    assert path is not None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def compiled(source: str = PREFILTER) -> ModuleType | None:
    """The compiled copy of `source` when it is installed and built from the current source, else None.

    Asked for every rule's matcher built, so the digest is compared once per loaded copy (the answer
    is kept on the module object): a copy does not go stale while it is loaded."""
    name = native_name(source)
    native = sys.modules.get(name)
    if native is None:
        try:
            native = importlib.import_module(name)
        except ImportError:
            return None
    current = getattr(native, "_socpipe_current", None)
    if current is None:
        current = getattr(native, "SOURCE_SHA256", None) == source_digest(source)
        native._socpipe_current = current  # type: ignore[attr-defined]
    if not current:
        _warn_stale(source)
        return None
    return native


@cache
def _warn_stale(source: str) -> None:
    log.warning(
        f"the compiled {source} is older than its source: running it as Python",
        fix="pip install -e . (or bash scripts/bootstrap.sh) compiles it again",
    )


def _module(source: str) -> ModuleType:
    if not os.environ.get(PURE_ENV) and (native := compiled(source)) is not None:
        return native
    return sys.modules.get(source) or importlib.import_module(source)


def prefilter_module() -> ModuleType:
    """The prefilter module the engine uses (see the module doc)."""
    return _module(PREFILTER)


def matchers_module() -> ModuleType:
    """The module whose functions make the rules' matcher closures (see the module doc)."""
    return _module(MATCHERS)
