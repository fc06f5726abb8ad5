"""One registry shape for parsers, heuristics and notice channels: explicit, no duplicates, reachable."""

from __future__ import annotations

import pytest

import detectors.heuristics  # noqa: F401 - importing the package registers every heuristic
from detectors.heuristics import registry as heuristics
from ingest.parsers import default_registry
from responders.notices.channels import CHANNELS
from socpipe.registry import Registry, UnknownNameError


def test_a_name_is_registered_once_and_must_be_a_lower_case_word() -> None:
    """A second entry under a taken name, or a name users could not write, is refused."""
    registry: Registry[int] = Registry("widget")
    registry.add("one", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("one", 2)
    for bad in ("One", "two words", "", "-x"):
        with pytest.raises(ValueError, match="lower-case"):
            registry.add(bad, 3)
    assert registry.get("one") == 1 and registry.names() == ["one"]


def test_an_unknown_name_lists_the_registered_ones() -> None:
    """The error a configuration gets says what would have been accepted."""
    registry: Registry[int] = Registry("widget")
    registry.add("b", 1)
    registry.add("a", 2)
    with pytest.raises(UnknownNameError, match=r"unknown widget 'c'; registered widgets: a, b"):
        registry.get("c")


@pytest.mark.parametrize(
    ("registry", "expected"),
    [
        (
            default_registry(),
            {"json", "text", "windows", "syslog", "auditd", "access_log", "zeek", "cloudtrail"},
        ),
        (
            heuristics._REGISTRY,
            {"brute_force", "password_spraying", "beaconing", "first_time", "rare_lineage"},
        ),
        (CHANNELS, {"email", "webhook"}),
    ],
    ids=["parsers", "heuristics", "channels"],
)
def test_every_registered_thing_is_reachable_by_its_name(
    registry: Registry[object], expected: set[str]
) -> None:
    """Each kind uses the one shape, and every entry is found under the name users write."""
    assert isinstance(registry, Registry)
    assert expected <= set(registry.names())
    for name in registry.names():
        assert registry.get(name) is dict(registry.items())[name]
