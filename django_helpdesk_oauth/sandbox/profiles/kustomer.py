"""Kustomer as it behaves (DESIGN.md's table, PROVIDERS.md "Kustomer").

Two endpoint sets: the current docs' per-org hosts (``{org}.kustomerapp.com`` /
``{org}.api.kustomerapp.com``, the default) and the seed's global
``api.apps.kustomerapp.com``, whose consent page asks for the org. Client
credentials in the form body only, optional PKCE S256, opaque access tokens with
``expires_in: 86400``, a refresh token with ``offline_access`` rotated on every
refresh, a JSON:API REST API at ``/v1/`` naming the user's org at
``users/current``, 300 requests per minute per org, no revocation endpoint. The
apps API (private apps, client secrets) is served by ``views/apps.py``.
"""

from __future__ import annotations

from typing import Any

from .. import api_data
from ..apitools import by_id, int_param
from ..profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    Identity,
    Pkce,
    Profile,
    RateLimit,
    RefreshTokens,
    TokenEndpoint,
)

# Kustomer roles that let a token read customers / conversations.
CUSTOMER_READ_SCOPES = ("org.permission.customer", "org.admin")
CONVERSATION_READ_SCOPES = ("org.permission.conversation", "org.admin")


def _error(error: ApiError) -> dict[str, Any]:
    # Kustomer: JSON:API errors, as its 401 and 403 answers.
    item: dict[str, Any] = {"status": error.status, "code": error.code, "title": error.message}
    if error.field:
        item["source"] = {"parameter": error.field}
    return {"errors": [item]}


def _unauthorized(description: str) -> dict[str, Any]:
    return {"errors": [{"status": 401, "code": "auth.unauthorized", "title": description}]}


def _require_role(ctx: ApiContext, roles: tuple[str, ...]) -> None:
    if not any(scope.startswith(roles) for scope in ctx.token.scope.split()):
        raise ApiError(403, "auth.forbidden", "missing role")


def _list(ctx: ApiContext, path: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Kustomer's page pagination: ``page`` (from 1) and ``pageSize`` (1-100, default 100)."""
    size = int_param(ctx.query, "pageSize", 100, 1, 100)
    total_pages = max(1, -(-len(items) // size))
    page = int_param(ctx.query, "page", 1, 1, 10_000)

    def link(number: int) -> str | None:
        return f"/v1/{path}?page={number}&pageSize={size}" if 1 <= number <= total_pages else None

    return {
        "data": items[(page - 1) * size : page * size],
        "meta": {"page": page, "pageSize": size, "totalPages": total_pages},
        "links": {
            "self": f"/v1/{path}?page={page}&pageSize={size}",
            "first": link(1),
            "prev": link(page - 1),
            "next": link(page + 1),
        },
    }


def _customers(ctx: ApiContext) -> Any:
    _require_role(ctx, CUSTOMER_READ_SCOPES)
    return _list(ctx, "customers", api_data.kustomer_customers(ctx.tenant))


def _customer(ctx: ApiContext) -> Any:
    _require_role(ctx, CUSTOMER_READ_SCOPES)
    return {"data": by_id(api_data.kustomer_customers(ctx.tenant), ctx.match["id"], "Customer")}


def _conversations(ctx: ApiContext) -> Any:
    _require_role(ctx, CONVERSATION_READ_SCOPES)
    return _list(ctx, "conversations", api_data.kustomer_conversations(ctx.tenant))


def _conversation(ctx: ApiContext) -> Any:
    _require_role(ctx, CONVERSATION_READ_SCOPES)
    conversations = api_data.kustomer_conversations(ctx.tenant)
    return {"data": by_id(conversations, ctx.match["id"], "Conversation")}


PROFILE = Profile(
    key="kustomer",
    title="Kustomer",
    auth_servers={
        "per_org": AuthServer(
            "{tenant}/oauth/authorize",
            "{tenant}/api/oauth/token",
            issuer="{tenant}",
            name_infix="org",
        ),
        "seed": AuthServer("oauth/authorize", "oauth/token"),
    },
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}),
        token_type="bearer",
        field_order=("scope", "token_type", "access_token", "expires_in", "refresh_token"),
    ),
    access=AccessTokens(lifetime=86400, lifetime_field="expires_in"),
    refresh=RefreshTokens(issue="with_scope", scope="offline_access", rotation="always"),
    pkce=Pkce(mode="optional"),
    # The client confirms the org on the API host it knows already: no identity_url.
    identity=Identity(
        "users/current",
        lambda tenant, user: api_data.kustomer_current_user(tenant),
        advertise=False,
    ),
    api=Api(
        base="{tenant}/api/v1/",
        routes=(
            ("customers", _customers),
            (r"customers/(?P<id>[0-9a-f]{24})", _customer),
            ("conversations", _conversations),
            (r"conversations/(?P<id>[0-9a-f]{24})", _conversation),
        ),
        error_body=_error,
        unauthorized_body=_unauthorized,
        named=(("current-user", "users/current"), ("customers", "customers")),
    ),
    # developer.kustomer.com/kustomer-api-docs/reference/rate-limiting: per org, 60 s
    # interval, 300 rpm on the smallest plan (Professional); x-ratelimit-* headers.
    rate_limit=RateLimit(
        300,
        60.0,
        (("x-ratelimit-limit", "{limit}"), ("x-ratelimit-remaining", "{remaining}")),
        "https://developer.kustomer.com/kustomer-api-docs/reference/rate-limiting",
    ),
    rate_limited_body={
        "errors": [{"status": 429, "code": "rate_limit", "title": "Too Many Requests"}]
    },
    user_id="hex",
    # The apps API (api.kustomerapp.com), served by views/apps.py.
    extra_settings=(("apps_api_url", "apps-api"),),
)
