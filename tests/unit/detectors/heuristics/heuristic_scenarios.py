"""Scenario generators for the heuristic tests: benign background plus one attack, deterministic (seeded).

Each scenario yields flat events in the shapes the pipeline sees (Windows Security / Sysmon names,
or ECS dotted names for network flows) with their times, the heuristic it exercises, the
configuration it runs under and the keys the attack's findings must have. Background alone must
give no finding; background plus attack must give findings on the attack's keys only.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.parsers import default_registry
from schemas.raw import RawRecord

Event = tuple[datetime, dict[str, Any]]
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
TENANT = "testco"  # no overrides in rules/heuristics.yaml: the shipped defaults apply
HOSTS = [f"ws-{i:02d}.acme.local" for i in range(1, 21)]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


@dataclass
class Scenario:
    name: str
    heuristic: str
    background: list[Event]
    attack: list[Event]
    expected_keys: set[str]
    config: dict[str, Any] = field(default_factory=dict)

    def events(self, *, with_attack: bool = True) -> list[Event]:
        chosen = self.background + (self.attack if with_attack else [])
        return sorted(chosen, key=lambda e: e[0])

    def parse_config(self) -> dict[str, Any]:
        return {"defaults": self.config}


# Event shapes --------------------------------------------------------------------------------


def logon(t: datetime, host: str, user: str, ip: str, *, ok: bool, logon_type: str = "3") -> Event:
    return t, {
        "Channel": "Security",
        "EventID": 4624 if ok else 4625,
        "Computer": host,
        "TargetUserName": user,
        "TargetDomainName": "ACME",
        "IpAddress": ip,
        "LogonType": logon_type,
        "Status": "0x0" if ok else "0xc000006d",
        "SystemTime": t.isoformat(),
    }


def process(t: datetime, host: str, parent: str, child: str, user: str) -> Event:
    return t, {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "Computer": host,
        "ParentImage": parent,
        "Image": child,
        "CommandLine": child.rsplit("\\", 1)[-1],
        "User": f"ACME\\{user}",
    }


def connect(
    t: datetime, host: str, dest: str, port: int, image: str = "C:\\Windows\\System32\\svchost.exe"
) -> Event:
    return t, {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 3,
        "Computer": host,
        "Initiated": "true",
        "DestinationIp": dest,
        "DestinationPort": port,
        "Image": image,
    }


def dns(t: datetime, host: str, name: str) -> Event:
    return t, {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 22,
        "Computer": host,
        "QueryName": name,
    }


def flow(t: datetime, host: str, dest: str, sent: int) -> Event:
    return t, {
        "event.category": ["network"],
        "host.name": host,
        "source.ip": "10.0.0.5",
        "destination.ip": dest,
        "destination.port": 443,
        "source.bytes": sent,
    }


def service(t: datetime, host: str, name: str, path: str, user: str) -> Event:
    return t, {
        "Channel": "System",
        "EventID": 7045,
        "Provider_Name": "Service Control Manager",
        "Computer": host,
        "ServiceName": name,
        "ImagePath": path,
        "SubjectUserName": user,
    }


def admin_added(t: datetime, host: str, member: str, by: str) -> Event:
    return t, {
        "Channel": "Security",
        "EventID": 4732,
        "Computer": host,
        "TargetUserName": "Administrators",
        "TargetSid": "S-1-5-32-544",
        "MemberName": "-",
        "MemberSid": member,
        "SubjectUserName": by,
    }


def log_cleared(t: datetime, host: str, by: str) -> Event:
    return t, {
        "Channel": "Security",
        "EventID": 1102,
        "Provider_Name": "Microsoft-Windows-Eventlog",
        "Computer": host,
        "SubjectUserName": by,
    }


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return START + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _office_logons(rng: random.Random, days: int) -> list[Event]:
    """Workday logons by the users from their own workstation, with the occasional typo."""
    out: list[Event] = []
    for day in range(days):
        if (START + timedelta(days=day)).weekday() >= 5:
            continue
        for i, user in enumerate(USERS):
            t = at(day, 8, rng.uniform(0, 90))
            ip = f"10.0.1.{i + 10}"
            for _ in range(rng.choice([0, 0, 0, 1, 2])):  # a mistyped password or two
                out.append(logon(t, "dc01.acme.local", user, ip, ok=False, logon_type="2"))
                t += timedelta(seconds=rng.uniform(3, 20))
            out.append(logon(t, "dc01.acme.local", user, ip, ok=True, logon_type="2"))
            for _ in range(rng.randint(3, 8)):  # network logons to file servers during the day
                t2 = at(day, rng.uniform(9, 17))
                out.append(logon(t2, "fs01.acme.local", user, ip, ok=True))
    return out


# Scenarios -----------------------------------------------------------------------------------


def brute_force() -> Scenario:
    """30 failures for `administrator` from one outside address in 2 minutes, then a success."""
    rng = random.Random(1)
    attack = [
        logon(at(2, 14, 0, seconds=4 * i), "dc01.acme.local", "administrator", "203.0.113.7", ok=False)
        for i in range(30)
    ]
    attack.append(logon(at(2, 14, 2, 30), "dc01.acme.local", "administrator", "203.0.113.7", ok=True))
    return Scenario(
        "brute_force",
        "brute_force",
        _office_logons(rng, 5),
        attack,
        {"account:administrator", "source:203.0.113.7"},
    )


def password_spraying() -> Scenario:
    """One internal address failing once against each of 25 accounts over 20 minutes (low and slow)."""
    rng = random.Random(2)
    attack = [
        logon(at(3, 11, 0, seconds=48 * i), "dc01.acme.local", f"user{i:03d}", "10.0.9.99", ok=False)
        for i in range(25)
    ]
    return Scenario(
        "password_spraying", "password_spraying", _office_logons(rng, 5), attack, {"source:10.0.9.99"}
    )


_PAIRS = [
    ("C:\\Windows\\explorer.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"),
    ("C:\\Windows\\explorer.exe", "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"),
    ("C:\\Windows\\explorer.exe", "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE"),
    ("C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\notepad.exe"),
    ("C:\\Windows\\System32\\services.exe", "C:\\Windows\\System32\\svchost.exe"),
    ("C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\taskhostw.exe"),
    ("C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"),
    (
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    ),
    ("C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\cmd.exe"),
    ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\ipconfig.exe"),
    ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\conhost.exe"),
    (
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
    ),
]


def rare_lineage() -> Scenario:
    """Two days of a dozen usual parent/child pairs on 20 hosts, then Word starting PowerShell."""
    rng = random.Random(3)
    background = [
        process(
            at(0, seconds=80 * i + rng.uniform(0, 60)),
            rng.choice(HOSTS),
            *rng.choice(_PAIRS),
            rng.choice(USERS),
        )
        for i in range(3000)  # ~3 days
    ]
    word = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
    ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    attack = [
        process(at(2, 10, 15), "ws-07.acme.local", word, ps, "bob"),
        process(at(2, 10, 16), "ws-07.acme.local", word, ps, "bob"),
    ]  # second time: already reported
    return Scenario("rare_lineage", "rare_lineage", background, attack, {"pair:winword.exe>powershell.exe"})


def beaconing() -> Scenario:
    """Browsing at random times to many sites; one host calling home every 60 s (+/- 2 s) for 40 minutes."""
    rng = random.Random(4)
    sites = [f"93.184.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(40)]
    background: list[Event] = []
    for host in HOSTS:
        t = at(0, 8)
        while t < at(0, 18):
            t += timedelta(seconds=rng.expovariate(1 / 45))
            background.append(
                connect(
                    t,
                    host,
                    rng.choice(sites[:8]) if rng.random() < 0.5 else rng.choice(sites),
                    443,
                    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                )
            )
    start = at(0, 13)
    attack = [
        connect(
            start + timedelta(seconds=60 * i + rng.uniform(-2, 2)),
            "ws-07.acme.local",
            "198.51.100.23",
            443,
            "C:\\Users\\bob\\AppData\\Local\\Temp\\updater.exe",
        )
        for i in range(40)
    ]
    return Scenario("beaconing", "beaconing", background, attack, {"ws-07.acme.local|198.51.100.23:443"})


_DOMAINS = [
    "www.google.com",
    "outlook.office365.com",
    "login.microsoftonline.com",
    "www.bbc.co.uk",
    "fonts.gstatic.com",
    "cdn.jsdelivr.net",
    "api.github.com",
    "teams.microsoft.com",
]


def _b32(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase + "234567") for _ in range(n))


def dns_tunnelling() -> Scenario:
    """Ordinary lookups (some CDN names with short random labels); one host sending data in 40 long labels."""
    rng = random.Random(5)
    background: list[Event] = []
    for i in range(6000):
        host = rng.choice(HOSTS)
        r = rng.random()
        if r < 0.7:
            name = rng.choice(_DOMAINS)
        elif r < 0.9:
            name = f"e{rng.randint(1000, 9999)}.a.akamaiedge.net"
        else:
            name = f"{_b32(rng, 12)}.cloudfront.net"
        background.append(dns(at(0, 8, seconds=6 * i), host, name))
    attack = [
        dns(
            at(0, 12, seconds=5 * i),
            "ws-11.acme.local",
            f"{_b32(rng, 52)}.{_b32(rng, 20)}.t.exfil-example.net",
        )
        for i in range(40)
    ]
    return Scenario(
        "dns_tunnelling", "dns_tunnelling", background, attack, {"ws-11.acme.local|exfil-example.net"}
    )


def dns_volume() -> Scenario:
    """Ordinary lookups; one host looking up 300 distinct short names of one domain in 5 minutes."""
    rng = random.Random(6)
    background = [dns(at(0, 8, seconds=6 * i), rng.choice(HOSTS), rng.choice(_DOMAINS)) for i in range(6000)]
    attack = [dns(at(0, 12, seconds=i), "ws-12.acme.local", f"h{i}.c2-example.org") for i in range(300)]
    return Scenario("dns_volume", "dns_tunnelling", background, attack, {"ws-12.acme.local|c2-example.org"})


def outbound_volume() -> Scenario:
    """Three days of ~50 MB an hour per host to the internet, then one host sending 2 GB in an hour."""
    rng = random.Random(7)
    background: list[Event] = []
    for host in HOSTS[:5]:
        for minute in range(0, 4 * 24 * 60, 5):
            background.append(
                flow(
                    at(minutes=minute + rng.uniform(0, 4)),
                    host,
                    "93.184.216.34",
                    int(rng.gauss(50e6 / 12, 0.8e6)),
                )
            )
    attack = [
        flow(at(3, 2, minutes=rng.uniform(0, 60)), HOSTS[2], "203.0.113.50", 170_000_000) for _ in range(12)
    ]
    return Scenario("outbound_volume", "outbound_volume", background, attack, {f"host:{HOSTS[2]}"})


def first_time() -> Scenario:
    """Two weeks of office hours (services redeployed to many hosts); on Saturday night a new admin,
    a new service from a user folder and the Security log cleared."""
    rng = random.Random(8)
    background = _office_logons(rng, 14)
    known = [
        ("GoogleUpdater", "C:\\Program Files\\Google\\GoogleUpdater\\updater.exe --system"),
        ("Sense", "C:\\Program Files\\Windows Defender Advanced Threat Protection\\MsSense.exe"),
    ]
    for day in range(14):
        if (START + timedelta(days=day)).weekday() < 5:
            for host in rng.sample(HOSTS, 5):
                background.append(service(at(day, rng.uniform(9, 17)), host, *rng.choice(known), "deploy"))
    background.append(admin_added(at(1, 10), "ws-03.acme.local", "S-1-5-21-1-2-3-1105", "helpdesk"))
    evening = at(12, 2, 40)  # Saturday 02:40
    attack = [
        admin_added(evening, "srv-db.acme.local", "S-1-5-21-1-2-3-1337", "mallory"),
        service(
            evening + timedelta(minutes=1),
            "srv-db.acme.local",
            "WinSvcHelper",
            "C:\\Users\\Public\\svchelper.exe",
            "mallory",
        ),
        log_cleared(evening + timedelta(minutes=3), "srv-db.acme.local", "mallory"),
    ]
    expected = {
        "local_admin|srv-db.acme.local|administrators|s-1-5-21-1-2-3-1337",
        "service|winsvchelper|c:\\users\\public\\svchelper.exe",
        "log_cleared|srv-db.acme.local|security",
    }
    config = {"first_time": {"learning_period": "3d", "usual_hours": {"start": 7, "end": 19}}}
    return Scenario("first_time", "first_time", background, attack, expected, config)


# Linux and web: events made by the real parsers from log lines, as the pipeline would see them ---


def parsed(t: datetime, parser: str, line: str) -> Event:
    """The flat event the parser makes of `line`; the shipper names the web server (its host hint)."""
    raw = RawRecord(
        tenant=TENANT, source="file:test", parser=parser, received_at=t, data=line, host_hint="shop-web-1"
    )
    return t, default_registry().get(parser).parse(raw).flat()


def sshd(t: datetime, host: str, message: str) -> Event:
    return parsed(t, "syslog", f"{t:%b} {t.day:2d} {t:%H:%M:%S} {host} sshd[4242]: {message}")


def web(t: datetime, client: str, target: str, status: int, agent: str = "Mozilla/5.0") -> Event:
    stamp = f"{t:%d/%b/%Y:%H:%M:%S} +0000"
    line = f'{client} - - [{stamp}] "GET {target} HTTP/1.1" {status} 512 "-" "{agent}"'
    return parsed(t, "access_log", line)


def _ssh_admins(rng: random.Random, days: int) -> list[Event]:
    """Admins logging on to the Linux servers with keys, and the odd mistyped password."""
    out: list[Event] = []
    for day in range(days):
        for i, user in enumerate(USERS[:5]):
            t = at(day, rng.uniform(8, 17))
            ip = f"10.0.2.{i + 10}"
            for _ in range(rng.choice([0, 0, 1, 2])):
                out.append(sshd(t, "web01", f"Failed password for {user} from {ip} port 5{i}022 ssh2"))
                t += timedelta(seconds=rng.uniform(3, 20))
            out.append(sshd(t, "web01", f"Accepted publickey for {user} from {ip} port 5{i}022 ssh2"))
            out.append(
                sshd(t + timedelta(minutes=30), "web01", f"Disconnected from user {user} {ip} port 5{i}022")
            )
    return out


def ssh_brute_force() -> Scenario:
    """40 sshd password failures for root from one outside address in 3 minutes (auth.log)."""
    rng = random.Random(11)
    attack = [
        sshd(
            at(2, 3, 0, seconds=4.5 * i),
            "web01",
            f"Failed password for root from 203.0.113.5 port {40000 + i} ssh2",
        )
        for i in range(40)
    ]
    return Scenario(
        "ssh_brute_force", "brute_force", _ssh_admins(rng, 4), attack, {"account:root", "source:203.0.113.5"}
    )


def ssh_password_spraying() -> Scenario:
    """One address trying one password for each of 20 invalid users over 15 minutes (each attempt
    logs `Invalid user` and `Failed password for invalid user`: counted once)."""
    rng = random.Random(12)
    attack: list[Event] = []
    for i in range(20):
        t = at(2, 4, 0, seconds=45 * i)
        attack.append(sshd(t, "web01", f"Invalid user user{i:02d} from 198.51.100.9 port {50000 + i}"))
        attack.append(
            sshd(
                t,
                "web01",
                f"Failed password for invalid user user{i:02d} from 198.51.100.9 port {50000 + i} ssh2",
            )
        )
    return Scenario(
        "ssh_password_spraying", "password_spraying", _ssh_admins(rng, 4), attack, {"source:198.51.100.9"}
    )


_SITE = [
    "/",
    "/index.html",
    "/about",
    "/contact",
    "/products",
    "/products/1",
    "/products/2",
    "/cart",
    "/static/app.js",
    "/static/site.css",
    "/favicon.ico",
    "/search?q=shoes",
    "/login",
    "/blog",
]


def _browsing(rng: random.Random, days: int) -> list[Event]:
    """Visitors browsing the shop: a few pages each, the odd 404 (a stale link)."""
    out: list[Event] = []
    for day in range(days):
        for v in range(60):
            client = f"198.18.{v // 200}.{v % 200 + 1}"
            t = at(day, rng.uniform(7, 22))
            for path in rng.sample(_SITE, rng.randint(2, 9)):
                out.append(web(t, client, path, 404 if rng.random() < 0.05 else 200))
                t += timedelta(seconds=rng.uniform(1, 40))
    return out


_WORDS = [
    "admin",
    "backup",
    ".git/config",
    ".env",
    "wp-login.php",
    "phpmyadmin",
    "old",
    "test",
    "db.sql",
    "config.php.bak",
    "server-status",
    "cgi-bin/test.cgi",
    "api/v1",
    "console",
    "manager/html",
]


def web_scanning() -> Scenario:
    """A directory brute-forcer: 150 paths in 2 minutes from one address, almost all 404."""
    rng = random.Random(13)
    paths = [f"/{w}" for w in _WORDS] + [f"/{w}{n}" for w in _WORDS for n in range(1, 10)]
    attack = [
        web(at(3, 2, 0, seconds=0.8 * i), "192.0.2.50", p, 200 if p == "/admin" else 404, "gobuster/3.6")
        for i, p in enumerate(paths)
    ]
    return Scenario("web_scanning", "web_scanning", _browsing(rng, 3), attack, {"source:192.0.2.50"})


_PAYLOADS = [
    "/item.php?id=1%27%20UNION%20ALL%20SELECT%20NULL%2CNULL--%20-",
    "/item.php?id=1%27%20AND%20SLEEP(5)--%20-",
    "/item.php?id=1%20AND%201=1",
    "/item.php?id=-1%27%20OR%20%271%27=%271",
    "/download.php?file=../../../../etc/passwd",
    "/item.php?id=1;cat%20/etc/passwd",
    "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
]


def web_attack_burst() -> Scenario:
    """sqlmap and friends against one page: 7 payloads in a minute from one address."""
    rng = random.Random(14)
    attack = [
        web(at(3, 5, 0, seconds=8 * i), "192.0.2.66", p, 500 if i % 2 else 200, "sqlmap/1.8")
        for i, p in enumerate(_PAYLOADS)
    ]
    return Scenario("web_attack_burst", "web_attack", _browsing(rng, 3), attack, {"source:192.0.2.66"})


LINUX_WEB: list[Callable[[], Scenario]] = [
    ssh_brute_force,
    ssh_password_spraying,
    web_scanning,
    web_attack_burst,
]

ALL: list[Callable[[], Scenario]] = [
    brute_force,
    password_spraying,
    rare_lineage,
    beaconing,
    dns_tunnelling,
    dns_volume,
    outbound_volume,
    first_time,
    *LINUX_WEB,
]
