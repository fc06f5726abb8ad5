"""The load report: every rule either loads or is listed with where it is and why it did not."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

from socpipe.errors import ConfigurationError, Problem


class RuleProblem(BaseModel):
    """A rule (or file) that did not load, or loaded with a caveat."""

    path: str | None = None
    rule_id: str | None = None
    title: str | None = None
    reason: str
    kind: str  # "parse", "unsupported", "logsource", "correlation", "filter", "warning"

    def __str__(self) -> str:
        where = self.path or "?"
        ident = f" {self.rule_id}" if self.rule_id else ""
        return f"{where}{ident}: [{self.kind}] {self.reason}"


class LoadReport(BaseModel):
    """Counts and problems of one rule-set load; `failed` is empty when every rule loaded."""

    pipeline: str
    files: int = 0
    loaded: int = 0
    correlations: int = 0
    filters: int = 0
    silent: int = 0  # rules whose matches only feed correlations (`generate: false`)
    failed: list[RuleProblem] = Field(default_factory=list)
    warnings: list[RuleProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def reasons(self) -> Counter[str]:
        """Failures counted by kind and the reason's first words (numbers in reasons vary)."""
        return Counter(f"{p.kind}: {p.reason.split(':')[0][:80]}" for p in self.failed)

    def summary(self) -> str:
        total = self.loaded + len(self.failed)
        lines = [
            f"pipeline {self.pipeline}: {self.loaded}/{total} rules loaded "
            f"({self.correlations} correlations, {self.filters} filters"
            + (f", {self.silent} only feeding correlations" if self.silent else "")
            + "), "
            f"{len(self.failed)} failed, {len(self.warnings)} warnings"
        ]
        lines += [f"  {n:5d}  {reason}" for reason, n in self.reasons().most_common()]
        return "\n".join(lines)


class RuleLoadError(ConfigurationError):
    """Raised in strict mode: carries the whole report so the caller can print every problem."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        problems = [Problem(f"[{p.kind}] {p.reason}", file=p.path, key=p.rule_id) for p in report.failed[:50]]
        if len(report.failed) > 50:
            more = len(report.failed) - 50
            problems.append(Problem(f"... and {more} more (socpipe rules check lists them all)"))
        super().__init__(problems, title=f"{len(report.failed)} rules failed to load (strict mode)")
