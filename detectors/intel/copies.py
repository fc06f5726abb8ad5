"""The last good body of each URL feed, kept on disk: a detector restarted while a feed server is away
starts with the indicators it had, not without them.

One file per feed, named by a digest of the feed's name and URL (a changed URL is another feed), and
beside it the server's validators for that body, so that a restarted process asks whether the feed
changed instead of downloading it again. Each is written to a temporary file beside it and renamed
over it (a reader never sees half a copy), mode 0600 (a copy can hold TLP:RED indicators). Only a body
that was read cleanly is kept. A copy that cannot be written (a full disk) is logged and detection goes
on: the copy is a fallback, never a reason to stop.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from detectors.intel.config import FeedConfig
from detectors.intel.versions import Version
from socpipe.logging import get_logger
from socpipe.paths import cache_home
from socpipe.settings import Settings

log = get_logger(__name__)


def copies_dir(settings: Settings) -> Path:
    """The configured folder, else the user's cache folder (as the rule cache's)."""
    if settings.intel_copies_dir is not None:
        return settings.intel_copies_dir
    return cache_home() / "intel"


class SavedCopies:
    """Last good feed bodies in one folder (created on first save)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, feed: FeedConfig) -> Path:
        digest = hashlib.sha256(f"{feed.name}\0{feed.url}".encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", feed.name)[:40]
        return self.folder / f"{slug}-{digest}.feed"

    def version_path(self, feed: FeedConfig) -> Path:
        return self.path(feed).with_suffix(".version.json")

    def save(self, feed: FeedConfig, body: IO[bytes], version: Version | None = None) -> None:
        """Keep `body` (read from its start) as the feed's copy, replacing the previous one, and the
        server's validators for it. The old validators go first and the new ones are written last,
        so a copy is never paired with another body's validators (without any, the feed is fetched
        whole)."""
        target = self.path(feed)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.version_path(feed).unlink(missing_ok=True)
            body.seek(0)
            self._write(target, lambda out: shutil.copyfileobj(body, out, 1 << 20))
            if version is not None:
                text = version.model_dump_json().encode()
                self._write(self.version_path(feed), lambda out: out.write(text))
        except OSError as exc:
            log.warning("intel feed copy not saved", feed=feed.name, path=str(target), error=str(exc))

    def _write(self, target: Path, write: Callable[[IO[bytes]], object]) -> None:
        """Written to a temporary file (0600) beside `target`, then renamed over it."""
        fd, tmp = tempfile.mkstemp(prefix=".saving-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def version(self, feed: FeedConfig) -> Version | None:
        """The validators the server sent with the saved copy; None when there are none (or they
        cannot be read: the feed is then fetched whole, which is always safe)."""
        try:
            return Version.model_validate_json(self.version_path(feed).read_bytes())
        except (OSError, ValueError):
            return None

    def open(self, feed: FeedConfig) -> tuple[IO[bytes], datetime] | None:
        """The feed's copy and when it was saved, or None when there is none (or it cannot be opened)."""
        target = self.path(feed)
        try:
            handle = target.open("rb")
        except OSError:
            return None
        saved = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, UTC)
        return handle, saved
