"""The heuristics registry: one name per heuristic, every heuristic reachable by the name users write."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime
from typing import Any

import pytest

import detectors.heuristics as package
from detectors.heuristics import registry
from detectors.heuristics.base import Heuristic, HeuristicConfig


def _defined_heuristics() -> set[type[Heuristic[Any]]]:
    found = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Heuristic) and obj is not Heuristic and not inspect.isabstract(obj):
                found.add(obj)
    return found


def test_every_heuristic_class_is_registered_under_its_name() -> None:
    """Each concrete Heuristic in the package is reachable by its `name`, and nothing else is registered."""
    defined = _defined_heuristics()
    assert {registry.get(name) for name in registry.names()} == defined
    for cls in defined:
        assert registry.get(cls.name) is cls


@pytest.mark.parametrize("name", registry.names())
def test_registered_heuristic_builds_from_default_config_and_feeds(name: str) -> None:
    """Each heuristic builds from its config's defaults, ignores an unrelated event, and snapshots to JSON."""
    cls = registry.get(name)
    assert issubclass(cls.config_model, HeuristicConfig)
    assert cls.rule_id.startswith("socpipe-heuristic-")
    heuristic = cls(cls.config_model())
    assert (
        heuristic.feed({"EventID": 7, "ImageLoaded": "x.dll"}, "acme", datetime(2026, 1, 1, tzinfo=UTC)) == []
    )
    empty = heuristic.snapshot()
    heuristic.restore(empty)
    assert heuristic.snapshot() == empty


def test_register_refuses_a_second_heuristic_under_a_taken_name() -> None:
    """Registering another class as `brute_force` fails and leaves the first in place."""
    first = registry.get("brute_force")

    class Impostor(first):  # type: ignore[misc, valid-type]
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register(Impostor)
    assert registry.get("brute_force") is first


def test_unknown_name_lists_the_known_ones() -> None:
    """Asking for a name nobody registered says which names exist."""
    with pytest.raises(registry.UnknownHeuristicError, match="brute_force"):
        registry.get("brute_forse")
