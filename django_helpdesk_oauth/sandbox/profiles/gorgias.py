"""Gorgias as it behaves (DESIGN.md's table, PROVIDERS.md "Gorgias").

One authorization server per account (``{account}.gorgias.com``), HTTP Basic
client authentication only, ``expires_in: 0`` with an RS256 JWT access token
living 24 h, OpenID Connect (``id_token`` with the ``nonce``; discovery, JWKS,
userinfo), a non-expiring refresh token issued with ``offline`` and kept on
refresh, RFC 7009 revocation of the refresh token answering ``200 {}``, a REST
API at ``/api/`` with cursor pagination and ``{"error": {"msg"}}`` errors, and
80 requests per 20 s per account.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .. import api_data
from ..apitools import by_id, int_param
from ..profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    OpenID,
    Profile,
    RateLimit,
    RefreshTokens,
    Revocation,
    TokenEndpoint,
)


def _error(error: ApiError) -> dict[str, Any]:
    # Gorgias: "read the error attribute contained in the data of the response".
    body: dict[str, Any] = {"msg": error.message}
    if error.field:
        body["data"] = {error.field: [error.message]}
    return {"error": body}


def _unauthorized(description: str) -> dict[str, Any]:
    return {"error": "invalid_token", "error_description": description}


def _list(ctx: ApiContext, uri: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Gorgias's cursor pagination: ``limit`` (1-100, default 30) and an opaque ``cursor``."""
    limit = int_param(ctx.query, "limit", 30, 1, 100)
    cursor = ctx.query.get("cursor")
    offset = 0
    if cursor:
        try:
            offset = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("next_"))
        except (binascii.Error, ValueError, UnicodeError):
            raise ApiError(400, "invalid_parameter", "cursor is invalid", "cursor") from None

    def encode(position: int) -> str:
        return base64.urlsafe_b64encode(f"next_{position}".encode()).decode()

    return {
        "object": "list",
        "uri": uri,
        "data": items[offset : offset + limit],
        "meta": {
            "prev_cursor": encode(max(0, offset - limit)) if offset else None,
            "next_cursor": encode(offset + limit) if offset + limit < len(items) else None,
        },
    }


def _account(ctx: ApiContext) -> Any:
    return {
        "domain": ctx.tenant,
        "status": "active",
        "created_datetime": "2021-05-12T10:00:00+00:00",
        "deactivated_datetime": None,
        "settings": [],
    }


def _user(ctx: ApiContext) -> Any:
    users = api_data.gorgias_users(ctx.tenant)
    # Gorgias: "use the ID 0 to fetch your user" (the one the token acts for).
    wanted = str(users[0]["id"]) if ctx.match["id"] == "0" else ctx.match["id"]
    return by_id(users, wanted, "User")


PROFILE = Profile(
    key="gorgias",
    title="Gorgias",
    auth_servers={
        "seed": AuthServer("{tenant}/oauth/authorize", "{tenant}/oauth/token", issuer="{tenant}")
    },
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_basic"}),
        token_type="Bearer",
        # The seed's answer lists its keys alphabetically.
        field_order=(
            "access_token",
            "expires_in",
            "id_token",
            "refresh_token",
            "scope",
            "token_type",
        ),
    ),
    # expires_in is 0 although the token lives 24 h: Gorgias does exactly that.
    access=AccessTokens(lifetime=86400, lifetime_field="expires_in_zero", jwt=True),
    # "offline" plays OIDC's offline_access: a refresh token that never expires and is
    # kept on refresh (the seed: "does not expire for now").
    refresh=RefreshTokens(issue="with_scope", scope="offline", rotation="never", nbytes=36),
    openid=OpenID(
        # What the discovery document states besides the URLs (Basic client auth, no PKCE
        # yet, space-separated scopes); Gorgias documents none of these URLs.
        metadata={
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
            "scopes_supported": ["openid", "email", "profile", "offline", "write:all"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "name",
                "email",
            ],
        },
        scope_claims={"profile": ("name",), "email": ("email",)},
    ),
    # Access tokens are stateless JWTs: revoking one does nothing (RFC 7009 §2.2).
    revocation=Revocation(kind="rfc7009", path="{tenant}/oauth/revoke", token_kinds=("refresh",)),
    api=Api(
        base="{tenant}/api/",
        routes=(
            ("account", _account),
            ("tickets", lambda c: _list(c, "/api/tickets", api_data.gorgias_tickets(c.tenant))),
            (
                r"tickets/(?P<id>[0-9]+)",
                lambda c: by_id(api_data.gorgias_tickets(c.tenant), c.match["id"], "Ticket"),
            ),
            (
                "customers",
                lambda c: _list(c, "/api/customers", api_data.gorgias_customers(c.tenant)),
            ),
            (
                r"customers/(?P<id>[0-9]+)",
                lambda c: by_id(api_data.gorgias_customers(c.tenant), c.match["id"], "Customer"),
            ),
            ("users", lambda c: _list(c, "/api/users", api_data.gorgias_users(c.tenant))),
            (r"users/(?P<id>[0-9]+)", _user),
        ),
        error_body=_error,
        unauthorized_body=_unauthorized,
        named=(("account", "account"),),
    ),
    # developers.gorgias.com/reference/limitations: leaky bucket, OAuth2 apps 80 requests
    # per 20 s window per account; 429 with Retry-After and X-Gorgias-Account-Api-Call-Limit.
    rate_limit=RateLimit(
        80,
        20.0,
        (("X-Gorgias-Account-Api-Call-Limit", "{used}/{limit}"),),
        "https://developers.gorgias.com/reference/limitations",
    ),
    rate_limited_body={"error": {"msg": "Too many requests, retry later."}},
    user_id="int",
)
