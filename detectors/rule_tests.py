"""Rule tests kept beside the rules: `<rule>.tests.json` next to `<rule>.yml`.

Each file holds a list of cases `{"name": ..., "tenant": ..., "event": {...}, "fire": [rule ids]}`;
`fire: []` means no rule may fire on the event. JSON rather than YAML so the rule loader, which reads
every .yml under the rule folders, never mistakes a test for a rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from detectors.sigma.engine import Engine
from socpipe.errors import ConfigurationError, Problem

SUFFIX = ".tests.json"


class RuleTestCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    tenant: str | None = None
    event: dict[str, Any]
    fire: list[str] = Field(description="Rule ids that must fire; any other firing rule is a failure.")


class RuleTestResult(BaseModel):
    path: str
    name: str
    expected: list[str]
    fired: list[str]

    @property
    def passed(self) -> bool:
        return sorted(self.expected) == sorted(self.fired)


_CASES = TypeAdapter(list[RuleTestCase])
FORMAT_HINT = 'a JSON list of {"name": ..., "tenant": ... (optional), "event": {...}, "fire": [rule ids]}'


class RuleTestFileError(ConfigurationError):
    """Test files that cannot be read: each problem names the file and the case (index.field)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems, title="unreadable rule test files")


def read_cases(path: Path) -> list[RuleTestCase]:
    """The cases of one test file; RuleTestFileError names each problem and the format expected."""
    try:
        return _CASES.validate_json(path.read_bytes())
    except OSError as exc:
        raise RuleTestFileError([Problem(f"cannot read: {exc.strerror}", file=str(path))]) from None
    except ValidationError as exc:
        problems = [
            Problem(
                error["msg"],
                file=str(path),
                key=".".join(str(p) for p in error["loc"]) or None,
                fix=f"expected {FORMAT_HINT}",
            )
            for error in exc.errors()[:20]
        ]
        raise RuleTestFileError(problems) from None


def test_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob(f"*{SUFFIX}")) if path.is_dir() else [path]
    return found


def run_rule_tests(engine: Engine, paths: Iterable[Path]) -> list[RuleTestResult]:
    """Every case of every test file under `paths`, evaluated by the engine."""
    results = []
    for path in test_files(paths):
        for case in read_cases(path):
            fired = sorted({m.rule.id for m in engine.match(case.event, tenant=case.tenant)})
            results.append(RuleTestResult(path=str(path), name=case.name, expected=case.fire, fired=fired))
    return results
