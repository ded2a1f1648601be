"""Front as it behaves (PROVIDERS.md "Front"; dev.frontapp.com/docs/oauth).

One global authorization server (``app.frontapp.com``): the consent page is the
signed-in teammate's company, named here by its id (``cmp_k30``, what ``GET /me``
answers). HTTP Basic client authentication only ("MUST be authenticated with
Basic"), form bodies, no ``scope`` parameter (permissions live on the app). The
token answer carries ``access_token``, ``refresh_token``, ``token_type`` and an
absolute ``expires_at`` (epoch seconds), no ``expires_in``; access tokens live
1 hour; a refresh answers "the same, or new" refresh token: the same one until its
last 24 hours of 6 months, then a new one. Only company admins may authorize: a
teammate who is not one is sent back with the documented "You need to be an
administrator of your Front instance to authorize this request." (RFC 6749
§4.1.2.1; the code is not documented, ``access_denied`` here). The Core API at
``api2.frontapp.com`` answers ``/me`` (the token's company) and lists with
``_results`` / ``_pagination`` / ``_links``; errors are ``{"_error": {status, title,
message}}``. No revocation endpoint is documented for app tokens. PKCE S256 is
advertised by Front's authorization-server metadata, so a challenge binds the code.
"""

from __future__ import annotations

from typing import Any

from ..apitools import by_id, int_param
from ..profile import (
    AccessTokens,
    AdminOnlyConsent,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    Identity,
    Pkce,
    Profile,
    RateLimit,
    RefreshTokens,
    Scopes,
    TokenEndpoint,
)

DAY = 24 * 3600
#: "A refresh token will expire six months after it has been issued" (about 180 days).
REFRESH_LIFETIME = 180 * DAY
#: Front hands out a new refresh token once the old one is in its last 24 hours.
ROTATE_AFTER = REFRESH_LIFETIME - DAY
NON_ADMIN = "You need to be an administrator of your Front instance to authorize this request."

_TITLES = {400: "Bad request", 401: "Unauthenticated", 403: "Forbidden", 404: "Not found"}


def _error(error: ApiError) -> dict[str, Any]:
    title = _TITLES.get(error.status, error.code.replace("_", " ").capitalize())
    return {"_error": {"status": error.status, "title": title, "message": error.message}}


def _host(company: str) -> str:
    # Resource links use the company's own API host (dev.frontapp.com/docs/base-url).
    return f"https://{company.removeprefix('cmp_').replace('_', '-')}.api.frontapp.com"


def _me(company: str, user: dict[str, Any]) -> dict[str, Any]:
    """``GET /me``: the company the token belongs to."""
    return {
        "_links": {"self": f"{_host(company)}/me"},
        "id": company,
        "name": f"{company.removeprefix('cmp_').capitalize()} Inc.",
    }


def _conversations(company: str) -> list[dict[str, Any]]:
    host = _host(company)
    subjects = ("Order not received", "Refund request", "Login problem")
    return [
        {
            "_links": {"self": f"{host}/conversations/cnv_{n}"},
            "id": f"cnv_{n}",
            "subject": subject,
            "status": "unassigned" if n % 2 else "assigned",
            "created_at": 1_700_000_000 + n * 3600,
        }
        for n, subject in enumerate(subjects, start=1)
    ]


def _inboxes(company: str) -> list[dict[str, Any]]:
    host = _host(company)
    return [
        {"_links": {"self": f"{host}/inboxes/inb_{n}"}, "id": f"inb_{n}", "name": name}
        for n, name in enumerate(("Support", "Billing"), start=1)
    ]


def _list(ctx: ApiContext, resource: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Front's pagination: ``limit`` (1-100, default 50) and an opaque ``page_token``."""
    limit = int_param(ctx.query, "limit", 50, 1, 100)
    token = ctx.query.get("page_token", "0")
    if not token.isdigit() or int(token) > len(items):
        raise ApiError(400, "bad_request", "page_token is invalid", "page_token")
    start = int(token)
    host = _host(ctx.tenant)
    more = start + limit < len(items)
    return {
        "_pagination": {
            "next": f"{host}/{resource}?limit={limit}&page_token={start + limit}" if more else None
        },
        "_links": {"self": f"{host}/{resource}"},
        "_results": items[start : start + limit],
    }


PROFILE = Profile(
    key="front",
    title="Front",
    auth_servers={"global": AuthServer("oauth/authorize", "oauth/token")},
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_basic"}),
        field_order=("access_token", "refresh_token", "expires_at", "token_type"),
    ),
    access=AccessTokens(lifetime=3600, lifetime_field="expires_at"),
    refresh=RefreshTokens(
        issue="always",
        rotation="sometimes",
        rotate_after=ROTATE_AFTER,
        lifetime=REFRESH_LIFETIME,
    ),
    scopes=Scopes(separator=None),
    pkce=Pkce(mode="optional"),
    admin_consent=AdminOnlyConsent(error="access_denied", description=NON_ADMIN),
    identity=Identity("me", _me),
    api=Api(
        base="api/",
        routes=(
            ("conversations", lambda c: _list(c, "conversations", _conversations(c.tenant))),
            (
                r"conversations/(?P<id>cnv_[a-z0-9]+)",
                lambda c: by_id(_conversations(c.tenant), c.match["id"], "Conversation"),
            ),
            ("inboxes", lambda c: _list(c, "inboxes", _inboxes(c.tenant))),
        ),
        error_body=_error,
        unauthorized_body=lambda description: _error(ApiError(401, "unauthenticated", description)),
    ),
    # dev.frontapp.com/docs/rate-limiting: per company, per minute, by plan (Starter 50);
    # 429 with Retry-After and x-ratelimit-* headers.
    rate_limit=RateLimit(
        50,
        60.0,
        (("x-ratelimit-limit", "{limit}"), ("x-ratelimit-remaining", "{remaining}")),
        "https://dev.frontapp.com/docs/rate-limiting",
    ),
    rate_limited_body={
        "_error": {"status": 429, "title": "Too many requests", "message": "Rate limit exceeded"}
    },
)
