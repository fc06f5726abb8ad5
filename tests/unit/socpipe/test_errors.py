"""The error family: every bad-configuration error is a ConfigurationError with located problems."""

from __future__ import annotations

import pytest

from detectors.heuristics import HeuristicConfigError
from detectors.sigma.report import RuleLoadError
from ingest.shippers.http import KeyFileError
from responders.config import ConfigError
from socpipe.errors import ConfigurationError, Problem
from socpipe.settings import SettingsError


def test_a_problem_says_where_what_and_what_to_do() -> None:
    """File and line, then the key or rule id, then the message and the fix; any part may be absent."""
    assert (
        str(Problem("bad", file="r.yaml", line=3, key="a.b", fix="use 5m")) == "r.yaml:3: a.b: bad (use 5m)"
    )
    assert str(Problem("bad", key="SOCPIPE_X")) == "SOCPIPE_X: bad"
    error = ConfigurationError([Problem("one", file="f"), "two"], title="invalid thing")
    assert str(error) == "invalid thing:\n  f: one\n  two"
    assert str(ConfigurationError("alone")) == "invalid configuration: alone"


@pytest.mark.parametrize(
    "kind", [SettingsError, ConfigError, HeuristicConfigError, RuleLoadError, KeyFileError]
)
def test_every_configuration_error_is_one_family(kind: type[Exception]) -> None:
    """What the CLI catches once (exit 2) covers settings, responder files, heuristics, rules, API keys."""
    assert issubclass(kind, ConfigurationError)
