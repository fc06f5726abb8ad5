"""The one registry of heuristics, keyed by the name users write in `rules/heuristics.yaml`.

Registration is explicit (`@register` on the class) and refuses a second heuristic under a name
already taken (the shape every registry has: socpipe/registry.py). `detectors.heuristics` imports
every heuristic module, so importing the package fills the registry.
"""

from __future__ import annotations

from typing import Any, TypeVar

from detectors.heuristics.base import Heuristic
from socpipe.registry import Registry, UnknownNameError


class UnknownHeuristicError(UnknownNameError):
    pass


_REGISTRY: Registry[type[Heuristic[Any]]] = Registry("heuristic", UnknownHeuristicError)

H = TypeVar("H", bound=type[Heuristic[Any]])


def register(cls: H) -> H:
    """Class decorator: make the heuristic reachable by its `name`."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__} has no `name` to register under")
    _REGISTRY.add(name, cls)
    return cls


def get(name: str) -> type[Heuristic[Any]]:
    return _REGISTRY.get(name)


def names() -> list[str]:
    return _REGISTRY.names()
