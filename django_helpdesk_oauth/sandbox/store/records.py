"""The records the sandbox keeps: clients, apps, codes, tokens, faults, reshapes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe string, used for codes, tokens, client ids and secrets."""
    return secrets.token_urlsafe(nbytes)


@dataclass
class SandboxClient:
    """An OAuth client (app) the sandbox provider knows.

    ``redirect_uris`` empty means any http(s) redirect URI is accepted.
    ``client_secret`` is ``None`` for a Kustomer private app whose secret was
    not generated yet: token requests fail with ``invalid_client``.
    ``org`` restricts a private app to the org that registered it.
    """

    provider: str
    client_id: str
    client_secret: str | None = field(repr=False)
    title: str = "Sandbox App"
    redirect_uris: tuple[str, ...] = ()
    org: str | None = None


@dataclass
class KustomerApp:
    """A private app registered through the Kustomer apps API."""

    app: str
    name: str  # namespaced: "<app>_<orgId>"
    version: str
    title: str
    visibility: str
    org: str
    org_id: str
    client_id: str

    def as_json(self, client_secret: str | None = None) -> dict[str, Any]:
        """The apps API's ``available_app`` document (shape of the seed's responses)."""
        attributes: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "auth": {},
            "version": self.version,
            "visibility": self.visibility,
            "redirectUris": [],
            "clientId": self.client_id,
        }
        if client_secret is not None:
            attributes["clientSecret"] = client_secret
        return {
            "data": {
                "type": "available_app",
                "id": f"{self.name}-{self.version}",
                "attributes": attributes,
            }
        }


@dataclass
class AuthorizationCode:
    """An issued authorization code and everything it is bound to."""

    code: str = field(repr=False)
    provider: str
    client_id: str
    redirect_uri: str
    tenant: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issuer: str
    expires_at: float
    used: bool = False
    # Tokens issued on first use, revoked if the code is replayed (RFC 6749 §4.1.2).
    issued_tokens: list[str] = field(default_factory=list, repr=False)


@dataclass
class IssuedToken:
    """An access or refresh token.

    ``expires_at`` is ``None`` for tokens that never expire. ``spent`` marks a
    rotated refresh token; ``revoked`` a revoked one. ``family`` groups every
    token descending from one authorization code.
    """

    token: str = field(repr=False)
    kind: str  # "access" or "refresh"
    provider: str
    client_id: str
    tenant: str
    scope: str
    issued_at: float
    expires_at: float | None
    family: str
    revoked: bool = False
    spent: bool = False

    def usable(self, now: float) -> bool:
        """Not revoked, not spent, not expired at ``now``."""
        if self.revoked or self.spent:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass
class Fault:
    """A queued fault; see :meth:`SandboxState.inject`."""

    endpoint: str
    status: int | None
    headers: dict[str, str]
    body: Any
    delay: float
    times: int
    provider: str | None = None
    tenant: str | None = None
    #: Seconds between the bytes of the answer's body (0: sent at once).
    drip: float = 0.0
    #: Body bytes of the last dripped answer handed to the server so far, and its length.
    sent: int = 0
    length: int = 0

    def matches(self, endpoint: str, provider: str | None, tenant: str | None) -> bool:
        """Whether this fault applies to a request on ``endpoint``."""
        return (
            self.endpoint in (endpoint, "*")
            and self.provider in (None, provider)
            and self.tenant in (None, tenant)
        )


@dataclass
class TokenReshape:
    """A queued change of successful token answers; see
    :meth:`SandboxState.reshape_token_response`."""

    reshape: Callable[[dict[str, Any]], Any] | dict[str, Any]
    times: int
    provider: str | None = None

    def apply(self, body: dict[str, Any]) -> Any:
        """The answer to send instead of ``body``."""
        if callable(self.reshape):
            return self.reshape(dict(body))
        return {**body, **self.reshape}
