"""docker-compose.yml cannot run here (no Docker engine): check its structure instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from socpipe.paths import REPO_DIR

COMPOSE = yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_image_is_pinned() -> None:
    """No service runs a floating tag: every image names an exact version."""
    for name, service in SERVICES.items():
        image = service.get("image")
        assert image, f"service {name} has no image"
        assert re.search(r":\d+\.\d+\.\d+$", image), f"{name}: image {image!r} is not pinned"


def test_servers_have_health_checks_and_workers_wait_for_them() -> None:
    """Workers start only once Kafka and Elasticsearch report healthy."""
    for name in ("kafka", "elasticsearch", "kibana"):
        assert "healthcheck" in SERVICES[name], name
    for name in ("normalise", "detector", "correlate", "responder", "ingest-http"):
        depends = SERVICES[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["elasticsearch"]["condition"] == "service_healthy"


def test_elasticsearch_and_kibana_share_a_major_version_with_the_client() -> None:
    """The Python client's major version must not exceed the server's, and Kibana must match it."""
    import elasticsearch

    es_version = SERVICES["elasticsearch"]["image"].rsplit(":", 1)[1]
    kibana_version = SERVICES["kibana"]["image"].rsplit(":", 1)[1]
    assert es_version == kibana_version
    assert int(elasticsearch.__versionstr__.split(".")[0]) <= int(es_version.split(".")[0])


def test_worker_commands_exist_in_the_cli() -> None:
    """Each worker service runs a command the socpipe CLI really has."""
    from cli.main import load_all

    cli = load_all()

    for name in ("normalise", "detector", "correlate", "responder", "ingest-http"):
        group, sub = SERVICES[name]["command"][:2]
        assert group in cli.commands, f"{name}: no `socpipe {group}`"
        assert sub in cli.commands[group].commands, f"{name}: no `socpipe {group} {sub}`"  # type: ignore[attr-defined]


def test_dockerfile_copies_every_package() -> None:
    """The image carries every package the wheel declares."""
    dockerfile = (Path(REPO_DIR) / "Dockerfile").read_text()
    for package in (
        "socpipe",
        "schemas",
        "ingest",
        "detectors",
        "responders",
        "cli",
        "devtools",
        "rules",
        "samples",
    ):
        assert f"COPY {package} {package}" in dockerfile


def test_mounted_files_exist_and_the_receiver_gets_its_keys() -> None:
    """Every bind mount names a file in the repository; the HTTP receiver is given its key file."""
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO_DIR / source).exists(), f"{name}: {source} is missing"
    command = SERVICES["ingest-http"]["command"]
    assert "--keys" in command


def test_shipped_ingest_keys_file_loads() -> None:
    """The example key file is valid for the receiver (hashed keys, known tenants)."""
    from ingest.shippers.http import ApiKeys

    keys = ApiKeys.load(REPO_DIR / "deploy" / "ingest-keys.yaml")
    grant = keys.lookup("acme-demo-key")
    assert grant is not None and grant.tenant == "acme"
    assert keys.lookup("globex-demo-key") is not None and keys.lookup("wrong") is None
