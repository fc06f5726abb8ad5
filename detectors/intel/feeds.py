"""Fetch and read feeds, and build an IndicatorMatcher from a configuration or from files.

A feed is handed to its format's reader as a stream, never as one bytes object: a file is opened, an
HTTP(S) body is streamed to an anonymous temporary file first (so a connection dropped part-way is a
fetch failure, not a parse error, and the body never sits in memory), and the readers parse it entry
by entry. Each feed's last good indicators are kept, so a feed that cannot be fetched at a refresh
keeps what it had instead of vanishing (logged), while a feed file that does not parse fails the build;
nothing of a failed build is kept (build, validate, swap: detectors.intel.reload). A URL feed is the
feed server's to break, not the operator's: when it cannot be fetched or read it keeps its last good
indicators, or reads the body last saved on disk (detectors.intel.copies), or has none until it loads,
and the detector starts and runs on the other feeds meanwhile.

A refresh reads only what changed: a URL feed is asked conditionally (If-None-Match with its last
ETag, If-Modified-Since with its last Last-Modified) and a 304 keeps its indicators without a download
or a parse; a feed file whose size, modification time and inode are those of its last good read is not
read again. When no feed changed, the running matcher stays (expiry is checked at match time).
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import httpx

from detectors.intel import values
from detectors.intel.config import FeedConfig, Format, IntelConfig
from detectors.intel.copies import SavedCopies
from detectors.intel.formats.lists import read_csv, read_text
from detectors.intel.formats.misp import read_misp
from detectors.intel.formats.report import LoadReport
from detectors.intel.formats.stix import read_stix
from detectors.intel.formats.stream import head
from detectors.intel.index import IndicatorIndex
from detectors.intel.matcher import IndicatorMatcher
from detectors.intel.model import Indicator, Provenance, Tlp
from detectors.intel.versions import Version
from socpipe.logging import get_logger

log = get_logger(__name__)

READERS = {"stix": read_stix, "misp": read_misp, "csv": read_csv, "text": read_text}


class FeedError(ValueError):
    """A feed that cannot be fetched or read; the message names it and says why."""


def sniff(first: bytes, name: str) -> Format:
    """The format of a feed the configuration does not name: from its first bytes, then the file name."""
    start = first[:4096].lstrip()
    if start.startswith((b"{", b"[")):
        return "stix" if b'"bundle"' in first else "misp"
    if name.lower().endswith(".csv"):
        return "csv"
    return "text"


CHUNK = 1 << 20  # bytes of an HTTP body written to the spool file at a time


@dataclass(frozen=True)
class Fetched:
    """A feed's body as a seekable stream, or None when it is unchanged since `known` (HTTP 304, or
    the same file); `version` is what to ask with next time (None: the server sends no validators)."""

    stream: IO[bytes] | None
    version: Version | None


@contextmanager
def fetch(feed: FeedConfig, known: Version | None = None) -> Iterator[Fetched]:
    """The feed: the file, or the HTTP(S) body spooled to a temporary file (deleted on exit); nothing
    when it is unchanged since `known`. FeedError, before anything is read, if it cannot be had."""
    if feed.path is not None:
        try:
            handle = feed.path.open("rb")
        except OSError as exc:
            raise FeedError(f"feed {feed.name}: cannot read {feed.path}: {exc.strerror}") from exc
        with handle:
            current = Version.of_file(handle)
            yield Fetched(None if current == known else handle, current)
        return
    with tempfile.TemporaryFile(prefix="socpipe-feed-") as spool:
        headers = known.request_headers() if known is not None else {}
        version: Version | None
        try:
            url, timeout = str(feed.url), feed.timeout_s
            with httpx.stream(
                "GET", url, headers=headers, timeout=timeout, follow_redirects=True
            ) as response:
                if response.status_code == httpx.codes.NOT_MODIFIED and headers:
                    version = Version.of_response(response) or known
                    unchanged = True
                else:
                    response.raise_for_status()
                    for chunk in response.iter_bytes(CHUNK):
                        spool.write(chunk)
                    version, unchanged = Version.of_response(response), False
        except httpx.HTTPError as exc:  # the first line: a status error adds a second, a link to MDN
            why = next(iter(str(exc).splitlines()), type(exc).__name__)
            raise FeedError(f"feed {feed.name}: cannot fetch {feed.url}: {why}") from exc
        except OSError as exc:  # the temporary file's disk is full
            raise FeedError(f"feed {feed.name}: cannot spool {feed.url} to a temporary file: {exc}") from exc
        spool.seek(0)
        yield Fetched(None if unchanged else spool, version)


def read_feed(feed: FeedConfig, data: IO[bytes] | bytes) -> tuple[list[Indicator], LoadReport]:
    """Every indicator of the feed's stream (or bytes); FeedError when the data is not of the format,
    breaks off part-way, or held entries and not one of them could be read."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    report = LoadReport(feed.name)
    fmt = feed.format or sniff(head(stream), feed.location)
    try:
        indicators = list(READERS[fmt](stream, feed.name, feed.tlp, report))
    except ValueError as exc:
        raise FeedError(f"feed {feed.name} ({fmt}): {exc}") from exc
    except OSError as exc:  # the file went away or the disk failed part-way
        raise FeedError(f"feed {feed.name} ({fmt}): read failed part-way: {exc}") from exc
    if not indicators and report.skipped:
        raise FeedError(f"feed {feed.name} ({fmt}): no entry could be read, e.g. {report.examples[0]}")
    report.kinds.update(str(i.kind) for i in indicators)
    return indicators, report


@dataclass
class Loaded:
    """What one build read: per feed its report, and the feeds that kept their last good copy."""

    reports: dict[str, LoadReport] = field(default_factory=dict)
    stale: dict[str, str] = field(default_factory=dict)  # feed -> why it was not refreshed
    missing: dict[str, str] = field(default_factory=dict)  # URL feed -> why it has no indicators at all
    unchanged: list[str] = field(default_factory=list)  # feeds not read again: the same as last time
    seconds: float = 0.0


class FeedSet:
    """The configured feeds, each with its last good indicators; `build` makes a matcher of all."""

    def __init__(self, config: IntelConfig, copies: SavedCopies | None = None) -> None:
        self.config = config
        self.copies = copies
        self.last_good: dict[str, list[Indicator]] = {}
        self.allow = {t: allow_index(t, entries) for t, entries in config.allow.items()}
        self._versions: dict[str, Version] = {}  # of each feed's last good read, when it has one
        self._reports: dict[str, LoadReport] = {}
        self._matcher: IndicatorMatcher | None = None

    def build(self, now: float | None = None) -> tuple[IndicatorMatcher, Loaded]:
        """Fetch and read every feed that changed, then index. A feed file that does not read fails
        the build (FeedError); a URL feed that cannot be fetched or read falls back (`_unfetched`).
        When every feed is unchanged the running matcher itself is returned."""
        started = time.perf_counter()
        loaded = Loaded()
        per_feed: dict[str, list[Indicator]] = {}
        versions: dict[str, Version] = {}
        for feed in self.config.feeds:
            got = self._read(feed, loaded)
            if got is None:
                continue
            per_feed[feed.name], version = got
            if version is not None:
                versions[feed.name] = version
        if self._matcher is not None and len(loaded.unchanged) == len(self.config.feeds):
            matcher = self._matcher
        else:
            matcher = self._index(per_feed, time.time() if now is None else now)
        self.last_good, self._versions, self._reports = per_feed, versions, dict(loaded.reports)
        self._matcher = matcher
        loaded.seconds = time.perf_counter() - started
        return matcher, loaded

    def _read(self, feed: FeedConfig, loaded: Loaded) -> tuple[list[Indicator], Version | None] | None:
        """One feed's indicators and what to ask with next time: kept when unchanged since this
        process read it, read from the saved copy when unchanged since that was saved (a restart does
        not download it again), read anew when it changed; a fallback when it cannot be had (None:
        it has no indicators)."""
        held = feed.name in self.last_good
        known = self._versions.get(feed.name) if held else self._saved_version(feed)
        for ask in (known, None) if known is not None else (None,):
            with ExitStack() as stack:
                try:
                    fetched = stack.enter_context(fetch(feed, ask))
                except FeedError as exc:
                    kept = self._unfetched(feed, exc, loaded)
                    return None if kept is None else (kept, None)
                if fetched.stream is None and held:  # unchanged: its indicators and report stay
                    loaded.reports[feed.name] = self._reports[feed.name]
                    loaded.unchanged.append(feed.name)
                    return self.last_good[feed.name], fetched.version
                if fetched.stream is None:
                    from_copy = self._read_saved(feed, loaded)
                    if from_copy is None:
                        continue  # the copy does not read after all: fetch the feed whole
                    loaded.unchanged.append(feed.name)
                    return from_copy, fetched.version
                try:
                    indicators, report = read_feed(feed, fetched.stream)
                except FeedError as exc:
                    if feed.url is None:  # the operator's own file is broken: refuse the build
                        raise
                    kept = self._unfetched(feed, exc, loaded)  # the server sent something unreadable
                    return None if kept is None else (kept, None)
                if self.copies is not None and feed.url is not None:
                    self.copies.save(feed, fetched.stream, fetched.version)
                loaded.reports[feed.name] = report
                return indicators, fetched.version
        return None  # not reached: a fetch without validators always has a body

    def _saved_version(self, feed: FeedConfig) -> Version | None:
        if self.copies is None or feed.url is None:
            return None
        return self.copies.version(feed)

    def _saved(self, feed: FeedConfig) -> tuple[list[Indicator], LoadReport, datetime] | None:
        """The indicators of the feed's saved copy and when it was saved; None when there is no copy
        or it does not read (logged)."""
        saved = self.copies.open(feed) if self.copies is not None else None
        if saved is None:
            return None
        handle, saved_at = saved
        with handle:
            try:
                indicators, report = read_feed(feed, handle)
            except FeedError as exc:
                log.warning("intel feed copy unreadable", feed=feed.name, error=str(exc))
                return None
        return indicators, report, saved_at

    def _read_saved(self, feed: FeedConfig, loaded: Loaded) -> list[Indicator] | None:
        """The indicators of the feed's saved copy, which the server said is current; None when it
        cannot be read (the feed is then fetched whole)."""
        saved = self._saved(feed)
        if saved is None:
            log.warning("intel feed copy not read, fetching the feed whole", feed=feed.name)
            return None
        indicators, loaded.reports[feed.name], _ = saved
        log.info("intel feed unchanged since its saved copy, read from disk", feed=feed.name)
        return indicators

    def _unfetched(self, feed: FeedConfig, exc: FeedError, loaded: Loaded) -> list[Indicator] | None:
        """The indicators a feed that cannot be had keeps: the running set's, else its saved copy's,
        else none (a URL feed whose server is away or broken must not stop detection: it is retried,
        see IntelHolder). A feed file that cannot be opened at start is a configuration error."""
        if feed.name in self.last_good:
            loaded.stale[feed.name] = str(exc)
            log.warning("intel feed not refreshed, its last good copy stays", feed=feed.name, error=str(exc))
            return self.last_good[feed.name]
        if feed.url is None:
            raise exc
        saved = self._saved(feed)
        if saved is not None:
            indicators, loaded.reports[feed.name], saved_at = saved
            loaded.stale[feed.name] = f"{exc}; read its copy saved {saved_at.isoformat(timespec='seconds')}"
            log.warning("intel feed not fetched, its saved copy is read", feed=feed.name, error=str(exc))
            return indicators
        loaded.missing[feed.name] = str(exc)
        log.error(
            "intel feed not fetched and no copy of it: no indicators from it yet",
            feed=feed.name,
            error=str(exc),
        )
        return None

    def _index(self, per_feed: dict[str, list[Indicator]], now: float) -> IndicatorMatcher:
        tenants: dict[str, list[Indicator]] = {}
        common: list[Indicator] = []
        for feed in self.config.feeds:
            indicators = per_feed.get(feed.name, [])
            if not feed.tenants:
                common += indicators
            for tenant in feed.tenants:
                tenants.setdefault(tenant, []).extend(indicators)
        return IndicatorMatcher(
            IndicatorIndex.build(common, now),
            {t: IndicatorIndex.build(found, now) for t, found in tenants.items()},
            self.allow,
            severity=self.config.severity,
        )


def allow_index(tenant: str, entries: Sequence[str]) -> IndicatorIndex:
    """A tenant's allow-list as an index (so a CIDR block or a parent domain covers what is under it)."""
    provenance = Provenance(f"allow-list of {tenant}", Tlp.clear)
    index = IndicatorIndex()
    for entry in entries:
        try:
            kind, value = values.guess(entry)
        except values.BadValueError as exc:
            raise FeedError(f"allow-list of {tenant}: {exc}") from exc
        index.add(Indicator(kind, value, provenance))
    return index


def feeds_from_paths(paths: Sequence[Path], tlp: Tlp = Tlp.amber) -> IntelConfig:
    """A configuration of global feeds, one per file, named after the file (for `scan --intel`)."""
    return IntelConfig(feeds=[FeedConfig(name=p.name, path=p, tlp=tlp) for p in paths])


def load_feeds(paths: Sequence[Path]) -> IndicatorMatcher:
    """The matcher of the given feed files (STIX bundle, MISP JSON, CSV or text list, by content);
    FeedError names the file that does not load."""
    matcher, _ = FeedSet(feeds_from_paths(paths)).build()
    return matcher


def iter_indicators(matcher: IndicatorMatcher) -> Iterator[tuple[str, Indicator]]:
    """(scope, indicator) of everything loaded: scope `global` or the tenant's id."""
    for indicator in matcher.global_index:
        yield "global", indicator
    for tenant, index in sorted(matcher.tenants.items()):
        for indicator in index:
            yield tenant, indicator
