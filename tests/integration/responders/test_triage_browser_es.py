"""The triage page in a real browser: Debian's headless Chromium, driven by Selenium through Debian's
chromedriver (built from the same source package, so the two always match), against a real
`socpipe triage serve` process on real Elasticsearch.

An analyst opens a login link, signs in, opens an incident from the list, acknowledges and closes it;
the tenant's evidence chain records both with the analyst as actor, and verifies. Screenshots of the
list and the incident page are saved with the test's files; with SOCPIPE_UPDATE_SCREENSHOTS=1 they
also replace docs/triage-list.png and docs/triage-incident.png.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from responder_helpers import _free_port, detection, inbound, sources
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from cli.main import cli
from responders.evidence.audit import verify_live
from responders.worker import Responders
from socpipe.paths import REPO_DIR
from socpipe.settings import Settings

pytestmark = pytest.mark.elasticsearch

SECRET = "browser-test-secret-0123456789abcdef"


def _listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "triage serve did not listen within 30 s"
            time.sleep(0.1)


@pytest.fixture
def server(rsettings: Settings) -> Iterator[tuple[str, Callable[[], None]]]:
    """`socpipe triage serve` on a free port with the test's settings, starting while the rest of the
    test is set up: its base URL, and a call that waits until it listens."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ELASTICSEARCH_URL": rsettings.elasticsearch_url,
        "SOCPIPE_INDEX_PREFIX": rsettings.index_prefix,
        "SOCPIPE_TENANTS_FILE": str(rsettings.tenants_file),
        "SOCPIPE_SMTP_PORT": str(rsettings.smtp_port),
        "SOCPIPE_NOTICE_BACKOFF_S": "0.05",
        "SOCPIPE_TRIAGE_SECRET": SECRET,
        "SOCPIPE_TRIAGE_URL": base,
    }
    socpipe = Path(sys.executable).parent / "socpipe"
    process = subprocess.Popen(
        [str(socpipe), "triage", "serve", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield base, lambda: _listening(port, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> None:
    """Full-page PNG (Chromium's own capture beyond the viewport) into the test's folder, and docs/
    when asked to update them."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path = tmp_path / name
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SOCPIPE_UPDATE_SCREENSHOTS") == "1":
        (REPO_DIR / "docs").mkdir(exist_ok=True)
        shutil.copyfile(path, REPO_DIR / "docs" / name)


def test_an_analyst_acknowledges_and_closes_in_the_browser_and_the_chain_records_it(
    server: tuple[str, Callable[[], None]],
    browser: webdriver.Chrome,
    responders: Responders,
    es: Elasticsearch,
    rsettings: Settings,
    tmp_path: Path,
) -> None:
    """Sign in with a link from `socpipe triage login-link`, open red's incident from the list,
    acknowledge it, close it as a true positive: two triage_action evidence records with the analyst as
    actor, and the chain verifies."""
    responders.stage().process(
        inbound(
            [
                detection(1, host="ws-17", user="alice"),
                detection(2, host="ws-17", user="alice"),
                detection(3, rule="rule-b", level="critical", host="dc-01", user="svc-backup"),
                detection(4, "blue", level="medium"),
            ]
        )
    )
    base, listening = server
    listening()
    made = CliRunner().invoke(
        cli,
        ["triage", "login-link", "--analyst", "ann", "--tenants", "red"],
        env={
            "SOCPIPE_TRIAGE_SECRET": SECRET,
            "SOCPIPE_TRIAGE_URL": base,
            "SOCPIPE_TENANTS_FILE": str(rsettings.tenants_file),
        },
    )
    assert made.exit_code == 0, made.output
    link = made.stdout.strip()
    assert link.startswith(f"{base}/login?token=")
    browser.get(link)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#incidents tr")
    assert len(rows) == 3  # the header and red's two incidents; blue's is not red's analyst's
    _screenshot(browser, tmp_path, "triage-list.png")

    browser.find_element(By.LINK_TEXT, "Rule rule-a on ws-17").click()
    incident_url = browser.current_url
    browser.find_element(By.CSS_SELECTOR, "#form-acknowledge input[name=reason]").send_keys("on it")
    browser.find_element(By.CSS_SELECTOR, "#form-acknowledge button").click()
    assert "acknowledge: recorded as evidence" in browser.find_element(By.ID, "done").text
    assert browser.find_element(By.ID, "status").text == "acknowledged"
    _screenshot(browser, tmp_path, "triage-incident.png")

    Select(browser.find_element(By.CSS_SELECTOR, "#form-close select[name=verdict]")).select_by_value(
        "true_positive"
    )
    browser.find_element(By.CSS_SELECTOR, "#form-close input[name=reason]").send_keys("contained")
    browser.find_element(By.CSS_SELECTOR, "#form-close button").click()
    assert browser.current_url == f"{incident_url}?done=close"
    assert browser.find_element(By.ID, "status").text == "closed (true_positive)"
    history = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#history tr")][1:]
    assert [h.split()[3:5] for h in history] == [["ann", "acknowledge"], ["ann", "close"]]

    evidence = sorted(
        (s["evidence"] for s in sources(es, rsettings, "evidence", "red")), key=lambda e: e["sequence"]
    )
    triage = [
        (e["details"]["action"], e["details"]["actor"])
        for e in evidence
        if e["record_type"] == "triage_action"
    ]
    assert triage == [("acknowledge", "ann"), ("close", "ann")]
    assert any(e["record_type"] == "incident_closed" for e in evidence)
    assert verify_live(es, rsettings, "red").ok
