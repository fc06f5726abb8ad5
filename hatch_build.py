"""Build hook: compile the Sigma engine's hot modules with mypyc, when it can.

The prefilter (detectors/sigma/prefilter.py) runs for every event a detector sees, the matcher closures
(detectors/sigma/matchers.py) for every event it lets through; compiled by mypyc (the compiler that
ships with mypy) their loops, attribute reads and calls run as C (benchmarks/engine-results.md,
sessions 8 and 10). The pure-Python modules stay the source of truth and the fallback: each compiled
copy is an extra module, `detectors.sigma._<name>_native`, built from a copy of the source that records
the SHA-256 of the source it was compiled from, so that detectors/sigma/native.py never uses a copy
older than the source beside it (an edited module runs as Python until the next `pip install -e .` or
`bash scripts/bootstrap.sh`).

A build that cannot compile (no C compiler, no Python headers, another platform, SOCPIPE_NO_NATIVE=1)
says so in one line and installs the pure-Python engine: same answers, slower.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# the modules compiled, each to `_<stem>_native` beside it (detectors/sigma/native.py's naming)
SOURCES = (Path("detectors/sigma/prefilter.py"), Path("detectors/sigma/matchers.py"))
SKIP_ENV = "SOCPIPE_NO_NATIVE"
# Not the project's [tool.mypy]: the build environment holds only the build requirements, so imported
# packages may be missing (their names are then Any), and only the compiled module's own errors matter.
MYPY_INI = "[mypy]\npython_version = 3.11\nignore_missing_imports = True\nfollow_imports = silent\n"
# Run in a scratch folder (argv: mypy config, module path, source root): setuptools there reads no
# pyproject.toml and discovers no packages; the extension lands in the source tree (package_dir).
BUILD = """
import sys
from mypyc.build import mypycify
from setuptools import setup
setup(
    name="socpipe-native",
    packages=[],
    py_modules=[],
    package_dir={"": sys.argv[3]},
    ext_modules=mypycify(["--config-file", sys.argv[1], sys.argv[2]], opt_level="3"),
    script_args=["build_ext", "--inplace"],
)
"""


def native_name(source: Path) -> str:
    """Module name of the compiled copy of `source`, beside it."""
    return f"_{source.stem}_native"


def native_files(root: Path, source: Path | None = None) -> list[Path]:
    """The compiled copies' extension modules (each module and mypyc's runtime library for it)."""
    return sorted(
        so
        for src in ([source] if source else SOURCES)
        for so in (root / src.parent).glob(f"{native_name(src)}*.so")
    )


class NativePrefilterHook(BuildHookInterface):  # type: ignore[misc]  # hatchling: build env only
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        if os.environ.get(SKIP_ENV):
            for old in native_files(root):  # an earlier build's: not to be picked up
                old.unlink()
            print(f"socpipe: {SKIP_ENV} is set: the Sigma engine runs as pure Python", file=sys.stderr)
            return
        built = [source for source in SOURCES if compile_native(root, source)]
        if not built:
            return
        if version == "editable":  # the source folder is on sys.path: the modules built there are found
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for so in (so for source in built for so in native_files(root, source)):
            build_data["force_include"][str(so)] = str(so.relative_to(root))


def compile_native(root: Path, module: Path = SOURCES[0]) -> bool:
    """Build the compiled copy of one source module in place (e.g. detectors/sigma/_prefilter_native*.so);
    False (and a line saying why) when not."""
    source = root / module
    copy = source.with_name(f"{native_name(module)}.py")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    for old in native_files(root, module):
        old.unlink()
    copy.write_text(
        source.read_text(encoding="utf-8")
        + f'\n\nSOURCE_SHA256 = "{digest}"  # of the {source.name} compiled (hatch_build.py)\n',
        encoding="utf-8",
    )
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "mypy.ini"
        ini.write_text(MYPY_INI, encoding="utf-8")
        cmd = [sys.executable, "-c", BUILD, str(ini), str(copy), str(root)]
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"socpipe: mypyc did not run ({exc}): {module} runs as Python", file=sys.stderr)
            return False
        finally:
            copy.unlink(missing_ok=True)
    if proc.returncode != 0 or not native_files(root, module):
        last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
        why = last if len(last) <= 200 else last[:200] + "..."
        print(f"socpipe: mypyc failed ({why}): {module} runs as pure Python", file=sys.stderr)
        return False
    return True
