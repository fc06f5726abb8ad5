"""Agreement with Filebeat's modules on the same lines (benchmarks/field_agreement.py): every field
Filebeat sets agrees on every line, except the documented differences in KNOWN."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from socpipe.paths import REPO_DIR

# socpipe's choices where Filebeat differs (see the parsers' docstrings): none at present. A
# forwarded-for list of private addresses only ("10.0.0.2, 10.0.0.1, 127.0.0.1") gives the first,
# the originator, as Filebeat does and ECS defines `source.ip` (it used to give the last).
KNOWN: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    path = REPO_DIR / "benchmarks" / "field_agreement.py"
    spec = importlib.util.spec_from_file_location("field_agreement", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["field_agreement"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("sample", ["beats-system-auth", "beats-nginx-access", "beats-auditd-useradd"])
def test_fields_agree_with_elastic(bench: ModuleType, sample: str) -> None:
    """Each field Filebeat extracts from the sample, socpipe extracts with the same value on every line."""
    tallies = bench.agreement(sample, bench.SAMPLES[sample])
    assert tallies, "no expected fields read"
    low = {
        name: tally.misses
        for name, tally in tallies.items()
        if tally.agree < tally.total and (sample, name) not in KNOWN
    }
    assert low == {}


def test_the_sample_files_exist() -> None:
    """The samples named in the README are all there (a moved file would silently skip a check)."""
    data = Path(REPO_DIR / "tests" / "data" / "linuxweb")
    readme = (data / "README.md").read_text(encoding="utf-8")
    for path in data.iterdir():
        if path.name != "README.md":
            assert path.name in readme, f"{path.name} is not described in tests/data/linuxweb/README.md"
