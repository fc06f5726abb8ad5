"""Fetch a server's jars from Maven Central with Maven itself.

Maven resolves the whole dependency tree (with its exclusions and version mediation) the way the
projects publish it; doing that by hand would drift from what Kafka and Elasticsearch expect.
A generated POM lists the top-level artifacts and `dependency:copy-dependencies` copies the tree
into a cache folder. A `.complete` marker is written last, so an interrupted fetch is redone.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict

from socpipe.logging import get_logger

log = get_logger(__name__)

#: Pinned so that the fetch does not depend on the Maven version's default plugin binding.
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
COMPLETE_MARKER = ".complete"


class Artifact(BaseModel):
    """One Maven coordinate (groupId:artifactId:version)."""

    model_config = ConfigDict(frozen=True)

    group_id: str
    artifact_id: str
    version: str

    def __str__(self) -> str:
        return f"{self.group_id}:{self.artifact_id}:{self.version}"


def render_pom(name: str, artifacts: list[Artifact]) -> str:
    """A throwaway POM whose only purpose is to make Maven resolve `artifacts` and their runtime deps."""
    deps = "\n".join(
        "    <dependency>\n"
        f"      <groupId>{escape(a.group_id)}</groupId>\n"
        f"      <artifactId>{escape(a.artifact_id)}</artifactId>\n"
        f"      <version>{escape(a.version)}</version>\n"
        "    </dependency>"
        for a in artifacts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>devtools</groupId>
  <artifactId>{escape(name)}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>{DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
"""


def copy_dependencies_command(mvn: str, pom: Path, lib_dir: Path) -> list[str]:
    """The Maven command line that copies the runtime classpath of `pom` into `lib_dir`."""
    return [
        mvn,
        "--batch-mode",
        "--no-transfer-progress",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={lib_dir}",
        "-DincludeScope=runtime",
    ]


def jars_dir(cache_root: Path, name: str, version: str) -> Path:
    """Folder of one server's jars: <cache>/jars/<name>-<version>/ (its lib/ holds the classpath)."""
    return cache_root / "jars" / f"{name}-{version}"


def is_cached(target: Path) -> bool:
    return (target / COMPLETE_MARKER).is_file() and any((target / "lib").glob("*.jar"))


def fetch(name: str, version: str, artifacts: list[Artifact], cache_root: Path) -> tuple[Path, float]:
    """Return (lib folder with the jars, seconds spent fetching; 0 when they were already cached)."""
    target = jars_dir(cache_root, name, version)
    lib = target / "lib"
    if is_cached(target):
        return lib, 0.0
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is not on PATH: install it (apt-get install maven) to fetch jars")
    started = time.monotonic()
    if lib.exists():
        shutil.rmtree(lib)  # a half-copied classpath from an interrupted run
    target.mkdir(parents=True, exist_ok=True)
    pom = target / "pom.xml"
    pom.write_text(render_pom(name, artifacts), encoding="utf-8")
    log.info("fetching jars from Maven Central", server=name, artifacts=[str(a) for a in artifacts])
    done = subprocess.run(
        copy_dependencies_command(mvn, pom, lib), capture_output=True, text=True, check=False, cwd=target
    )
    (target / "mvn.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
        raise RuntimeError(f"Maven could not fetch {name} {version} (see {target / 'mvn.log'}):\n{tail}")
    (target / COMPLETE_MARKER).write_text(f"{time.time()}\n", encoding="utf-8")
    elapsed = time.monotonic() - started
    log.info("jars fetched", server=name, seconds=round(elapsed, 1), jars=len(list(lib.glob("*.jar"))))
    return lib, elapsed
