"""Which prefilter the engine runs: the mypyc-compiled copy of prefilter.py when it is there and current,
else the pure-Python module (same code, same answers, slower).

The compiled copy, `detectors.sigma._prefilter_native`, is built at install by hatch_build.py (when a C
compiler is there) and records the SHA-256 of the prefilter.py it was compiled from. A copy built from
another version of the source (prefilter.py edited since the last `pip install -e .`) is never used:
the engine then runs the source as it is, and says once how to rebuild. SOCPIPE_PURE_PYTHON=1 picks the
pure-Python module whatever is installed (the tests run both).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from types import ModuleType

from detectors.sigma import prefilter
from socpipe.logging import get_logger

log = get_logger(__name__)
PURE_ENV = "SOCPIPE_PURE_PYTHON"
NO_NATIVE_ENV = "SOCPIPE_NO_NATIVE"  # set at install: hatch_build.py compiles nothing (same name there)


def source_digest() -> str:
    """SHA-256 of prefilter.py as it is now."""
    return hashlib.sha256(Path(prefilter.__file__).read_bytes()).hexdigest()


def compiled() -> ModuleType | None:
    """The compiled prefilter when it is installed and built from the current source, else None."""
    try:
        native = importlib.import_module("detectors.sigma._prefilter_native")
    except ImportError:
        return None
    if getattr(native, "SOURCE_SHA256", None) != source_digest():
        log.warning(
            "the compiled Sigma prefilter is older than prefilter.py: running it as Python",
            fix="pip install -e . (or bash scripts/bootstrap.sh) compiles it again",
        )
        return None
    return native


def prefilter_module() -> ModuleType:
    """The prefilter module the engine uses (see the module doc)."""
    if os.environ.get(PURE_ENV):
        return prefilter
    return compiled() or prefilter
