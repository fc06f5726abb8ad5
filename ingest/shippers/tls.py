"""Server-side TLS for the receivers (syslog over TLS, the HTTP receiver), and the loopback rule.

TLS 1.2 is the oldest version offered (1.0 and 1.1 are broken and retired by RFC 8996). With a client CA,
clients present a certificate it signed: required (syslog, where the listener is one tenant's), or
optional (HTTP, where each tenant may demand one: http_tls.ClientCertificates checks it per request).

A receiver that listens beyond loopback carries tenant credentials and client logs across networks: it
must use TLS unless the operator says explicitly that something else protects the link (`insecure`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import ssl


class InsecureListenError(ValueError):
    """A plain-text listener on an address other hosts can reach, without the operator's say-so."""


def server_context(
    certfile: str, keyfile: str, client_ca: str | None = None, *, require_client_cert: bool = True,
    key_password: str | None = None,
) -> ssl.SSLContext:  # fmt: skip
    """TLS 1.2+ with the certificate chain; with `client_ca`, client certificates it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile, password=key_password)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one (127.0.0.0/8, ::1, `localhost`)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_listen(host: str, *, tls: bool, insecure: bool, option: str = "--insecure-listen") -> None:
    """Refuse plain text beyond loopback unless `insecure` (the operator's explicit choice)."""
    if tls or insecure or is_loopback(host):
        return
    raise InsecureListenError(
        f"refusing to listen on {host} without TLS: tenant keys and logs would cross the network in clear. "
        f"Give --cert and --key, listen on 127.0.0.1 behind a TLS proxy, or pass {option} if something "
        "else protects the link"
    )


def fingerprint(der: bytes) -> str:
    """A certificate's SHA-256 fingerprint as configured: `sha256:<hex>` of its DER bytes."""
    return "sha256:" + hashlib.sha256(der).hexdigest()
