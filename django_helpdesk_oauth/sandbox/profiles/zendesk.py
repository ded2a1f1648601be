"""Zendesk as it behaves (PROVIDERS.md "Zendesk"; developer.zendesk.com).

One authorization server per subdomain (``{sub}.zendesk.com/oauth/authorizations/new``
and ``/oauth/tokens``, here ``zendesk/{sub}/…``). The token endpoint takes
``client_id``/``client_secret`` in the body, as JSON (the documented format) or a
form. Access tokens are RS256 JWTs living 1800 seconds by default; the answer states
no lifetime unless the request sends ``expires_in`` (an integer, more than 300 and
less than 172800 seconds), then it states that one [Z1][N-PR][Z3]. Every refresh
returns a new refresh token and deletes the previous access and refresh token [Z1];
refresh tokens live 30 days by default [Z2]. PKCE S256 is optional for confidential
clients [Z3][Z10]. ``DELETE /api/v2/oauth/tokens/current.json`` with the access token
deletes the token record (both tokens) and answers 204 [Z5]. The Support API at
``/api/v2/``: ``users/me.json``, ``tickets.json`` (offset pagination), ``tickets/{id}.json``;
errors are ``{"error": …, "description": …}``, a 401 ``{"error": "Couldn't
authenticate you"}``. Rate limit: 200 requests per minute per account (the Team plan).
"""

from __future__ import annotations

from typing import Any

from ..apitools import int_param
from ..profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    Pkce,
    Profile,
    RateLimit,
    RefreshTokens,
    Revocation,
    TokenEndpoint,
)

#: Scopes that let a token read tickets (``read`` covers every GET endpoint).
TICKET_READ_SCOPES = ("read", "tickets:read")
USER_READ_SCOPES = ("read", "users:read")


def _error(error: ApiError) -> dict[str, Any]:
    # Zendesk: {"error": "RecordNotFound", "description": "Not found"}; validation
    # errors add "details" per field.
    body: dict[str, Any] = {"error": error.code, "description": error.message}
    if error.field:
        body["details"] = {error.field: [{"description": error.message}]}
    return body


def _unauthorized(description: str) -> dict[str, Any]:
    return {"error": "Couldn't authenticate you"}


def _require(ctx: ApiContext, scopes: tuple[str, ...]) -> None:
    if not set(scopes) & set(ctx.token.scope.split()):
        raise ApiError(403, "Forbidden", "You do not have access to this page.")


def _tickets_of(tenant: str) -> list[dict[str, Any]]:
    return [
        {
            "id": number,
            "url": f"https://{tenant}.zendesk.com/api/v2/tickets/{number}.json",
            "subject": f"Ticket {number} of {tenant}",
            "status": ("new", "open", "pending", "solved")[number % 4],
            "requester_id": 1000 + number,
        }
        for number in range(1, 8)
    ]


def _me(ctx: ApiContext) -> Any:
    _require(ctx, USER_READ_SCOPES)
    return {
        "user": {
            "id": 1,
            "url": f"https://{ctx.tenant}.zendesk.com/api/v2/users/1.json",
            "name": f"Admin of {ctx.tenant}",
            "email": f"admin@{ctx.tenant}.example",
            "role": "admin",
        }
    }


def _tickets(ctx: ApiContext) -> Any:
    """Offset pagination: ``page`` (from 1) and ``per_page`` (1-100, default 100)."""
    _require(ctx, TICKET_READ_SCOPES)
    items = _tickets_of(ctx.tenant)
    size = int_param(ctx.query, "per_page", 100, 1, 100)
    page = int_param(ctx.query, "page", 1, 1, 10_000)
    base = f"https://{ctx.tenant}.zendesk.com/api/v2/tickets.json"

    def link(number: int) -> str | None:
        return (
            f"{base}?page={number}&per_page={size}"
            if 1 <= number <= -(-len(items) // size)
            else None
        )

    return {
        "tickets": items[(page - 1) * size : page * size],
        "next_page": link(page + 1),
        "previous_page": link(page - 1),
        "count": len(items),
    }


def _ticket(ctx: ApiContext) -> Any:
    _require(ctx, TICKET_READ_SCOPES)
    for ticket in _tickets_of(ctx.tenant):
        if str(ticket["id"]) == ctx.match["id"]:
            return {"ticket": ticket}
    raise ApiError(404, "RecordNotFound", "Not found")


PROFILE = Profile(
    key="zendesk",
    title="Zendesk",
    auth_servers={
        "subdomain": AuthServer(
            "{tenant}/oauth/authorizations/new", "{tenant}/oauth/tokens", issuer="{tenant}"
        )
    },
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}),
        body_formats=frozenset({"json", "form"}),
        token_type="bearer",
        field_order=("access_token", "token_type", "refresh_token", "expires_in", "scope"),
    ),
    access=AccessTokens(
        lifetime=1800,
        lifetime_field="absent",
        jwt=True,
        lifetime_param="expires_in",
        lifetime_param_range=(301, 172799),
    ),
    refresh=RefreshTokens(
        issue="always", rotation="always", rotation_revokes_access=True, lifetime=30 * 86400
    ),
    pkce=Pkce(mode="optional"),
    revocation=Revocation(
        kind="access_token_request",
        path="{tenant}/api/v2/oauth/tokens/current.json",
        method="DELETE",
        scope="grant",
        status=204,
        body=None,
    ),
    api=Api(
        base="{tenant}/api/v2/",
        routes=(
            (r"users/me\.json", _me),
            (r"tickets\.json", _tickets),
            (r"tickets/(?P<id>[0-9]{1,12})\.json", _ticket),
        ),
        error_body=_error,
        unauthorized_body=_unauthorized,
        named=(("tickets", "tickets.json"), ("current-user", "users/me.json")),
    ),
    # developer.zendesk.com/api-reference/introduction/rate-limits: per account, per
    # minute, by plan (Team 200 … Enterprise 700); 429 with Retry-After.
    rate_limit=RateLimit(
        200,
        60.0,
        (("X-Rate-Limit", "{limit}"), ("X-Rate-Limit-Remaining", "{remaining}")),
        "https://developer.zendesk.com/api-reference/introduction/rate-limits/",
    ),
    rate_limited_body={"error": "APIRateLimitExceeded", "description": "Too many requests"},
    user_id="int",
)
