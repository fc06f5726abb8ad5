"""`socpipe dev up | status | down`: local Kafka and Elasticsearch without Docker."""

from __future__ import annotations

import click


@click.group()
def dev() -> None:
    """Local single-node Kafka and Elasticsearch from Maven Central jars."""
