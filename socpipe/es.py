"""The one way to build an Elasticsearch client from the settings.

The local development node (Elasticsearch from jars) answers no `GET /`, so nothing here calls
info() or ping(): readiness is checked with cluster health instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

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


IndexKind = Literal["incidents", "detections", "notices", "evidence", "state"]


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
