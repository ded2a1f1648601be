"""The HTTP side of OAuth: authorization URL, code exchange, refresh, revoke.

Every call has ``HTTP_TIMEOUT``, goes only to the provider's configured
endpoint for the tenant, authenticates the client the provider's way (HTTP
Basic or form body), and turns any failure into a typed
:class:`~django_helpdesk_oauth.exceptions.ProviderError` whose message holds no
token, secret or response body.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import InsecureTransportError, OAuth2Error
from requests_oauthlib import OAuth2Session

from . import transport
from .conf import app_settings
from .exceptions import ConfigurationError, InvalidClient, InvalidGrant, ProviderError
from .providers.base import Provider

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Credentials:
    """A client's credentials at a provider, for one tenant."""

    provider: Provider
    tenant: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never the secret
        return (
            f"<Credentials {self.provider.key} tenant={self.tenant!r} client_id={self.client_id!r}>"
        )


def require_secure(url: str) -> str:
    """HTTPS, except plain HTTP to a loopback host (the sandbox providers)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url
    raise ConfigurationError(
        f"Refusing to send OAuth credentials to a non-HTTPS URL ({parts.scheme}://{parts.hostname})."
    )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        from django.utils import timezone

        return max(0.0, (when - timezone.now()).total_seconds())


def raise_for_oauth_error(
    provider: Provider, response: requests.Response, what: str
) -> dict[str, Any]:
    """Return the JSON body of a successful response or raise the matching error."""
    status = response.status_code
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if 200 <= status < 300 and not error:
        if not isinstance(body, dict):
            raise ProviderError(
                f"{provider.name} {what}: the response is not a JSON object (HTTP {status}).",
                provider=provider.key,
                status=status,
            )
        return body
    code = error if isinstance(error, str) else ""
    # The OAuth error code is a short registered token; anything else is left out.
    code = code[:40] if code.replace("_", "").isalnum() else "invalid_response"
    message = f"{provider.name} {what} failed: HTTP {status}" + (f" {code}" if code else "")
    error_class: type[ProviderError] = ProviderError
    if status < 500 and status != 429:
        if code == "invalid_grant":
            error_class = InvalidGrant
        elif code in ("invalid_client", "unauthorized_client"):
            error_class = InvalidClient
    raise error_class(
        message,
        provider=provider.key,
        error=code,
        status=status,
        retry_after=_retry_after(response),
    )


class _Capture:
    """Compliance hook that checks a token response before oauthlib parses it.

    oauthlib would drop ``expires_in: 0`` and turn HTML error pages into vague
    errors; we keep the raw JSON and raise our typed errors instead.
    """

    def __init__(self, provider: Provider, what: str) -> None:
        self.provider = provider
        self.what = what
        self.raw: dict[str, Any] | None = None

    def __call__(self, response: requests.Response) -> requests.Response:
        self.raw = raise_for_oauth_error(self.provider, response, self.what)
        if not self.raw.get("access_token"):
            raise ProviderError(
                f"{self.provider.name} {self.what}: no access_token in the response.",
                provider=self.provider.key,
                status=response.status_code,
            )
        return response


def _network_error(provider: Provider, what: str, exc: Exception) -> ProviderError:
    kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
    return ProviderError(
        f"{provider.name} {what} {kind} ({type(exc).__name__}).", provider=provider.key
    )


def _session(creds: Credentials, what: str, **kwargs: Any) -> tuple[OAuth2Session, _Capture]:
    session = OAuth2Session(client_id=creds.client_id, **kwargs)
    # Credentials go to the configured endpoint only, never where a redirect points.
    session.max_redirects = 0
    capture = _Capture(creds.provider, what)
    session.register_compliance_hook("access_token_response", capture)
    session.register_compliance_hook("refresh_token_response", capture)
    return session, capture


def _auth_kwargs(creds: Credentials) -> dict[str, Any]:
    if creds.provider.client_auth == "basic":
        return {"auth": requests.auth.HTTPBasicAuth(creds.client_id, creds.client_secret)}
    return {"include_client_id": True, "client_secret": creds.client_secret}


def authorization_url(
    creds: Credentials,
    *,
    redirect_uri: str,
    scopes: list[str],
    state: str,
    extra: dict[str, str],
) -> str:
    """The provider's authorize URL with every parameter of the request."""
    url = require_secure(creds.provider.endpoint("authorize_url", creds.tenant))
    session = OAuth2Session(client_id=creds.client_id, redirect_uri=redirect_uri, scope=scopes)
    try:
        full_url, _state = session.authorization_url(url, state=state, **extra)
    except InsecureTransportError:
        raise ConfigurationError(_INSECURE) from None
    return full_url


_INSECURE = (
    "oauthlib refuses plain HTTP: add django_helpdesk_oauth.sandbox to INSTALLED_APPS "
    "(it allows loopback HTTP) or use HTTPS endpoints."
)


def _call(creds: Credentials, what: str, fn: Any, capture: _Capture) -> dict[str, Any]:
    try:
        fn()
    except ProviderError:
        raise
    except requests.RequestException as exc:
        raise _network_error(creds.provider, what, exc) from None
    except InsecureTransportError:
        raise ConfigurationError(_INSECURE) from None
    except (OAuth2Error, Warning, ValueError) as exc:
        raise ProviderError(
            f"{creds.provider.name} {what}: unusable response ({type(exc).__name__}).",
            provider=creds.provider.key,
        ) from None
    assert capture.raw is not None
    return capture.raw


def exchange_code(
    creds: Credentials, *, code: str, redirect_uri: str, code_verifier: str = ""
) -> dict[str, Any]:
    """Exchange an authorization code; return the raw token response."""
    url = require_secure(creds.provider.endpoint("token_url", creds.tenant))
    session, capture = _session(creds, "token exchange", redirect_uri=redirect_uri)
    extra = {"code_verifier": code_verifier} if code_verifier else {}

    def fetch() -> None:
        session.fetch_token(
            url, code=code, timeout=app_settings.HTTP_TIMEOUT, **_auth_kwargs(creds), **extra
        )

    return _call(creds, "token exchange", fetch, capture)


def refresh(creds: Credentials, *, refresh_token: str) -> dict[str, Any]:
    """Use ``refresh_token``; return the raw token response."""
    url = require_secure(creds.provider.endpoint("token_url", creds.tenant))
    session, capture = _session(creds, "token refresh")
    if creds.provider.client_auth == "basic":
        kwargs: dict[str, Any] = _auth_kwargs(creds)
    else:
        kwargs = {"client_id": creds.client_id, "client_secret": creds.client_secret}

    def fetch() -> None:
        session.refresh_token(
            url, refresh_token=refresh_token, timeout=app_settings.HTTP_TIMEOUT, **kwargs
        )

    return _call(creds, "token refresh", fetch, capture)


def revoke(
    creds: Credentials,
    *,
    token: str,
    token_type_hint: str = "refresh_token",  # noqa: S107  (a hint name, not a password)
) -> None:
    """Revoke ``token`` (RFC 7009). 200 means done; anything else raises."""
    url = require_secure(creds.provider.endpoint("revoke_url", creds.tenant))
    data = {"token": token, "token_type_hint": token_type_hint}
    auth = None
    if creds.provider.client_auth == "basic":
        auth = requests.auth.HTTPBasicAuth(creds.client_id, creds.client_secret)
    else:
        data.update(client_id=creds.client_id, client_secret=creds.client_secret)
    # Deadline, no redirects and the 1 MiB body bound come from the transport.
    response = transport.request(
        "POST", url, provider=creds.provider, what="revoke", data=data, auth=auth
    )
    if response.status_code != 200:
        # Raises for every non-2xx; a 2xx other than 200 is not a revocation either.
        raise_for_oauth_error(creds.provider, response, "revoke")
        raise ProviderError(
            f"{creds.provider.name} revoke failed: HTTP {response.status_code}",
            provider=creds.provider.key,
            status=response.status_code,
        )
