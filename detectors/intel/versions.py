"""What tells that a feed is unchanged since it was last read, so that a refresh (or a restart with a
saved copy) neither downloads nor parses it again.

For a URL, the server's validators: the ETag, sent back as If-None-Match, and the Last-Modified date,
sent back as If-Modified-Since; a 304 answer means unchanged. For a file: its size, modification time
in nanoseconds and inode. A pydantic model, because it is kept on disk beside a feed's saved copy.
"""

from __future__ import annotations

import os
from email.utils import parsedate_to_datetime
from typing import IO

import httpx
from pydantic import BaseModel, ConfigDict


class Version(BaseModel):
    """A feed's validators; with neither an ETag nor a Last-Modified a URL feed is fetched whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    etag: str | None = None
    last_modified: str | None = None
    stat: tuple[int, int, int] | None = None

    @classmethod
    def of_response(cls, response: httpx.Response) -> Version | None:
        etag = response.headers.get("etag")
        modified = _strong_last_modified(response.headers)
        return cls(etag=etag, last_modified=modified) if etag or modified else None

    @classmethod
    def of_file(cls, handle: IO[bytes]) -> Version:
        st = os.fstat(handle.fileno())
        return cls(stat=(st.st_size, st.st_mtime_ns, st.st_ino))

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def _strong_last_modified(headers: httpx.Headers) -> str | None:
    """Last-Modified when it can tell a later change: HTTP dates have whole seconds, so a feed
    rewritten in the second it was fetched would keep that date and be answered 304 for ever after.
    As RFC 9110 8.8.2.2 says, it is only relied on when at least a second older than the response's
    Date."""
    modified, date = headers.get("last-modified"), headers.get("date")
    if not modified or not date:
        return None
    try:
        age = parsedate_to_datetime(date) - parsedate_to_datetime(modified)
    except (TypeError, ValueError):
        return None
    return modified if age.total_seconds() >= 1 else None
