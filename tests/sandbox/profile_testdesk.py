"""Testdesk: a provider that exists only in this test suite, as a sandbox profile.

It behaves unlike Gorgias and Kustomer on every axis the profile model has:
one global host (the consent page asks for the workspace; the client learns it
from an identity call after the exchange), client credentials in a JSON body,
access tokens that never expire and no refresh token, comma-separated scopes,
``Authorization: Token …`` instead of Bearer, and revocation by
``DELETE api/oauth/token`` with the access token (204); on uninstall it posts
Intercom's signed webhook. Registered at test time
with :func:`django_helpdesk_oauth.sandbox.profiles.register`; the engine is
not touched.
"""

from __future__ import annotations

from typing import Any

from django_helpdesk_oauth.sandbox.profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    DeauthorizeWebhook,
    Identity,
    Profile,
    RefreshTokens,
    Revocation,
    Scopes,
    TokenEndpoint,
)


def _error(error: ApiError) -> dict[str, Any]:
    return {"type": "error.list", "errors": [{"code": error.code, "message": error.message}]}


def _tickets(ctx: ApiContext) -> Any:
    if "read_tickets" not in ctx.token.scope.split():
        raise ApiError(403, "forbidden", "the read_tickets scope is required")
    return {"type": "ticket.list", "workspace": ctx.tenant, "data": [{"id": "t1"}]}


PROFILE = Profile(
    key="testdesk",
    title="Testdesk",
    auth_servers={"global": AuthServer("oauth/authorize", "oauth/token")},
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}),
        body_formats=frozenset({"json"}),
        token_type="Token",
    ),
    access=AccessTokens(lifetime=None),
    refresh=RefreshTokens(issue="never"),
    scopes=Scopes(separator=","),
    identity=Identity(
        "me",
        lambda tenant, user: {"type": "admin", "id": user["id"], "workspace": {"id": tenant}},
    ),
    deauthorize=DeauthorizeWebhook(),  # Intercom's shape: X-Hub-Signature sha1, {"app_id"}
    revocation=Revocation(
        kind="access_token_request",
        path="api/oauth/token",
        method="DELETE",
        scope="grant",
        status=204,
        body=None,
    ),
    api=Api(
        base="api/",
        auth_scheme="Token",
        routes=(("tickets", _tickets),),
        error_body=_error,
        unauthorized_body=lambda description: _error(ApiError(401, "unauthorized", description)),
    ),
)
