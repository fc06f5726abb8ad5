"""The one way to build an Elasticsearch client from the settings.

The local development node (Elasticsearch from jars) answers no `GET /`, so nothing here calls
info() or ping(): readiness is checked with cluster health instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, cast

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import Elasticsearch

from socpipe.errors import ServerUnavailableError
from socpipe.settings import Settings


def es_client(settings: Settings, **overrides: Any) -> Elasticsearch:
    conf: dict[str, Any] = {"request_timeout": 30, "retry_on_timeout": True, "max_retries": 3}
    if settings.elasticsearch_api_key:
        conf["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username and settings.elasticsearch_password:
        conf["basic_auth"] = (
            settings.elasticsearch_username,
            settings.elasticsearch_password.get_secret_value(),
        )
    conf.update(overrides)
    return Elasticsearch(settings.elasticsearch_url, **conf)


IndexKind = Literal["incidents", "detections", "notices", "evidence", "restricted", "state", "events"]


@dataclass(frozen=True, slots=True)
class TenantIndices:
    """The names of one tenant's indices: the one place that spells them.

    Names are per tenant (`socpipe-incidents-<tenant>`) so that Kibana roles can keep clients apart by
    naming exact indices. `tenant="*"` gives the provider's patterns across every tenant.
    """

    prefix: str
    tenant: str

    def of(self, kind: IndexKind) -> str:
        return f"{self.prefix}-{kind}-{self.tenant}"

    @property
    def incidents(self) -> str:
        return self.of("incidents")

    @property
    def detections(self) -> str:
        return self.of("detections")

    @property
    def notices(self) -> str:
        return self.of("notices")

    @property
    def evidence(self) -> str:
        return self.of("evidence")

    @property
    def restricted(self) -> str:
        """Detections with details the client may not see (TLP:RED intel): the provider's only."""
        return self.of("restricted")

    @property
    def state(self) -> str:
        """The responder's bookkeeping: never shown to the client."""
        return self.of("state")

    @property
    def alias(self) -> str:
        """One name over the client-visible indices."""
        return f"{self.prefix}-tenant-{self.tenant}"


def tenant_indices(settings: Settings, tenant: str | None) -> TenantIndices:
    """A tenant's indices; `None` means every tenant (patterns, for the provider's searches)."""
    return TenantIndices(settings.index_prefix, tenant or "*")


class ShardsUnavailableError(TransportConnectionError):
    """A multi-get answered, but with an error for some documents: a shard not started. After a restart
    the node answers while its shards still recover (cluster RED for seconds). For the caller that is an
    outage of Elasticsearch (socpipe.outage waits it out), never "not found": the responder once took
    such answers for deleted evidence records and stopped three tenants as tampered with."""

    def __str__(self) -> str:
        return f"Elasticsearch shards unavailable: {self.message}"


def mget_docs(es: Elasticsearch, **request: Any) -> list[dict[str, Any]]:
    """`es.mget(**request)["docs"]`, raising ShardsUnavailableError if any document could not be read;
    a document of an index that does not exist is not found (as mget says of a missing document)."""
    docs: list[dict[str, Any]] = [_not_found_if_no_index(d) for d in es.mget(**request)["docs"]]
    errors = [d for d in docs if "error" in d]
    if errors:
        error = errors[0]["error"]
        what = error.get("type", error) if isinstance(error, dict) else error
        raise ShardsUnavailableError(
            f"{len(errors)} of {len(docs)} documents unreadable, first {errors[0].get('_index')}/"
            f"{errors[0].get('_id')}: {what}"
        )
    return docs


def _not_found_if_no_index(doc: dict[str, Any]) -> dict[str, Any]:
    error = doc.get("error")
    if isinstance(error, dict) and error.get("type") == "index_not_found_exception":
        return {"_index": doc.get("_index"), "_id": doc.get("_id"), "found": False}
    return dict(doc)


def check_elasticsearch(settings: Settings, timeout_s: float = 3.0) -> None:
    """Raise ServerUnavailableError unless Elasticsearch answers within `timeout_s` (one try, no retries).

    One-shot commands call this first so that a node that is down costs seconds and one line, not the
    client's retries and a traceback. Health, not `GET /`: the local dev node answers no `GET /`.
    The client's own warning about the dead node is held back: the error says it once.
    """
    es = es_client(settings, request_timeout=timeout_s, max_retries=0, retry_on_timeout=False)
    pool_log = logging.getLogger("elastic_transport.node_pool")
    level, pool_log.level = pool_log.level, logging.ERROR
    try:
        es.cluster.health(timeout=f"{max(int(timeout_s), 1)}s")
    except ConnectionTimeout:
        raise ServerUnavailableError(
            "Elasticsearch", settings.elasticsearch_url, "ELASTICSEARCH_URL", "timed out"
        ) from None
    except TransportConnectionError:
        raise ServerUnavailableError(
            "Elasticsearch", settings.elasticsearch_url, "ELASTICSEARCH_URL", "no connection"
        ) from None
    finally:
        pool_log.setLevel(level)
        es.close()


class BulkError(RuntimeError):
    """Elasticsearch refused a write for another reason than a version conflict: a broken program."""


def bulk_items(es: Elasticsearch, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a bulk request; return one result per action (`status`, and `error` when it failed).

    The lines are encoded with orjson here (the client forwards bytes as they are) and the response is
    cut to each action's status and error: with batches of hundreds of documents, that takes about a tenth
    off the responder's own CPU time (benchmarks/responder.py: 0.73 -> 0.66 s for 2,000 detections).
    """
    if not operations:
        return []
    response = es.bulk(
        operations=cast(list[dict[str, Any]], [orjson.dumps(op) for op in operations]),  # typed too narrowly
        filter_path=["errors", "items.*.status", "items.*.error"],
    )
    return [next(iter(item.values())) for item in response["items"]]


def bulk(es: Elasticsearch, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`bulk_items`, raising BulkError on any failure but a version conflict (409: already written)."""
    results = bulk_items(es, operations)
    errors = [r for r in results if r.get("error") and r.get("status") != 409]
    if errors:
        raise BulkError(f"{len(errors)} bulk writes failed; first: {errors[0]['error']}")
    return results
