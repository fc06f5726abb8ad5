"""The one registry of heuristics, keyed by the name users write in `rules/heuristics.yaml`.

Registration is explicit (`@register` on the class) and refuses a second heuristic under a name
already taken. `detectors.heuristics` imports every heuristic module, so importing the package
fills the registry.
"""

from __future__ import annotations

from typing import Any, TypeVar

from detectors.heuristics.base import Heuristic

_REGISTRY: dict[str, type[Heuristic[Any]]] = {}

H = TypeVar("H", bound=type[Heuristic[Any]])


class UnknownHeuristicError(KeyError):
    pass


def register(cls: H) -> H:
    """Class decorator: make the heuristic reachable by its `name`."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__} has no `name` to register under")
    if name in _REGISTRY:
        raise ValueError(f"heuristic {name!r} is already registered by {_REGISTRY[name].__qualname__}")
    _REGISTRY[name] = cls
    return cls


def get(name: str) -> type[Heuristic[Any]]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownHeuristicError(f"unknown heuristic {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)
