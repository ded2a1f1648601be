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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from . import transport
from .exceptions import ConfigurationError, InvalidClient, InvalidGrant, ProviderError
from .providers.base import Provider
from .token_response import TokenResponse, decode_body, header_safe, parse_token_response

# Defined in transport (which must not import this module); still importable from here.
from .transport import LOOPBACK_HOSTS as LOOPBACK_HOSTS
from .transport import require_secure as require_secure

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credentials:
    """A client's credentials at a provider, for one tenant."""

    provider: Provider
    tenant: str
    client_id: str
    client_secret: str
    #: The installation's (or pending request's) ``connection_config``: its region's hosts.
    connection_config: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the secret
        return (
            f"<Credentials {self.provider.key} tenant={self.tenant!r} client_id={self.client_id!r}>"
        )


def _retry_after(response: requests.Response) -> float | None:
    """The response's ``Retry-After`` in seconds from now (0 to ``MAX_RETRY_AFTER``), or
    ``None`` when absent or unusable; never raises (any HTTP-date form, USE_TZ on or off)."""
    from .timeutil import retry_after_seconds

    return retry_after_seconds(response.headers.get("Retry-After"))


@sensitive_variables()
def raise_for_oauth_error(
    provider: Provider, response: requests.Response, what: str
) -> dict[str, Any]:
    """Return the JSON body of a successful response or raise the matching error.

    :class:`InvalidGrant` / :class:`InvalidClient` only for a 3xx/4xx (other than
    429) naming that code: a 2xx carrying ``error`` raises a plain
    :class:`ProviderError` (whatever it says, the provider did answer with success).
    """
    status = response.status_code
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if error is None and not 200 <= status < 300:
        # No RFC 6749 ``error``: the provider's own member may name it (HubSpot v1's
        # ``status: BAD_REFRESH_TOKEN``), mapped by its declared error_code_aliases.
        error = provider.aliased_error_code(body)
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
    if 300 <= status < 500 and status != 429:
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


def _auth_kwargs(creds: Credentials) -> dict[str, Any]:
    """The client authentication for a token request (RFC 7591 names, normalized by the
    provider class): ``client_secret_basic``, or ``client_secret_post`` (in the body)."""
    if creds.provider.client_auth == "client_secret_basic":
        return {"auth": requests.auth.HTTPBasicAuth(creds.client_id, creds.client_secret)}
    return {"body": {"client_id": creds.client_id, "client_secret": creds.client_secret}}


@sensitive_variables()
def authorization_url(
    creds: Credentials,
    *,
    redirect_uri: str,
    scopes: list[str],
    state: str,
    extra: dict[str, str],
) -> str:
    """The provider's authorize URL with every parameter of the request, less the
    standard ones the provider declares it does not take (``authorize_omits``)."""
    provider = creds.provider
    url = require_secure(provider.endpoint("authorize_url", creds.tenant, creds.connection_config))
    # Joined with the provider's declared separator (Zoho: a comma); none: no scope at all.
    scope = provider.scope_delimiter.join(scopes if provider.scopes_supported else [])
    omits = provider.authorize_omits
    session = OAuth2Session(
        client_id=creds.client_id,
        redirect_uri=None if "redirect_uri" in omits else redirect_uri,
        scope=scope,
    )
    built, _state = session.authorization_url(_as_https(url), state=state, **extra)
    # The scheme require_secure accepted (http only for loopback), back in place.
    full_url = urlunsplit(urlsplit(built)._replace(scheme=urlsplit(url).scheme))
    if "response_type" in omits:
        # oauthlib always adds it; Help Scout's URL takes client_id and state only.
        parts = urlsplit(full_url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        kept = [(k, v) for k, v in query if k != "response_type"]
        full_url = urlunsplit(parts._replace(query=urlencode(kept)))
    return full_url


def _as_https(url: str) -> str:
    """``url`` with an ``https`` scheme, for oauthlib only.

    oauthlib refuses plain HTTP unless ``OAUTHLIB_INSECURE_TRANSPORT`` is set, which
    would lift the check for every OAuth client in the process. ``url`` has passed
    :func:`require_secure` (HTTPS, or HTTP to loopback: the sandbox providers), so
    oauthlib builds the query on an HTTPS copy and the caller puts the scheme back;
    oauthlib only appends parameters, it never changes scheme, host or path.
    """
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="https")) if parts.scheme == "http" else url


#: Headers of a token request (what requests-oauthlib sends).
_TOKEN_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


@sensitive_variables()
def _encode(
    provider: Provider, body: str, static: Mapping[str, str | int] | None = None
) -> tuple[bytes, dict[str, str]]:
    """The token request's bytes and headers in the provider's declared format: the
    form oauthlib built as is, or (``token_request_format = "json"``) the same fields
    as one JSON object, where a declared ``int`` parameter of ``static`` (the
    provider's ``token_params`` / ``refresh_params``) stays a JSON number."""
    if provider.token_request_format == "json":
        fields: dict[str, str | int] = dict(parse_qsl(body, keep_blank_values=True))
        for name, value in (static or {}).items():
            if isinstance(value, int) and fields.get(name) == str(value):
                fields[name] = value  # Zendesk's expires_in is a JSON integer
        return json.dumps(fields).encode("utf-8"), _JSON_TOKEN_HEADERS
    return body.encode("utf-8"), _TOKEN_HEADERS


#: Headers of a JSON token request.
_JSON_TOKEN_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def _call(
    creds: Credentials,
    what: str,
    body: str,
    auth: Any,
    deadline: float | None,
    static: Mapping[str, str | int] | None = None,
) -> TokenResponse:
    """POST a token request and read a 2xx answer with our parser (never oauthlib's).

    Sent through :func:`.transport.request`: whole-call deadline, no redirects,
    body read up to 1 MiB. A non-2xx answer raises the matching
    :class:`ProviderError`; every 2xx (also one whose JSON carries an ``error``)
    is returned parsed, usable or not, so the caller can keep a rotated refresh
    token from it.
    """
    url = require_secure(
        creds.provider.endpoint("token_url", creds.tenant, creds.connection_config)
    )
    data, headers = _encode(creds.provider, body, static)
    response = transport.request(
        "POST",
        url,
        provider=creds.provider,
        what=what,
        deadline=deadline,
        data=data,
        headers=headers,
        auth=auth,
    )
    status = response.status_code
    if 300 <= status < 400:
        # Not followed: credentials go to the configured endpoint only. Transient (no
        # status), as when a redirect ended the call before: the endpoint may be back.
        raise ProviderError(
            f"{creds.provider.name} {what}: the token endpoint answered a redirect "
            f"(HTTP {status}); not followed.",
            provider=creds.provider.key,
        )
    if not 200 <= status < 300:
        raise_for_oauth_error(creds.provider, response, what)
    # Every 2xx goes to our parser, even one carrying "error" (then unusable, never
    # InvalidGrant): the provider may have rotated the refresh token in this step.
    return parse_token_response(creds.provider, decode_body(response.content), now=timezone.now())


@sensitive_variables()
def exchange_code(
    creds: Credentials,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str = "",
    deadline: float | None = None,
) -> TokenResponse:
    """Exchange an authorization code (with the PKCE ``code_verifier`` when given).

    Returns the parsed 2xx answer, a :class:`~.token_response.TokenResponse`, which
    may be unusable (``.problem``) yet hold a refresh token. ``deadline`` is a
    :func:`time.monotonic` value bounding the whole call (default ``HTTP_TIMEOUT``
    seconds from now). Raises :class:`ProviderError` (:class:`InvalidGrant`,
    :class:`InvalidClient`, ``ResponseTooLarge``, network errors and the deadline
    with ``status=None``) or :class:`ConfigurationError` for a non-HTTPS endpoint.
    """
    auth = _auth_kwargs(creds)
    body = WebApplicationClient(creds.client_id).prepare_request_body(
        code=code,
        # Sent only if the authorization request carried it (RFC 6749 §4.1.3).
        redirect_uri=None if "redirect_uri" in creds.provider.authorize_omits else redirect_uri,
        # With Basic the client id travels in the header only (RFC 6749 §2.3.1).
        include_client_id="body" in auth,
        code_verifier=code_verifier or None,
        **({"client_secret": creds.client_secret} if "body" in auth else {}),
        **creds.provider.token_params,
    )
    return _call(
        creds, "token exchange", body, auth.get("auth"), deadline, creds.provider.token_params
    )


@sensitive_variables()
def refresh(
    creds: Credentials, *, refresh_token: str, deadline: float | None = None
) -> TokenResponse:
    """Use ``refresh_token``; return the parsed 2xx answer (see :func:`exchange_code`).

    Same errors and ``deadline`` as :func:`exchange_code`.
    """
    auth = _auth_kwargs(creds)
    # No scope: oauthlib adds none (the grant keeps its scopes, RFC 6749 §6).
    body = WebApplicationClient(creds.client_id).prepare_refresh_body(
        refresh_token=refresh_token, **auth.get("body", {}), **creds.provider.refresh_params
    )
    return _call(
        creds, "token refresh", body, auth.get("auth"), deadline, creds.provider.refresh_params
    )


@sensitive_variables()
def revoke(
    creds: Credentials,
    *,
    token: str,
    token_type_hint: str = "refresh_token",  # noqa: S107  (a hint name, not a password)
) -> None:
    """Revoke ``token`` the provider's declared way (:attr:`.Provider.revocation`).

    ``token_type_hint`` says which token ``token`` is (``"refresh_token"`` or
    ``"access_token"``; RFC 7009's hint, sent as such by that style). Any 2xx means
    done; anything else raises. RFC 7009 §2.2 says 200, but servers answer 204 (no
    body) or 202 too: each says the request was accepted, and sending the token
    again could not do better. A 3xx is not followed (the token and the client
    secret go to the configured endpoint only) and is transient
    (:class:`ProviderError` with ``status=None``, retried with backoff, like a moved
    token endpoint); a 4xx other than 429 is permanent (also a 401 to a bearer
    revocation: the token is dead already), a 5xx/429/network error transient.

    Raises :class:`ConfigurationError` when the provider has no revocation, and a
    permanent :class:`ProviderError` when ``token`` is not the kind its strategy
    takes (a revocation queued before the strategy changed: retrying cannot help).
    A ``{token}`` URL appears in no message and no log of ours.
    """
    provider = creds.provider
    strategy = provider.revocation
    if strategy.style == "none":
        raise ConfigurationError(f"The {provider.name} provider has no revocation.")
    if token_type_hint != strategy.token:
        raise ProviderError(
            f"{provider.name} revoke: a {token_type_hint} was queued but the provider "
            f"revokes with the {strategy.token}; abandoned.",
            provider=provider.key,
            error="token_kind_mismatch",
            status=400,
        )
    url = require_secure(provider.endpoint("revoke_url", creds.tenant, creds.connection_config))
    data: dict[str, str] | None = None
    headers: dict[str, str] = {}
    auth = None
    if strategy.style != "rfc7009":
        headers["Accept"] = "application/json"
    if strategy.style == "rfc7009":
        data = {"token": token, "token_type_hint": token_type_hint}
        if provider.client_auth == "client_secret_basic":
            auth = requests.auth.HTTPBasicAuth(creds.client_id, creds.client_secret)
        else:
            data.update(client_id=creds.client_id, client_secret=creds.client_secret)
    elif strategy.style == "bearer":
        if not header_safe(token):
            raise ProviderError(
                f"{provider.name} revoke: the stored access token cannot be sent in a "
                "header; abandoned.",
                provider=provider.key,
                error="unusable_token",
                status=400,
            )
        headers["Authorization"] = f"{provider.api_auth_scheme} {token}"
    else:  # token_in_url (HubSpot v1): the only case where a token is in a URL we build
        if "{token}" not in url:
            raise ConfigurationError(
                f"The {provider.name} revoke_url has no {{token}} for its token-in-URL revocation."
            )
        url = url.replace("{token}", quote(token, safe=""))
    # Deadline, no redirects and the 1 MiB body bound come from the transport.
    # transport.request puts no URL in its messages; urllib3's debug lines are dropped
    # (logredact), so a {token} URL is never logged.
    response = transport.request(
        strategy.method,
        url,
        provider=provider,
        what="revoke",
        data=data,
        headers=headers,
        auth=auth,
    )
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        # No status on the error: transient, so the revocation is retried, never
        # abandoned while the token is still live (the endpoint may be back).
        raise ProviderError(
            f"{creds.provider.name} revoke: the endpoint answered a redirect "
            f"(HTTP {status}); not followed.",
            provider=creds.provider.key,
        )
    raise_for_oauth_error(creds.provider, response, "revoke")
    raise ProviderError(  # not reached: raise_for_oauth_error raises for a non-2xx
        f"{creds.provider.name} revoke failed: HTTP {status}",
        provider=creds.provider.key,
        status=status,
    )
