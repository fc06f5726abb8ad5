"""A single Elasticsearch 8 node from the jars published on Maven Central.

Maven Central has the server jar and the Netty4 transport plugin, but none of the distribution's
modules, launcher or plugin bundles. A small Java launcher (java/ beside this file, compiled once
per version into the jar cache) builds the node with Netty4 handed over as a classpath plugin and
adds `GET /` so that clients' info() and ping() work. What the missing modules provide is absent:
painless and other scripts, reindex/_update_by_query/_delete_by_query, data streams, ILM, ingest
pipelines, analysis-common analyzers, mapper-extras field types, x-pack (security, Kibana's system
indices). Index templates, bulk, search, aggregations, _count, _field_caps, optimistic concurrency
(if_seq_no/if_primary_term) and op_type=create all work, which is what socpipe needs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import resources
from pathlib import Path

import httpx

from devtools.maven import Artifact, jars_dir
from devtools.server import DevServer
from devtools.state import port_open

MAIN_CLASS = "org.elasticsearch.node.SocpipeDevNode"
NODE_NAME = "socpipe-dev"


def render_elasticsearch_yml(
    *, host: str, http_port: int, transport_port: int, data_dir: Path, logs_dir: Path, repo_dir: Path
) -> str:
    """elasticsearch.yml of a single node on `host`, with no disk-based shard allocation limits.

    The watermarks are off so that tests still index on a nearly full developer disk.
    """
    lines = {
        "cluster.name": "socpipe-dev",
        "node.name": NODE_NAME,
        "path.data": str(data_dir),
        "path.logs": str(logs_dir),
        "path.repo": str(repo_dir),
        "network.host": host,
        "http.port": str(http_port),
        "transport.port": str(transport_port),
        "discovery.type": "single-node",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
        "indices.query.bool.max_clause_count": "8192",
    }
    # JSON strings are valid YAML scalars, and Elasticsearch reads every setting as a string anyway.
    body = "\n".join(f"{key}: {json.dumps(value)}" for key, value in lines.items())
    return f"# written by socpipe dev up; edits are overwritten at the next start\n{body}\n"


def render_log4j2() -> str:
    """Logs to stdout only (`socpipe dev` sends it to <state>/elasticsearch.log); no rolling files."""
    return """status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.deprecation.name = org.elasticsearch.deprecation
logger.deprecation.level = error
"""


def launcher_sources() -> dict[str, str]:
    """The launcher's Java sources, keyed by their path under java/ (shipped as package data)."""
    root = resources.files("devtools").joinpath("java")
    found: dict[str, str] = {}
    stack = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                stack.append((child, rel + "/"))
            elif child.name.endswith(".java"):
                found[rel] = child.read_text(encoding="utf-8")
    return dict(sorted(found.items()))


class ElasticsearchServer(DevServer):
    """Elasticsearch 8.19 on http://127.0.0.1:9200 (SOCPIPE_ES_PORT; transport SOCPIPE_ES_TRANSPORT_PORT)."""

    name = "elasticsearch"

    @property
    def version(self) -> str:
        return self.settings.es_version

    @property
    def port(self) -> int:
        return self.settings.es_port

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    def artifacts(self) -> list[Artifact]:
        return [
            Artifact(group_id="org.elasticsearch", artifact_id="elasticsearch", version=self.version),
            # The HTTP and transport layers; the server jar alone has neither.
            Artifact(
                group_id="org.elasticsearch.plugin", artifact_id="transport-netty4", version=self.version
            ),
        ]

    def launcher_dir(self) -> Path:
        """Compiled launcher classes, keyed by source content and version: recompiled when either changes."""
        digest = hashlib.sha256()
        for rel, text in launcher_sources().items():
            digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
        target = jars_dir(self.settings.cache_path, self.name, self.version)
        return target / f"launcher-{digest.hexdigest()[:12]}"

    def compile_launcher(self, java: Path, lib: Path) -> Path:
        classes = self.launcher_dir()
        if (classes / "org" / "elasticsearch" / "node" / "SocpipeDevNode.class").is_file():
            return classes
        javac = java.resolve().parent / "javac"
        if not javac.is_file():
            raise RuntimeError(f"no javac beside {java}: the Elasticsearch launcher needs a JDK, not a JRE")
        src = classes.with_name(classes.name + "-src")
        for rel, text in launcher_sources().items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(text, encoding="utf-8")
        building = classes.with_name(classes.name + "-tmp")
        building.mkdir(parents=True, exist_ok=True)
        files = [str(p) for p in sorted(src.rglob("*.java"))]
        command = [str(javac), "--release", "17", "-nowarn", "-d", str(building), "-cp", f"{lib}/*", *files]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"compiling the Elasticsearch launcher failed:\n{done.stdout}\n{done.stderr}")
        building.replace(classes)
        return classes

    def prepare(self, java: Path, lib: Path) -> None:
        config = self.home / "config"
        for folder in (config, self.home / "data", self.home / "logs", self.home / "tmp", self.home / "repo"):
            folder.mkdir(parents=True, exist_ok=True)
        yml = render_elasticsearch_yml(
            host=self.host,
            http_port=self.port,
            transport_port=self.settings.es_transport_port,
            data_dir=self.home / "data",
            logs_dir=self.home / "logs",
            repo_dir=self.home / "repo",
        )
        (config / "elasticsearch.yml").write_text(yml, encoding="utf-8")
        (config / "log4j2.properties").write_text(render_log4j2(), encoding="utf-8")
        self.compile_launcher(java, lib)

    def command(self, java: Path, lib: Path) -> list[str]:
        heap = self.settings.es_heap
        tmp = self.home / "tmp"
        return [
            str(java),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            f"-Djava.io.tmpdir={tmp}",
            f"-Djna.tmpdir={tmp}",
            "-Dlog4j2.formatMsgNoLookups=true",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
            "-Dio.netty.noUnsafe=true",
            "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-cp",
            f"{self.launcher_dir()}:{lib}/*",
            MAIN_CLASS,
            str(self.home),
            str(self.home / "config"),
        ]

    def probe(self) -> str | None:
        """Cluster health at least yellow: the node is elected, its HTTP layer and shards answer."""
        if not port_open(self.host, self.port):
            return f"nothing listens on {self.address}"
        try:
            response = httpx.get(
                f"{self.address}/_cluster/health",
                params={"wait_for_status": "yellow", "timeout": "1s"},
                timeout=5.0,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.headers.get("x-elastic-product") != "Elasticsearch":
            return f"{self.address} answers, but is not Elasticsearch"
        if response.status_code != 200:
            return f"cluster health: HTTP {response.status_code}"
        health = response.json().get("status")
        return None if health in ("yellow", "green") else f"cluster health {health}"
