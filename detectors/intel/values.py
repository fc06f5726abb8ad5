"""Normalised forms of indicator values, the same at load time and at match time.

Both sides must agree byte for byte (the index is a set of strings), so every kind has one function
here: lower-case where case carries no meaning, canonical IP text, hashes as lower-case hex. Refanging
(`hxxp`, `[.]`) is done for the feed side only: events carry real values.
"""

from __future__ import annotations

import ipaddress
import re
import socket

from detectors.intel.model import IndicatorKind

_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_BY_LENGTH = {32: IndicatorKind.md5, 40: IndicatorKind.sha1, 64: IndicatorKind.sha256}
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9_-]{1,63}(?:\.(?!-)[a-z0-9_-]{1,63})*\.?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class BadValueError(ValueError):
    """A value that is not of the kind it claims to be."""


def refang(text: str) -> str:
    """`hxxp://evil[.]com` as published in many feeds -> `http://evil.com`."""
    if "[" not in text and "(" not in text and "hxxp" not in text:
        return text
    return (
        text.replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[:]", ":")
        .replace("hxxp", "http")
        .replace("[@]", "@")
    )


def ip(value: str) -> str:
    """Canonical text of an address, or of a network block (`10.0.0.0/8`; a /32 or /128 is the address)."""
    if "/" not in value and ":" not in value:
        try:  # the common case: inet_pton takes dotted quads without leading zeros, i.e. canonical text
            socket.inet_pton(socket.AF_INET, value)
            return value
        except OSError:
            pass
    try:
        if "/" in value:
            net = ipaddress.ip_network(value.strip(), strict=False)
            if net.prefixlen == net.max_prefixlen:
                return str(net.network_address)
            return str(net)
        return str(ipaddress.ip_address(value.strip()))
    except ValueError as exc:
        raise BadValueError(f"not an IP address or block: {value!r}") from exc


def domain(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    if not _DOMAIN.match(name) or "." not in name:
        raise BadValueError(f"not a domain name: {value!r}")
    return name


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def url(value: str) -> str:
    """Scheme and host lower-cased, the rest as given (paths and queries are case-sensitive)."""
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    if not sep or not _SCHEME.match(scheme) or end == 0 or " " in rest[:end]:
        raise BadValueError(f"not a URL: {value!r}")
    return f"{scheme.lower()}://{rest[:end].lower()}{rest[end:]}"


def file_hash(value: str, kind: IndicatorKind | None = None) -> tuple[IndicatorKind, str]:
    """The hash kind (from its length) and its lower-case hex; a declared kind must agree."""
    digest = value.strip().lower()
    found = _HASH_BY_LENGTH.get(len(digest))
    if found is None or not _HEX.match(digest) or (kind is not None and kind != found):
        raise BadValueError(f"not a {kind or 'MD5, SHA-1 or SHA-256'} hash: {value!r}")
    return found, digest


def email(value: str) -> str:
    address = value.strip().lower()
    if not _EMAIL.match(address):
        raise BadValueError(f"not an email address: {value!r}")
    return address


def normalise(kind: IndicatorKind, value: str) -> str:
    if kind is IndicatorKind.ip:
        return ip(value)
    if kind is IndicatorKind.domain:
        return domain(value)
    if kind is IndicatorKind.url:
        return url(value)
    if kind is IndicatorKind.email:
        return email(value)
    return file_hash(value, kind)[1]


def guess(text: str) -> tuple[IndicatorKind, str]:
    """Kind and normalised value of one entry of a plain list (refanged first)."""
    value = refang(text.strip())
    if "://" in value:
        return IndicatorKind.url, url(value)
    if "@" in value:
        return IndicatorKind.email, email(value)
    if ":" in value or value.replace(".", "").replace("/", "").isdigit():
        return IndicatorKind.ip, ip(value)
    if _HEX.match(value.lower()) and len(value) in _HASH_BY_LENGTH:
        return file_hash(value)
    return IndicatorKind.domain, domain(value)
