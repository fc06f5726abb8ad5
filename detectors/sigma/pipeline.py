"""The field-mapping and logsource-routing pipeline, loaded from `rules/pipelines/*.yml`.

The pipeline is data, versioned in its file: which event names a rule field may be read from
(the original Sigma/Windows name first, then ECS names) and which events (Channel, EventID) a
logsource is evaluated on. Other products (linux, zeek, aws, web servers) are routed on the
event's `event.dataset`, which the ingest parsers set (`auditd.log`, `zeek.dns`, `aws.cloudtrail`):
a route `@zeek.dns` takes that dataset, `@zeek` every dataset of the module. Rules of products the
pipeline does not know run on every event without a Windows channel, and an event without a dataset
(plain JSON) gets every rule that is not Windows-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from socpipe.paths import rules_dir

if TYPE_CHECKING:
    from sigma.rule import SigmaLogSource

DEFAULT_PIPELINE = "windows-ecs.yml"

# A route key: (lower-cased channel, event id), event id None meaning "any event of the channel".
RouteKey = tuple[str, int | None]
# The routes of a rule: a list of keys, or ANY_WINDOWS for every event with a channel,
# or NON_WINDOWS for every event without one.
ANY_WINDOWS: RouteKey = ("*", None)
NON_WINDOWS: RouteKey = ("", None)
DATASET = "@"  # prefix of a dataset route key: ("@zeek.dns", None), or ("@zeek", None) for the module


def dataset_key(dataset: str) -> RouteKey:
    return (DATASET + dataset.lower(), None)


def module_key(key: RouteKey) -> RouteKey | None:
    """`@zeek.dns` -> `@zeek`: the module-wide key a dataset key also falls under."""
    name = key[0]
    if not name.startswith(DATASET) or "." not in name:
        return None
    return (name.split(".", 1)[0], None)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: list[str]
    event_id: list[int] | None = None


class Routing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: str
    categories: dict[str, list[Route]] = Field(default_factory=dict)
    services: dict[str, list[Route]] = Field(default_factory=dict)


class RouteFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: list[str]
    event_id: list[str]
    dataset: list[str] = Field(default_factory=lambda: ["event.dataset"])


class DatasetProduct(BaseModel):
    """Datasets a non-Windows product's logsources are found in (`zeek.dns`, or `zeek` for all)."""

    model_config = ConfigDict(extra="forbid")
    any: list[str]  # the product's rules without a listed category or service
    categories: dict[str, list[str]] = Field(default_factory=dict)
    services: dict[str, list[str]] = Field(default_factory=dict)
    service_prefix: str | None = None  # an unlisted service S is dataset <prefix>S (zeek.S)
    # Categories also found on channel events (Sysmon for Linux: Linux-Sysmon/Operational, EventID 1).
    channels: dict[str, list[Route]] = Field(default_factory=dict)


class DatasetRouting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    products: dict[str, DatasetProduct] = Field(default_factory=dict)
    categories: dict[str, list[str]] = Field(default_factory=dict)  # logsources without a product


class Pipeline(BaseModel):
    """A field-mapping and routing pipeline, as written in its YAML file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: int
    route_fields: RouteFields
    routing: Routing
    dataset_routing: DatasetRouting = Field(default_factory=DatasetRouting)
    field_mappings: dict[str, list[str]] = Field(default_factory=dict)
    logsource_aliases: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    event_data_prefix: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Pipeline:
        """Load a pipeline file; the default is the one shipped in `rules/pipelines/`."""
        path = path or rules_dir() / "pipelines" / DEFAULT_PIPELINE
        loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
        return cls.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"

    def field_names(self, field: str, logsource: SigmaLogSource | None = None) -> tuple[str, ...]:
        """The event keys a rule field is read from, in order (original name first)."""
        names = [field]
        if logsource is not None:
            for key in (logsource.category, logsource.service):
                if key and key in self.logsource_aliases:
                    names += self.logsource_aliases[key].get(field, [])
        names += self.field_mappings.get(field, [])
        if self.event_data_prefix and "." not in field:
            names.append(self.event_data_prefix + field)
        return tuple(dict.fromkeys(names))

    def routes(self, logsource: SigmaLogSource) -> list[RouteKey] | str:
        """Route keys for a logsource, or the reason it cannot be routed."""
        product = (logsource.product or "").lower()
        if product != self.routing.product:
            return self._dataset_routes(product, logsource.category, logsource.service)
        category, service = logsource.category, logsource.service
        if not category and not service:
            return [ANY_WINDOWS]
        keys: set[RouteKey] | None = None
        for kind, name, table in (
            ("category", category, self.routing.categories),
            ("service", service, self.routing.services),
        ):
            if not name:
                continue
            if name not in table:
                return f"no logsource mapping for product={product} {kind}={name} in {self.label}"
            mine = _route_keys(table[name])
            keys = mine if keys is None else _intersect(keys, mine)
        return sorted(keys or [], key=route_order)

    def _dataset_routes(self, product: str, category: str | None, service: str | None) -> list[RouteKey]:
        table = self.dataset_routing
        names: list[str] | None = None
        extra: set[RouteKey] = set()
        if product and product in table.products:
            known = table.products[product]
            extra = _route_keys(known.channels.get(category or "", []))
            if service and service in known.services:
                names = known.services[service]
            elif service and known.service_prefix:
                names = [known.service_prefix + service]
            elif category and category in known.categories:
                names = known.categories[category]
            else:
                names = known.any
        elif not product and category and category in table.categories:
            names = table.categories[category]
        if names is None:
            return [NON_WINDOWS]
        return sorted({dataset_key(n) for n in names} | extra, key=route_order)

    def route_key(self, event: Mapping[str, Any]) -> RouteKey:
        """The (channel, event id) of an event; its dataset key when it has no channel but a dataset;
        NON_WINDOWS when it has neither."""
        channel = None
        for name in self.route_fields.channel:
            channel = event.get(name)
            if channel is not None:
                break
        if not isinstance(channel, str):
            for name in self.route_fields.dataset:
                dataset = event.get(name)
                if isinstance(dataset, str) and dataset:
                    return dataset_key(dataset)
            return NON_WINDOWS
        eid: Any = None
        for name in self.route_fields.event_id:
            eid = event.get(name)
            if eid is not None:
                break
        if not isinstance(eid, int):
            try:
                eid = int(eid)
            except (TypeError, ValueError):
                eid = None
        return (channel.lower(), eid)


def route_order(key: RouteKey) -> tuple[str, int]:
    """Sort key of route keys: by channel, then event id (channel-wide first)."""
    return key[0], -1 if key[1] is None else key[1]


def _route_keys(routes: list[Route]) -> set[RouteKey]:
    """The (lower-cased channel, event id) keys of routes; no event ids means the whole channel."""
    keys: set[RouteKey] = set()
    for route in routes:
        ids: list[int | None] = list(route.event_id) if route.event_id else [None]
        keys.update((ch.lower(), eid) for ch in route.channel for eid in ids)
    return keys


def _intersect(a: set[RouteKey], b: set[RouteKey]) -> set[RouteKey]:
    """Routes satisfying both a category and a service: channel-wide keys narrow to event ids."""
    out: set[RouteKey] = set()
    for ch, eid in a:
        for ch2, eid2 in b:
            if ch == ch2 and (eid is None or eid2 is None or eid == eid2):
                out.add((ch, eid if eid is not None else eid2))
    return out
