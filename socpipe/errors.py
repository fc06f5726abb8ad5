"""The one error family for things a person must fix before socpipe can run, and for servers that are down.

`ConfigurationError` is what every bad-configuration error derives from (settings, rules, heuristics,
responder files, API keys): it carries every problem found, each with where it is (file, line, key or
rule id) and, when we know it, what to do. The CLI catches the family once (cli/main.py) and exits 2
with the located problems, never a traceback; workers refuse to start with the same message.

`ServerUnavailableError` is a server that did not answer: the message names the server, the address tried
and what to do (`socpipe dev up`, or the setting to change). One-shot commands check before they work
and fail fast with it; long-running processes wait out an outage instead (socpipe/worker.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: what, where (any of file, line, key path or rule id) and what to do instead."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    fix: str | None = None

    @property
    def location(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file or ""
        return ": ".join(part for part in (where, self.key) if part)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text} ({self.fix})" if self.fix else text


class ConfigurationError(Exception):
    """Bad configuration: every problem found, each located; the program must not start with it.

    `problems` may be given as plain strings that already say where (older call sites); they become
    Problems with only a message.
    """

    def __init__(
        self, problems: Iterable[Problem | str] | str, *, title: str = "invalid configuration"
    ) -> None:
        items = [problems] if isinstance(problems, str) else problems
        self.problems = [p if isinstance(p, Problem) else Problem(p) for p in items]
        self.title = title
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1 and "\n" not in str(self.problems[0]):
            return f"{self.title}: {self.problems[0]}"
        return f"{self.title}:\n  " + "\n  ".join(str(p).replace("\n", "\n  ") for p in self.problems)

    def __str__(self) -> str:
        return self.render()


class ServerUnavailableError(RuntimeError):
    """A server (Kafka, Elasticsearch, Kibana, SMTP) did not answer at the address the settings give."""

    def __init__(
        self,
        server: str,
        address: str,
        setting: str,
        detail: str = "",
        *,
        start: str = "`socpipe dev up` for local servers",
    ) -> None:
        self.server, self.address, self.setting = server, address, setting
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"{server} at {address} did not answer{why}: "
            f"start it ({start}) or point {setting} at a running one"
        )
