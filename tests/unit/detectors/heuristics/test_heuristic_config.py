"""rules/heuristics.yaml: defaults, per-tenant overrides merged over them, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.heuristics import HeuristicConfigError, HeuristicEngine, load_config, parse_config
from detectors.heuristics.brute_force import BruteForceConfig


def test_shipped_file_loads_and_merges_tenant_overrides() -> None:
    """The shipped file is valid; acme's threshold replaces the default, the default window stays."""
    config = load_config()
    acme = config.for_tenant("acme")["brute_force"]
    default = config.for_tenant("someone-else")["brute_force"]
    assert isinstance(acme, BruteForceConfig) and isinstance(default, BruteForceConfig)
    assert (acme.threshold, acme.window) == (20, default.window)
    assert default.threshold == 10


def test_allow_lists_add_up_across_layers() -> None:
    """Allow-lists of defaults, the heuristic's section, the tenant and the tenant's heuristic all apply."""
    config = parse_config(
        {
            "defaults": {
                "allow": {"users": ["svc_backup"]},
                "brute_force": {"allow": {"users": ["svc_scan"]}},
            },
            "tenants": {
                "acme": {
                    "allow": {"users": ["svc_acme"]},
                    "brute_force": {"allow": {"sources": ["10.0.0.0/8"]}},
                }
            },
        }
    )
    acme = config.for_tenant("acme")["brute_force"]
    assert acme.allow.users == ["svc_backup", "svc_scan", "svc_acme"]
    assert acme.allow.sources == ["10.0.0.0/8"]
    assert config.for_tenant("acme")["password_spraying"].allow.users == ["svc_backup", "svc_acme"]


def test_bad_settings_are_all_reported_with_file_line_and_key(tmp_path: Path) -> None:
    """Every problem is collected before refusing, each naming the file, the line and the key path."""
    path = tmp_path / "heuristics.yaml"
    path.write_text(
        "defaults:\n"
        "  brute_force:\n"
        "    window: 5 minutes\n"
        "  brute_forse: {threshold: 3}\n"
        "tenants:\n"
        "  acme:\n"
        "    brute_force:\n"
        "      threshold: -1\n"
        "      treshold: 3\n"
        "    first_time: {timezone: Mars/Olympus}\n"
        "    allow: {sources: [10.0.0.0/33]}\n"
        "  Not A Tenant: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(HeuristicConfigError) as caught:
        load_config(path)
    problems = "\n".join(map(str, caught.value.problems))
    assert f"{path}:3: defaults.brute_force.window:" in problems and "duration" in problems
    assert f"{path}:4: defaults.brute_forse: unknown heuristic; known: beaconing, brute_force" in problems
    assert (
        f"{path}:8: tenants.acme.brute_force.threshold: Input should be greater than or equal to 2"
        in problems
    )
    assert f"{path}:9: tenants.acme.brute_force.treshold: Extra inputs are not permitted" in problems
    assert f"{path}:10: tenants.acme.first_time.timezone:" in problems and "Mars/Olympus" in problems
    assert f"{path}:11: tenants.acme.allow.sources" in problems and "10.0.0.0/33" in problems
    assert f"{path}:12: tenants.Not A Tenant: not a valid tenant id" in problems


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    """A file that is not YAML is refused with its name."""
    path = tmp_path / "h.yaml"
    path.write_text("defaults: [unclosed\n", encoding="utf-8")
    with pytest.raises(HeuristicConfigError, match=str(path)):
        load_config(path)


def test_a_heuristic_can_be_switched_off_for_one_tenant() -> None:
    """`enabled: false` under a tenant removes that heuristic for the tenant only."""
    config = parse_config({"tenants": {"globex": {"beaconing": {"enabled": False}}}})
    engine = HeuristicEngine(config)
    assert "beaconing" not in engine.heuristics("globex")
    assert "beaconing" in engine.heuristics("acme")
    assert "beaconing" not in config.enabled("globex")


def test_no_file_means_built_in_defaults() -> None:
    """An empty configuration runs every registered heuristic with its built-in defaults."""
    config = parse_config({})
    assert sorted(config.enabled("anyone")) == sorted(config.defaults)
