"""What every dev server has in common; kafka.py and elasticsearch.py fill in the specifics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from devtools import maven
from devtools.maven import Artifact
from devtools.settings import HOST, DevSettings


class DevServer(ABC):
    """One local server: its jars, its files in the state folder, how to start and probe it."""

    name: ClassVar[str]

    def __init__(self, settings: DevSettings) -> None:
        self.settings = settings
        self.state_dir = settings.state_path
        self.home = self.state_dir / self.name
        self.pid_file = self.state_dir / f"{self.name}.pid"
        self.log_file = self.state_dir / f"{self.name}.log"

    @property
    @abstractmethod
    def version(self) -> str: ...

    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    def host(self) -> str:
        return HOST

    @property
    @abstractmethod
    def address(self) -> str:
        """What clients are given: host:port for Kafka, a URL for Elasticsearch."""

    @property
    def marker(self) -> str:
        """A string only this server's command line holds (its config path), to recognise its pid."""
        return str(self.home / "config")

    @abstractmethod
    def artifacts(self) -> list[Artifact]:
        """Top-level Maven coordinates; Maven brings the rest of the classpath."""

    def fetch(self) -> tuple[Path, float]:
        """(folder of jars, seconds spent downloading)."""
        return maven.fetch(self.name, self.version, self.artifacts(), self.settings.cache_path)

    @abstractmethod
    def prepare(self, java: Path, lib: Path) -> None:
        """Write config files and do one-time setup (storage format, launcher compile) before start."""

    @abstractmethod
    def command(self, java: Path, lib: Path) -> list[str]:
        """The java command line that runs the server in the foreground."""

    @abstractmethod
    def probe(self) -> str | None:
        """None when the server answers real requests; otherwise why it is not ready yet."""
