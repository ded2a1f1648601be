"""Intercom as it behaves (PROVIDERS.md "Intercom"), written from Intercom's docs.

- Three regions, each with an app host (consent page) and an API host (token,
  API, uninstall): ``app.intercom.com`` / ``api.intercom.io`` in the US, ``.eu.``
  and ``.au.`` hosts elsewhere. On loopback a region is a path segment and the two
  hosts are ``{region}/app/`` and ``{region}/api/``.
- The consent page is global: the user picks the workspace (no tenant in the URL).
  Its parameters are ``client_id``, ``state`` and an optional ``redirect_uri``; no
  scope (permissions are the app's, set in the Developer Hub), no PKCE.
- ``POST /auth/eagle/token`` with ``code``, ``client_id`` and ``client_secret`` in
  the form body; ``grant_type`` is not required ("Using OAuth", developer hub).
  The answer is ``{"token_type": "Bearer", "access_token": …}``: no lifetime, no
  refresh token, no scope. The code lives about 5 minutes.
- The token never expires; ``POST /auth/uninstall`` with it (Bearer) uninstalls the
  app from the workspace, and every token of that install stops working.
- ``GET /me`` answers the admin and the workspace (``app.id_code``); the REST API
  answers errors as ``{"type": "error.list", "request_id": …, "errors": [{"code",
  "message"}]}``.
- On uninstall from the workspace, Intercom POSTs ``{"app_id": <workspace>}`` to the
  app's Uninstall URL, signed ``X-Hub-Signature: sha1=<HMAC-SHA1(client secret, body)>``.
- 10,000 API calls per minute per app, spread over 10-second windows, with
  ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..apitools import by_id, int_param
from ..identities import user_for
from ..profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    DeauthorizeWebhook,
    Identity,
    Pkce,
    Profile,
    RateLimit,
    RefreshTokens,
    Revocation,
    Scopes,
    TokenEndpoint,
)

CREATED_AT = 1709283600  # 2024-03-01T09:00:00Z: Intercom's timestamps are epoch seconds
PEOPLE = (("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"))
SUBJECTS = ("Where is my order?", "Refund request", "Change my address")


def _error(error: ApiError) -> dict[str, Any]:
    # Intercom's REST errors: an error.list with a request id.
    request_id = hashlib.sha256(f"{error.code}:{error.message}".encode()).hexdigest()[:20]
    return {
        "type": "error.list",
        "request_id": request_id,
        "errors": [{"code": error.code, "message": error.message}],
    }


def _unauthorized(description: str) -> dict[str, Any]:
    return _error(ApiError(401, "unauthorized", "Access Token Invalid"))


def _me(tenant: str, user: dict[str, Any]) -> dict[str, Any]:
    """``GET /me``: the authorised admin with the workspace embedded as ``app``."""
    return {
        "type": "admin",
        "id": str(user["id"]),
        "name": user["name"],
        "email": user["email"],
        "email_verified": True,
        "app": {
            "type": "app",
            "id_code": tenant,
            "name": f"{tenant} workspace",
            "created_at": CREATED_AT,
            "secure": False,
            "identity_verification": False,
            "timezone": "Etc/UTC",
        },
        "has_inbox_seat": True,
    }


def _contacts(tenant: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "contact",
            "id": hashlib.sha256(f"{tenant}:contact:{n}".encode()).hexdigest()[:24],
            "workspace_id": tenant,
            "role": "user",
            "name": f"{first} {last}",
            "email": f"{first.lower()}@example.com",
            "created_at": CREATED_AT + n,
        }
        for n, (first, last) in enumerate(PEOPLE)
    ]


def _conversations(tenant: str) -> list[dict[str, Any]]:
    contacts = _contacts(tenant)
    return [
        {
            "type": "conversation",
            "id": str(1000 + n),
            "title": subject,
            "state": "open",
            "created_at": CREATED_AT + 60 * n,
            "contacts": {
                "type": "contact.list",
                "contacts": [{"type": "contact", "id": contacts[n]["id"]}],
            },
        }
        for n, subject in enumerate(SUBJECTS)
    ]


def _page(ctx: ApiContext, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Intercom's cursor pages: ``per_page`` (1-150, default 50), ``starting_after``."""
    per_page = int_param(ctx.query, "per_page", 50, 1, 150)
    start = int_param(ctx.query, "starting_after", 0, 0, 10_000)
    chunk = items[start : start + per_page]
    following = start + per_page
    pages: dict[str, Any] = {"type": "pages", "page": start // per_page + 1, "per_page": per_page}
    if following < len(items):
        pages["next"] = {"per_page": per_page, "starting_after": str(following)}
    return {"type": "list", kind: chunk, "total_count": len(items), "pages": pages}


def _admins(ctx: ApiContext) -> Any:
    me = _me(ctx.tenant, user_for("intercom", ctx.tenant, "int"))
    admin = {key: me[key] for key in ("id", "name", "email")}
    return {"type": "admin.list", "admins": [{"type": "admin", **admin}]}


def _contact_list(ctx: ApiContext) -> Any:
    return _page(ctx, "data", _contacts(ctx.tenant))


def _conversation_list(ctx: ApiContext) -> Any:
    return _page(ctx, "conversations", _conversations(ctx.tenant))


def _conversation(ctx: ApiContext) -> Any:
    return by_id(_conversations(ctx.tenant), ctx.match["id"], "Conversation")


PROFILE = Profile(
    key="intercom",
    title="Intercom",
    regions=("us", "eu", "au"),
    # One global consent page per region: the user picks the workspace there.
    auth_servers={"global": AuthServer("{region}/app/oauth", "{region}/api/auth/eagle/token")},
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}),
        body_formats=frozenset({"form"}),
        token_type="Bearer",
        grant_type_required=False,
        field_order=("token_type", "access_token"),
    ),
    access=AccessTokens(lifetime=None),
    refresh=RefreshTokens(issue="never"),
    scopes=Scopes(separator=None),
    pkce=Pkce(mode="ignored"),
    identity=Identity("me", _me),
    deauthorize=DeauthorizeWebhook(
        header="X-Hub-Signature",
        algorithm="sha1",
        prefix="sha1=",
        payload=lambda tenant: {"app_id": tenant},
    ),
    # POST /auth/uninstall, Bearer: the app leaves the workspace (every token of it).
    revocation=Revocation(
        kind="access_token_request",
        path="{region}/api/auth/uninstall",
        method="POST",
        scope="grant",
        status=200,
        body={},
    ),
    api=Api(
        base="{region}/api/",
        auth_scheme="Bearer",
        routes=(
            ("admins", _admins),
            ("contacts", _contact_list),
            ("conversations", _conversation_list),
            (r"conversations/(?P<id>[0-9]{1,12})", _conversation),
        ),
        error_body=_error,
        unauthorized_body=_unauthorized,
    ),
    # developers.intercom.com "Rate limiting": 10,000 calls/min per app, distributed
    # over 10-second periods; X-RateLimit-Limit / -Remaining / -Reset headers.
    rate_limit=RateLimit(
        1666,
        10.0,
        (("X-RateLimit-Limit", "{limit}"), ("X-RateLimit-Remaining", "{remaining}")),
        "https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting",
    ),
    rate_limited_body={
        "type": "error.list",
        "errors": [{"code": "rate_limit_exceeded", "message": "Exceeded rate limit"}],
    },
    user_id="int",
)
