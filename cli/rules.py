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


rules_option = click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A rule file or folder (repeatable); default: rules/sigma and SOCPIPE_RULES_DIRS.",
)


@rules_group.command("check")
@rules_option
@click.option(
    "--strict/--no-strict",
    default=True,
    show_default=True,
    help="Exit 1 when any rule fails to load (--no-strict: report only).",
)
def check(rules: tuple[Path, ...], strict: bool) -> None:
    """Load every rule and print the load report: each rule that failed and each warning, with where."""
    engine, _ = _engine(rules, strict=False)
    report = engine.ruleset.report
    click.echo(report.summary())
    for problem in report.failed:
        click.echo(f"  FAILED  {problem}", err=True)
    for problem in report.warnings:
        click.echo(f"  WARNING {problem}")
    if strict and report.failed:
        sys.exit(1)


@rules_group.command("test")
@rules_option
def test(rules: tuple[Path, ...]) -> None:
    """Run the `<rule>.tests.json` cases kept beside the rules; non-zero exit on any failure.

    Each test file is a JSON list of cases: {"name": ..., "tenant": ... (optional), "event": {flat ECS or
    Windows fields}, "fire": [rule ids that must fire]}; `"fire": []` means no rule may fire.
    """
    from detectors.rule_tests import SUFFIX, run_rule_tests, test_files

    engine, paths = _engine(rules, strict=True)
    if not test_files(paths):
        where = ", ".join(str(p) for p in paths)
        raise click.ClickException(
            f"no test files (*{SUFFIX}) under {where}: write one beside each rule, "
            f"<rule>{SUFFIX} (format: socpipe rules test --help, or the README's 'Rule tests')"
        )
    results = run_rule_tests(engine, paths)
    failed = [r for r in results if not r.passed]
    for r in failed:
        click.echo(f"FAIL {r.path}: {r.name}: expected {r.expected}, fired {r.fired}")
    click.echo(f"rules test: {len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        sys.exit(1)
