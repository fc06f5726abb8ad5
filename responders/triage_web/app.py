"""The triage web page: a Starlette app rendering Jinja2 templates on the server (no JavaScript).

Every state change goes through `Triage.act`, the code path of `socpipe incident ack|assign|escalate|
close`, with the signed-in analyst as the actor: the same history entry, evidence record and notices.
Each form carries the session's CSRF token, checked before anything is done. An analyst limited to some
tenants is answered 404 for another tenant's incident, exactly as for one that does not exist.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from elastic_transport import ConnectionError as EsConnectionError
from elastic_transport import ConnectionTimeout
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from responders.kibana import timeline_url
from responders.restricted import provider_details
from responders.triage import Triage, TriageError
from responders.triage_web.auth import Analyst, LoginError, read_token, spend_token
from schemas.common import Severity
from schemas.incident import Incident, Verdict

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_S = 12 * 3600
# What the page offers; `Triage` decides whether the action applies (closing a closed incident, say).
ACTIONS = ("acknowledge", "assign", "escalate", "close")
WINDOW = timedelta(hours=1)  # the timelines show this much before the first and after the last detection


class ActionForm(BaseModel):
    """What an action's form posts: the CSRF token, and the action's own fields (empty means none)."""

    model_config = ConfigDict(extra="ignore")

    csrf: str = ""
    reason: str | None = None
    assignee: str | None = None
    verdict: Verdict | None = None
    severity: Severity | None = None

    @field_validator("reason", "assignee", "verdict", "severity", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


def _analyst(request: Request) -> Analyst | None:
    raw = request.session.get("analyst")
    return Analyst.model_validate(raw) if raw else None


def _signed_in(request: Request) -> Analyst:
    analyst = _analyst(request)
    if analyst is None:
        raise HTTPException(401, "sign in with a login link: `socpipe triage login-link --analyst NAME`")
    return analyst


def _check_csrf(request: Request, sent: str) -> None:
    expected = request.session.get("csrf", "")
    if not expected or not secrets.compare_digest(expected, sent):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page and try again")


class TriageApp:
    """The routes, over one Triage (one Elasticsearch client) shared by all requests."""

    def __init__(self, triage: Triage, secret: str, *, kibana_url: str) -> None:
        self.triage = triage
        self.secret = secret
        self.kibana_url = kibana_url
        env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self.templates = Jinja2Templates(env=env)

    def _page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context |= {"analyst": _analyst(request), "csrf": request.session.get("csrf", "")}
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def _find(self, analyst: Analyst, incident_id: str) -> Incident:
        """The incident, if this analyst may see it; 404 otherwise (as if it did not exist)."""
        for tenant in analyst.tenants or (None,):
            try:
                return self.triage.find(incident_id, tenant).incident
            except TriageError:
                continue
        raise HTTPException(404, f"no incident {incident_id} among the tenants you may see")

    def incidents(self, request: Request) -> Response:
        analyst = _signed_in(request)
        tenant = request.query_params.get("tenant") or None
        if tenant and not analyst.may_see(tenant):
            raise HTTPException(404, f"no tenant {tenant} among the tenants you may see")
        found: list[Incident] = []
        for one in [tenant] if tenant else list(analyst.tenants or (None,)):
            found += self.triage.list(one, status=["open", "acknowledged"], size=200)
        found.sort(key=lambda i: (-i.severity.rank, -i.last_seen.timestamp()))
        return self._page(request, "list.html", incidents=found, tenant=tenant)

    def incident(self, request: Request) -> Response:
        analyst = _signed_in(request)
        incident = self._find(analyst, request.path_params["incident_id"])
        detections = self.triage.detections(incident)
        # The analysts are the provider's (a login is limited to tenants, never a client's own): the
        # restricted detections whole, beside their client view in `detections`.
        restricted = [provider_details(d) for d in self.triage.restricted(incident)]
        for d in detections:
            event = (d.get("detection") or {}).get("event")
            d["event_json"] = orjson.dumps(event, option=orjson.OPT_INDENT_2).decode() if event else None
        start, end = incident.first_seen - WINDOW, incident.last_seen + WINDOW
        timelines = {
            f"{label} {value}": timeline_url(self.kibana_url, field, value, start, end)
            for label, field, value in (
                ("host", "host.name", incident.entity.host),
                ("user", "user.name", incident.entity.user),
            )
            if value
        }
        return self._page(
            request,
            "incident.html",
            incident=incident,
            detections=detections,
            restricted=restricted,
            timelines=timelines,
            actions=ACTIONS,
            severities=[s.value for s in Severity if s.rank > incident.severity.rank],
            verdicts=[v.value for v in Verdict],
            done=request.query_params.get("done"),
            error=None,
        )

    async def act(self, request: Request) -> Response:
        analyst = _signed_in(request)
        form = dict(await request.form())
        try:
            fields = ActionForm.model_validate(form)
        except ValidationError as exc:
            raise HTTPException(400, f"bad form: {exc.errors()[0]['msg']}") from None
        _check_csrf(request, fields.csrf)
        action = request.path_params["action"]
        if action not in ACTIONS:
            raise HTTPException(404, f"no action {action}")
        incident = self._find(analyst, request.path_params["incident_id"])
        try:
            self.triage.act(
                incident.id,
                action,
                analyst.name,
                tenant=incident.tenant,
                reason=fields.reason,
                **{
                    k: v
                    for k, v in (
                        ("assignee", fields.assignee),
                        ("verdict", fields.verdict),
                        ("severity", fields.severity),
                    )
                    if v is not None
                },
            )
        except TriageError as exc:
            return self._page(request, "error.html", 409, message=str(exc), incident=incident)
        return RedirectResponse(f"/incidents/{incident.id}?done={action}", status_code=303)

    def login_form(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        try:
            found = read_token(self.secret, token)
        except LoginError as exc:
            return self._page(request, "error.html", 403, message=str(exc), incident=None)
        return self._page(request, "login.html", token=token, who=found.analyst)

    async def login(self, request: Request) -> Response:
        token = str((await request.form()).get("token", ""))
        try:
            analyst = spend_token(self.triage.es, self.triage.settings, self.secret, token)
        except LoginError as exc:
            return self._page(request, "error.html", 403, message=str(exc), incident=None)
        request.session.clear()
        request.session.update(analyst=analyst.model_dump(mode="json"), csrf=secrets.token_urlsafe(32))
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        _check_csrf(request, str((await request.form()).get("csrf", "")))
        request.session.clear()
        return self._page(request, "error.html", 200, message="signed out", incident=None)

    def error(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            status, message = exc.status_code, exc.detail
        else:  # Elasticsearch unreachable: say so, the server keeps running and serves when it is back
            status, message = 503, "Elasticsearch did not answer; try again in a moment"
        return self._page(request, "error.html", status, message=message, incident=None)


def create_app(triage: Triage, secret: str, *, kibana_url: str, https_only: bool = False) -> Starlette:
    """The ASGI app: routes, the signed session cookie, error pages."""
    web = TriageApp(triage, secret, kibana_url=kibana_url)
    routes = [
        Route("/", web.incidents),
        Route("/incidents/{incident_id}", web.incident),
        Route("/incidents/{incident_id}/{action}", web.act, methods=["POST"]),
        Route("/login", web.login_form),
        Route("/login", web.login, methods=["POST"]),
        Route("/logout", web.logout, methods=["POST"]),
    ]
    session = Middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="socpipe_triage",
        max_age=SESSION_S,
        same_site="lax",  # lax: the link from Kibana (a top-level GET) arrives signed in,
        https_only=https_only,
    )
    handlers: dict[Any, Any] = {
        HTTPException: web.error,
        EsConnectionError: web.error,
        ConnectionTimeout: web.error,
    }
    return Starlette(routes=routes, middleware=[session], exception_handlers=handlers)
