"""End to end through real Kafka and Elasticsearch, on Linux and web logs: a real auth.log brute force
(a RHEL 7 /var/log/secure from Filebeat's tests), a sudo privilege escalation and a web scan each
become an incident.

The same harness as the walking skeleton (cli/demo.py `run_pipeline_once`): the file-tail shipper
with the syslog and access_log parsers, then the normalise, detector and responder workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.demo import run_pipeline_once
from responders.worker import Responders
from schemas.incident import Incident
from socpipe.paths import REPO_DIR
from socpipe.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]

DATA = REPO_DIR / "tests" / "data" / "linuxweb"
SUDO_CVE = "5b3c7e1a-2f4d-4c8e-9a61-7d0e1f2a3b14"  # rules/sigma/linux/lnx_sudo_cve_2019_14287.yml
ROOT_SHELL = "8e2d4f6a-1c3b-4a5e-8f70-2b9c1d0e4a27"  # rules/sigma/linux/lnx_sudo_root_shell.yml
ESCALATION = [
    "Feb 22 16:50:01 slave22 sudo:  alice : TTY=pts/2 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt",
    "Feb 22 16:51:12 slave22 sudo:  mallory : TTY=pts/3 ; PWD=/home/mallory ; USER=#-1 ; COMMAND=/bin/bash",
]


def _auth_log(tmp_path: Path) -> Path:
    """A real sshd log (brute force from 202.109.143.106, a slower source, a key login), then sudo."""
    lines = (DATA / "beats-secure-rhel7.log").read_text(encoding="utf-8").splitlines() + ESCALATION
    path = tmp_path / "auth.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _access_log(tmp_path: Path) -> Path:
    """A shop's visitors, a directory brute-forcer (70 paths, 404) and the sqlmap burst."""
    lines = []
    for i in range(20):
        lines.append(
            f'198.51.100.{i + 1} - - [03/Mar/2026:09:{i:02d}:00 +0000] "GET /products/{i} HTTP/1.1" 200 5120 '
            '"https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"'
        )
    for i in range(70):
        lines.append(
            f'192.0.2.50 - - [03/Mar/2026:09:30:{i % 60:02d} +0000] "GET /backup{i}.zip HTTP/1.1" 404 153 '
            '"-" "gobuster/3.6"'
        )
    lines += (DATA / "web-attacks.log").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _with(incidents: list[Incident], rule_id: str) -> list[Incident]:
    return [i for i in incidents if rule_id in i.rule_ids]


def test_brute_force_sudo_escalation_and_web_scan_become_incidents(
    settings: Settings, tmp_path: Path
) -> None:
    """Every line is normalised (no dead letter); the brute force, the sudo escalation and the web
    scan each open an incident naming the attacker; the slower source alone opens none."""
    files = {"linuxco": _auth_log(tmp_path), "webco": _access_log(tmp_path)}
    run = run_pipeline_once(
        settings, files, tmp_path / "checkpoints", parsers={"linuxco": "syslog", "webco": "access_log"}
    )
    lines = len(ESCALATION) + 123 + 20 + 70 + 9
    assert run.shipped == lines
    assert run.stages["normalise"].records == lines and run.stages["normalise"].dead_letters == 0

    responders = Responders(settings, check=False)
    try:
        linux = responders.triage().list("linuxco")
        web = responders.triage().list("webco")
    finally:
        responders.close()

    brute = _with(linux, "socpipe-heuristic-brute-force")
    [attacker] = [i for i in brute if i.entity.source_ip == "202.109.143.106"]
    assert attacker.entity.host == "slave22" and "T1110.001" in attacker.techniques
    # the other: the account root (10 failures over all sources), named by the source of its 10th
    others = [(i.entity.user, i.entity.host) for i in brute if i is not attacker]
    assert others == [("root", "slave22")], brute

    [cve] = _with(linux, SUDO_CVE)
    assert (cve.severity, cve.entity.user, cve.entity.host) == ("critical", "mallory", "slave22")
    assert _with(linux, ROOT_SHELL), "the root shell rule also opens an incident"
    assert not [i for i in linux if i.entity.user == "alice"], "ordinary sudo use opens nothing"

    scans = _with(web, "socpipe-heuristic-web-scanning")
    assert [i.entity.source_ip for i in scans] == ["192.0.2.50"]
    bursts = _with(web, "socpipe-heuristic-web-attack-burst")
    assert [i.entity.source_ip for i in bursts] == ["203.0.113.66"]
    assert not [i for i in web if (i.entity.source_ip or "").startswith("198.51.100.")], "visitors: nothing"
