"""Settings of the local dev servers, from SOCPIPE_* environment variables.

Versions are pinned (not "latest at fetch time") so that every developer and CI run the same
broker and node; an environment variable moves them when someone wants to try another release.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from socpipe.paths import REPO_DIR, cache_home

#: Latest Apache Kafka 4.x on Maven Central when this was written (4.0.0 ... 4.4.0 exist).
KAFKA_VERSION = "4.4.0"
#: Latest Elasticsearch 8.19.x that has a matching org.elasticsearch.plugin:transport-netty4 jar.
ES_VERSION = "8.19.21"
#: log4j2 binding for SLF4J 1.x, which Kafka's POM leaves out; the same log4j as Elasticsearch uses.
LOG4J_VERSION = "2.26.1"

HOST = "127.0.0.1"

_HEAP = re.compile(r"^\d+[mMgG]$")


class DevSettings(BaseSettings):
    """Where the dev servers keep their state, which ports and versions they use.

    Each field reads SOCPIPE_<FIELD> (SOCPIPE_KAFKA_PORT, SOCPIPE_ES_PORT, SOCPIPE_STATE_DIR, ...).
    """

    model_config = SettingsConfigDict(env_prefix="SOCPIPE_", extra="ignore")

    state_dir: Path | None = Field(
        default=None, description="pid files, logs, data; default <repo>/.socpipe/dev"
    )
    cache_dir: Path | None = Field(default=None, description="fetched jars; default ~/.cache/socpipe")
    java_home: Path | None = Field(default=None, description="JDK to use; default JAVA_HOME, then PATH")
    kafka_version: str = KAFKA_VERSION
    es_version: str = ES_VERSION
    log4j_version: str = LOG4J_VERSION
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=9093, ge=1, le=65535)
    es_port: int = Field(default=9200, ge=1, le=65535)
    es_transport_port: int = Field(default=9300, ge=1, le=65535)
    kafka_heap: str = "512m"
    # An optional SSL listener (tests of socpipe's Kafka TLS settings): port, PEM keystore and truststore.
    kafka_tls_port: int | None = Field(default=None, ge=1, le=65535)
    kafka_tls_keystore: Path | None = None
    kafka_tls_truststore: Path | None = None
    kafka_tls_client_auth: bool = False
    es_heap: str = "1g"
    start_timeout: float = Field(default=180.0, gt=0, description="seconds to wait for a server to be ready")

    @field_validator("kafka_version")
    @classmethod
    def _kafka_4(cls, value: str) -> str:
        if not re.fullmatch(r"4\.\d+\.\d+", value):
            raise ValueError("must be an Apache Kafka 4.x release such as 4.4.0 (KRaft-only broker)")
        return value

    @field_validator("es_version")
    @classmethod
    def _es_8(cls, value: str) -> str:
        if not re.fullmatch(r"8\.\d+\.\d+", value):
            raise ValueError("must be an Elasticsearch 8.x release: the Python client is 8.x")
        return value

    @field_validator("kafka_heap", "es_heap")
    @classmethod
    def _heap(cls, value: str) -> str:
        if not _HEAP.match(value):
            raise ValueError("must be a JVM heap size such as 512m or 1g")
        return value

    @model_validator(mode="after")
    def _distinct_ports(self) -> DevSettings:
        ports = [self.kafka_port, self.kafka_controller_port, self.es_port, self.es_transport_port]
        if len(set(ports)) != len(ports):
            raise ValueError(f"the four dev server ports must differ, got {ports}")
        return self

    @property
    def state_path(self) -> Path:
        """The state folder: one place for every pid file, log and data folder of the dev servers."""
        if self.state_dir is not None:
            return self.state_dir.expanduser().resolve()
        # An editable install or a checkout keeps state beside the code; an installed wheel, in the cwd.
        base = REPO_DIR if (REPO_DIR / "pyproject.toml").is_file() else Path.cwd()
        return base / ".socpipe" / "dev"

    @property
    def cache_path(self) -> Path:
        """Jars are shared by every checkout on the machine, so they live in the user's cache."""
        if self.cache_dir is not None:
            return self.cache_dir.expanduser().resolve()
        return cache_home()


def find_java(settings: DevSettings) -> Path:
    """The `java` binary: SOCPIPE_JAVA_HOME, JAVA_HOME, then PATH. Needs Java 17 or later."""
    homes = [settings.java_home, Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else None]
    for home in homes:
        if home is not None and (home / "bin" / "java").is_file():
            java = home / "bin" / "java"
            break
    else:
        found = shutil.which("java")
        if found is None:
            raise RuntimeError(
                "no Java: install a JDK 17 (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
            )
        java = Path(found).resolve()
    major = java_major_version(java)
    if major < 17:
        raise RuntimeError(f"{java} is Java {major}; Kafka 4 and Elasticsearch 8.19 need Java 17 or later")
    return java


def java_major_version(java: Path) -> int:
    """Major version from the JDK's `release` file, or from `java -version` when there is none."""
    release = java.resolve().parent.parent / "release"
    text = release.read_text(encoding="utf-8") if release.is_file() else ""
    if not text:
        done = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
        text = done.stderr
    pattern = r'\bJAVA_VERSION="(\d+)(?:\.(\d+))?' if release.is_file() else r'version "(\d+)(?:\.(\d+))?'
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"cannot tell the version of {java}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major
