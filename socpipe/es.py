"""The one way to build an Elasticsearch client from the settings.

The local development node (Elasticsearch from jars) answers no `GET /`, so nothing here calls
info() or ping(): readiness is checked with cluster health instead.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

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


def index_name(settings: Settings, kind: str, tenant: str) -> str:
    """Per-tenant index names (`socpipe-incidents-<tenant>`), so Kibana roles can keep clients apart."""
    return f"{settings.index_prefix}-{kind}-{tenant}"
