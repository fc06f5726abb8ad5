"""Event values in client notices are data: one line, visible escapes, bounded, quoted.

Host names, user names and rule titles reach a notice from the client's own logs, so an attacker can
choose them. A line break in one (CR, LF, NEL, U+2028/2029, VT, FF, the FS/GS/RS separators that
`str.splitlines` also breaks on) would add lines of the attacker's choosing to a SOC-branded message:
a fake "Bcc:" or "Please call +1 555 ...". Every control or separator character becomes a visible
escape (`\\x0a`, `\\u2028`), so the value stays on one line and an analyst can still see what was sent;
long values are cut (a notice is a summary, the full event is in Kibana); templates then print the
value between double quotes (`|q`), with any inner double quote escaped, as quoted event content.

`neutralise` is idempotent (its output has nothing left to escape), so applying it both to the context
and again when a template prints a value (the environment's `finalize`) never double-escapes.
"""

from __future__ import annotations

import unicodedata
from typing import Any

MAX_VALUE_CHARS = 200
ELLIPSIS = "…"

# Unicode categories never printed as they are: controls (Cc: C0, DEL, C1 incl. NEL), line and
# paragraph separators (Zl, Zp), format characters (Cf: bidi overrides that reorder what a reader
# sees, zero-width joiners), private use and unassigned code points, and lone surrogates.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cf", "Co", "Cn", "Cs"})


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def neutralise(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    """One line of printable text: control and separator characters escaped, at most `limit` chars."""
    out = "".join(
        _escape(c) if unicodedata.category(c) in _ESCAPED_CATEGORIES else c for c in value[: limit * 2]
    )
    return out if len(out) <= limit and len(value) <= limit * 2 else out[: limit - 1] + ELLIPSIS


def neutralise_all(value: Any) -> Any:
    """Every string in a JSON-shaped value (dicts, lists), neutralised; other values as they are."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {neutralise(str(k)): neutralise_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [neutralise_all(v) for v in value]
    return value


def quoted(value: Any) -> str:
    """The Jinja filter `q`: the value as quoted event content, `"..."`, inner quotes escaped."""
    return '"' + neutralise(str(value)).replace('"', '\\"') + '"'


# What one `{{ ... }}` of a template may print: a joined list or a quoted value is longer than one value.
MAX_PRINTED_CHARS = 1000


def finalize(value: Any) -> Any:
    """The environment's `finalize`: whatever a template prints (a tenant's own included) is one line."""
    return neutralise(value, MAX_PRINTED_CHARS) if isinstance(value, str) else value
