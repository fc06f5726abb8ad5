"""Who an analyst is: one-time login links, signed with the triage secret, and the session they open.

`socpipe triage login-link --analyst ann --tenants red,blue` signs (itsdangerous) the analyst's name, the
tenants they may see (none named: every tenant), an expiry and a random nonce into a URL. Opening it shows
a confirmation page; confirming (a POST, so that a link previewer fetching the URL does not spend it)
records the nonce in Elasticsearch with op_type=create, so each link opens one session only, across
restarts and replicas of the server, and starts a session: a cookie signed by Starlette's
SessionMiddleware (itsdangerous again) holding the analyst, their tenants and a CSRF token.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from elasticsearch import ConflictError, Elasticsearch
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, ConfigDict, Field

from schemas.common import TenantId, utc_now
from socpipe.es import tenant_indices
from socpipe.settings import Settings

_SALT = "socpipe-triage-login"


class Analyst(BaseModel):
    """A signed-in analyst: the name every action records as its actor, and the tenants they may see."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    tenants: tuple[TenantId, ...] | None = Field(default=None, description="None: every tenant.")

    def may_see(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants


class LoginToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    analyst: Analyst
    expires: float
    nonce: str


class LoginError(ValueError):
    """The link is forged, expired or used already: the analyst asks for a new one."""


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT)


def login_token(secret: str, analyst: Analyst, valid_s: float) -> str:
    token = LoginToken(analyst=analyst, expires=time.time() + valid_s, nonce=secrets.token_urlsafe(16))
    return str(_serializer(secret).dumps(token.model_dump(mode="json")))


def read_token(secret: str, token: str) -> LoginToken:
    """The token's content, if it is signed with the secret and not expired (used or not)."""
    try:
        found = LoginToken.model_validate(_serializer(secret).loads(token))
    except (BadSignature, ValueError):
        raise LoginError("this login link is not valid: ask for a new one") from None
    if found.expires < time.time():
        raise LoginError("this login link has expired: ask for a new one")
    return found


def spend_token(es: Elasticsearch, settings: Settings, secret: str, token: str) -> Analyst:
    """Check the token and record its nonce; a second use is refused."""
    found = read_token(secret, token)
    # `-state-_triage`: the state template's index, under a name no tenant can have (ids never start with _).
    index = tenant_indices(settings, "_triage").state
    document: dict[str, Any] = {
        "kind": "triage_login",
        "analyst": found.analyst.name,
        "used_at": utc_now().isoformat(),
    }
    try:
        es.index(index=index, id=f"login-{found.nonce}", document=document, op_type="create")
    except ConflictError:
        raise LoginError("this login link was used already: ask for a new one") from None
    return found.analyst
