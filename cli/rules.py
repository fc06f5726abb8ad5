"""`socpipe rules test | check`: the detection engineer's checks before a rule ships."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("rules")
def rules_group() -> None:
    """Check and test detection rules."""


def _engine(rules: tuple[Path, ...], strict: bool):  # type: ignore[no-untyped-def]
    from detectors.build import rule_paths
    from detectors.sigma.engine import Engine
    from detectors.sigma.loader import load_rules
    from socpipe.settings import get_settings

    paths = list(rules) or rule_paths(get_settings())
    ruleset = load_rules(paths, strict=strict)
    return Engine(ruleset), paths


@rules_group.command("check")
@click.option("--rules", "rules", multiple=True, type=click.Path(exists=True, path_type=Path))
@click.option("--strict/--no-strict", default=True, show_default=True)
def check(rules: tuple[Path, ...], strict: bool) -> None:
    """Load every rule and print the load report; non-zero exit if any rule fails."""
    from detectors.sigma.report import RuleLoadError

    try:
        engine, _ = _engine(rules, strict=False)
    except RuleLoadError as exc:  # pragma: no cover - strict=False never raises
        click.echo(exc.report.summary())
        sys.exit(1)
    report = engine.ruleset.report
    click.echo(report.summary())
    for problem in report.failed:
        click.echo(f"  {problem}")
    if strict and report.failed:
        sys.exit(1)


@rules_group.command("test")
@click.option("--rules", "rules", multiple=True, type=click.Path(exists=True, path_type=Path))
def test(rules: tuple[Path, ...]) -> None:
    """Run the `<rule>.tests.json` cases kept beside the rules; non-zero exit on any failure."""
    from detectors.rule_tests import run_rule_tests

    engine, paths = _engine(rules, strict=True)
    results = run_rule_tests(engine, paths)
    failed = [r for r in results if not r.passed]
    for r in failed:
        click.echo(f"FAIL {r.path}: {r.name}: expected {r.expected}, fired {r.fired}")
    click.echo(f"rules test: {len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        sys.exit(1)
