"""Syslog receivers against real Kafka: UDP, TCP (octet counting and newlines) and TLS, bad input kept."""

from __future__ import annotations

import socket
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trustme
from ingest_helpers import dead_letters, events, raw_records, run_normalise, syslog_receiver

from ingest.shippers.syslog import SyslogListener, tls_context
from socpipe.settings import Settings

pytestmark = pytest.mark.kafka


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_udp_tcp_and_tls_messages_reach_kafka_with_the_listeners_tenant(
    settings: Settings, tmp_path: Path
) -> None:
    """Messages over UDP, TCP with both framings and TLS arrive as RawRecords of the configured tenant,
    keyed by the sender's address; normalise parses RFC 3164 and RFC 5424 alike."""
    cert, key = _self_signed(tmp_path)
    listeners = [
        SyslogListener("udp", "127.0.0.1", 0, tenant="acme"),
        SyslogListener("tcp", "127.0.0.1", 0, tenant="acme"),
        SyslogListener("tls", "127.0.0.1", 0, tenant="globex", tls=tls_context(cert, key)),
    ]
    with syslog_receiver(settings, listeners) as stats:
        udp_port, tcp_port, tls_port = stats.ports
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(
                b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick", ("127.0.0.1", udp_port)
            )
        with socket.create_connection(("127.0.0.1", tcp_port)) as tcp:
            message = b"<165>1 2003-10-11T22:14:15.003Z host1 app 42 ID47 - multi\nline"
            tcp.sendall(
                b"%d %s" % (len(message), message) + b"<13>Nov 30 08:00:00 host2 cron: newline framed\n"
            )
        client = ssl.create_default_context(cafile=cert)
        with (
            socket.create_connection(("127.0.0.1", tls_port)) as plain,
            client.wrap_socket(plain, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"<13>Nov 30 08:00:01 host3 sshd[1]: over TLS\n")
        raws = raw_records(settings, at_least=4)
    assert sorted((r.tenant, r.source.split(":")[0]) for r in raws) == [
        ("acme", "syslog-tcp"), ("acme", "syslog-tcp"), ("acme", "syslog-udp"), ("globex", "syslog-tls"),
    ]  # fmt: skip
    assert all(r.peer == "127.0.0.1" and r.host_hint == "127.0.0.1" and r.parser == "syslog" for r in raws)
    run_normalise(settings)
    got = {e.payload.message: e for e in events(settings, at_least=4)}
    assert set(got) == {"'su root' failed for lonvick", "multi\nline", "newline framed", "over TLS"}
    assert got["over TLS"].tenant == "globex" and got["multi\nline"].payload.original["procid"] == "42"


def test_bad_syslog_input_is_dead_lettered(settings: Settings) -> None:
    """Non-UTF-8 and oversized messages are refused at the receiver, unparseable ones at normalise."""
    listeners = [SyslogListener("tcp", "127.0.0.1", 0, tenant="acme")]
    with syslog_receiver(settings, listeners, max_bytes=1024) as stats:
        with socket.create_connection(("127.0.0.1", stats.ports[0])) as tcp:
            tcp.sendall(b"<13>Nov 30 08:00:00 h app: caf\xe9\n")  # latin-1
            tcp.sendall(b"2000 " + b"z" * 2000)  # octet counted, over the limit
            tcp.sendall(b"<999>garbage priority\n")
            tcp.sendall(b"<13>Nov 30 08:00:00 h app: fine\n")
        letters = dead_letters(settings, at_least=2)
    run_normalise(settings)
    letters = dead_letters(settings, at_least=3)
    reasons = sorted((d.stage, d.error_type) for d in letters)
    assert reasons == [
        ("ingest", "RecordTooLarge"),
        ("ingest", "UnicodeDecodeError"),
        ("normalise", "ParseError"),
    ]
    assert all(d.tenant == "acme" and d.position.peer in (None, "127.0.0.1") and d.reason for d in letters)
    assert [e.payload.message for e in events(settings, at_least=1)] == ["fine"]


def _bsd(moment: datetime, zone: str) -> str:
    """`moment` as an RFC 3164 timestamp on a clock in `zone` (`Jan  5 09:03:07`: no year, no zone)."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%b} {local.day:2d} {local:%H:%M:%S}"


def test_rfc3164_times_are_normalised_in_the_listeners_time_zone(settings: Settings) -> None:
    """A receiver set to Asia/Kolkata (UTC+05:30) stamps its records with the zone; normalise reads the
    BSD times on that clock, so @timestamp is the true UTC instant; RFC 5424 keeps its own offset."""
    sent_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    listeners = [SyslogListener("udp", "127.0.0.1", 0, tenant="acme", timezone="Asia/Kolkata")]
    receiver = syslog_receiver(settings, listeners)
    with receiver as stats, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for line in (
            f"<13>{_bsd(sent_at, 'Asia/Kolkata')} web1 app: bsd",
            f"<13>1 {sent_at.astimezone(ZoneInfo('America/Denver')).isoformat()} web1 app 1 - - iso",
        ):
            udp.sendto(line.encode(), ("127.0.0.1", stats.ports[0]))
        raws = raw_records(settings, at_least=2)
    assert [r.timezone for r in raws] == ["Asia/Kolkata", "Asia/Kolkata"]
    run_normalise(settings)
    got = {e.payload.message: e.payload.timestamp for e in events(settings, at_least=2)}
    assert got == {"bsd": sent_at, "iso": sent_at}
    assert not dead_letters(settings)


def test_a_bogus_octet_count_is_dead_lettered_with_what_arrived(settings: Settings) -> None:
    """A count of 99999999 then 89 bytes: dead-lettered with the 89 bytes (the count named), and the valid
    line after it on the same connection is shipped, not swallowed."""
    listeners = [SyslogListener("tcp", "127.0.0.1", 0, tenant="acme")]
    with syslog_receiver(settings, listeners) as stats:
        with socket.create_connection(("127.0.0.1", stats.ports[0])) as tcp:
            tcp.sendall(b"99999999 " + b"q" * 89 + b"\n<13>Nov 30 08:00:00 h app: after the bogus count\n")
        with socket.create_connection(("127.0.0.1", stats.ports[0])) as tcp:
            tcp.sendall(b"99999999 " + b"r" * 89)  # and a close
        [*letters] = dead_letters(settings, at_least=2)
    assert sorted(len(d.original) for d in letters) == [89, 89]
    assert all("octet count 99999999" in d.reason and "89 bytes arrived" in d.reason for d in letters)
    run_normalise(settings)
    assert [e.payload.message for e in events(settings, at_least=1)] == ["after the bogus count"]


def test_the_tls_listener_checks_client_certificates(settings: Settings, tmp_path: Path) -> None:
    """With a client CA, a sender presenting a certificate that CA signed is heard; one without a
    certificate, or with one from another CA, is refused in the handshake and ships nothing."""
    ca = trustme.CA()
    server = ca.issue_cert("localhost")
    files = {"cert": server.cert_chain_pems[0], "key": server.private_key_pem, "ca": ca.cert_pem}
    for name, blob in files.items():
        blob.write_to_path(str(tmp_path / f"{name}.pem"))
    context = tls_context(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"), str(tmp_path / "ca.pem"))
    listeners = [SyslogListener("tls", "127.0.0.1", 0, tenant="globex", tls=context)]

    def refused(leaf: trustme.LeafCert | None, line: bytes) -> bool:
        """Send `line`; whether the listener cut the connection (TLS 1.3 says so on the first read)."""
        client = ssl.create_default_context()
        ca.configure_trust(client)
        if leaf is not None:
            leaf.configure_cert(client)
        try:
            with (
                socket.create_connection(("127.0.0.1", stats.ports[0]), timeout=5) as plain,
                client.wrap_socket(plain, server_hostname="localhost") as tls,
            ):
                tls.sendall(line)
                return False if leaf is good else tls.recv(1) == b""
        except (ssl.SSLError, ConnectionError):
            return True

    good = ca.issue_cert("globex-relay")
    with syslog_receiver(settings, listeners) as stats:
        assert refused(None, b"<13>Nov 30 08:00:00 h app: no certificate\n")
        assert refused(trustme.CA().issue_cert("intruder"), b"<13>Nov 30 08:00:00 h app: another CA\n")
        assert not refused(good, b"<13>Nov 30 08:00:00 h app: with a certificate\n")
        raws = raw_records(settings, at_least=1)
    assert [(r.tenant, r.data) for r in raws] == [("globex", "<13>Nov 30 08:00:00 h app: with a certificate")]
