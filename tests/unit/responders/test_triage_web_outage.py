"""The triage page with Elasticsearch down: a page saying so (503), never a traceback, and the server
keeps serving (a request, not the process, fails)."""

from __future__ import annotations

from starlette.testclient import TestClient

from responders.triage_web.app import create_app
from responders.triage_web.auth import Analyst, login_token
from responders.worker import Responders
from socpipe.settings import load_settings

SECRET = "outage-test-secret-0123456789"


def test_elasticsearch_down_is_a_503_page() -> None:
    """Signing in (which records the link's nonce) with Elasticsearch at a closed port: 503 and one
    sentence; a login link that is wrong is still refused for what it is (403)."""
    settings = load_settings(elasticsearch_url="http://127.0.0.1:1")
    responders = Responders(settings, check=False)
    try:
        app = create_app(responders.triage(), SECRET, kibana_url="http://kibana.example")
        with TestClient(app, follow_redirects=False) as client:
            token = login_token(SECRET, Analyst(name="ann"), 60)
            down = client.post("/login", data={"token": token})
            assert down.status_code == 503
            assert "Elasticsearch did not answer" in down.text and "Traceback" not in down.text
            assert client.post("/login", data={"token": "nonsense"}).status_code == 403
    finally:
        responders.close()
