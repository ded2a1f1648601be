"""Help Scout (Mailbox API 2.0) as it behaves, written from Help Scout's developer docs.

- One global host pair: the consent page at ``secure.helpscout.net`` (its
  ``authentication/authorizeClientApplication`` takes ``client_id`` and an optional
  ``state``; the user is sent back to the Redirection URL registered in My Apps with
  ``code`` and ``state``), the token endpoint and the API at ``api.helpscout.net``.
  On loopback both are below ``helpscout/``; the consent page asks for the account.
  (developer.helpscout.com/mailbox-api/overview/authentication)
- ``POST /v2/oauth2/token``: ``client_id`` and ``client_secret`` in the body, which may
  be JSON or a form ("you can choose to send data as JSON, form or query params");
  ``grant_type`` ``authorization_code`` or ``refresh_token``; no ``redirect_uri``.
- Answers ``{"refresh_token", "token_type": "bearer", "access_token", "expires_in":
  172800}``: opaque tokens living 2 days. No scopes anywhere.
- Refresh: the answer carries a new refresh token. Whether the previous one stays
  usable is not documented; this profile takes the strict reading (it is spent), so a
  client that refreshes twice at once loses the grant here.
- ``GET /v2/users/me`` (the resource owner) answers the user with its ``companyId``,
  the account. Real company ids are integers; here the company is named by the account
  typed on the consent page.
- The API answers HAL+JSON (``_embedded`` lists, a ``page`` object) and errors as
  ``application/vnd.error+json``: ``{"logRef", "message", "_embedded": {"errors":
  [{"path", "message", "source"}]}}`` (mailbox-api/overview/errors).
- No revocation endpoint and no uninstall webhook are documented.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..apitools import by_id, int_param
from ..profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    Identity,
    Profile,
    RefreshTokens,
    Scopes,
    TokenEndpoint,
)

CREATED_AT = "2024-03-01T09:00:00Z"
SUBJECTS = ("Where is my order?", "Refund request", "Change my address")
ERRORS_ABOUT = "http://developer.helpscout.net/mailbox-api/overview/errors"


def _log_ref(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


def _error(error: ApiError) -> dict[str, Any]:
    # vnd.error: a logRef for support, a message, field errors embedded.
    body: dict[str, Any] = {
        "logRef": _log_ref(error.status, error.code, error.message),
        "message": error.message,
        "_links": {"about": {"href": ERRORS_ABOUT}},
    }
    if error.field:
        body["_embedded"] = {
            "errors": [{"path": error.field, "message": error.message, "source": "QUERY"}]
        }
    return body


def _unauthorized(description: str) -> dict[str, Any]:
    return _error(ApiError(401, "unauthorized", "Invalid or expired access token"))


def _me(tenant: str, user: dict[str, Any]) -> dict[str, Any]:
    """``GET /v2/users/me``: the authenticated user, naming the account in ``companyId``."""
    first, _, last = user["name"].partition(" ")
    return {
        "id": user["id"],
        "firstName": first,
        "lastName": last,
        "email": user["email"],
        "role": "owner",
        "timezone": "Etc/UTC",
        "createdAt": CREATED_AT,
        "updatedAt": CREATED_AT,
        "type": "user",
        "mention": first.lower(),
        "initials": (first[:1] + last[:1]).upper(),
        "alternateEmails": [],
        "companyId": tenant,
        "_links": {"self": {"href": f"https://api.helpscout.net/v2/users/{user['id']}"}},
    }


def _mailboxes(tenant: str) -> list[dict[str, Any]]:
    return [
        {
            "id": 1001,
            "name": "Support",
            "slug": _log_ref(tenant, "mailbox")[:16],
            "email": f"support@{tenant}.example.com",
            "createdAt": CREATED_AT,
            "updatedAt": CREATED_AT,
        }
    ]


def _conversations(tenant: str) -> list[dict[str, Any]]:
    return [
        {
            "id": 2001 + n,
            "number": 1 + n,
            "type": "email",
            "mailboxId": 1001,
            "status": "active",
            "subject": subject,
            "createdAt": CREATED_AT,
            "primaryCustomer": {"email": f"customer{n}@{tenant}.example.com"},
        }
        for n, subject in enumerate(SUBJECTS)
    ]


def _page(ctx: ApiContext, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """HAL pages of 50 (``page`` from 1), as every Mailbox API list."""
    size = 50
    number = int_param(ctx.query, "page", 1, 1, 10_000)
    total_pages = max(1, -(-len(items) // size))
    return {
        "_embedded": {kind: items[(number - 1) * size : number * size]},
        "page": {
            "size": size,
            "totalElements": len(items),
            "totalPages": total_pages,
            "number": number,
        },
    }


def _mailbox_list(ctx: ApiContext) -> Any:
    return _page(ctx, "mailboxes", _mailboxes(ctx.tenant))


def _conversation_list(ctx: ApiContext) -> Any:
    return _page(ctx, "conversations", _conversations(ctx.tenant))


def _conversation(ctx: ApiContext) -> Any:
    return by_id(_conversations(ctx.tenant), ctx.match["id"], "Conversation")


PROFILE = Profile(
    key="helpscout",
    title="Help Scout",
    auth_servers={
        "global": AuthServer("authentication/authorizeClientApplication", "v2/oauth2/token")
    },
    # Only client_id and state are read; back to the app's registered Redirection URL.
    redirect="registered",
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}),
        body_formats=frozenset({"form", "json"}),
        token_type="bearer",
        field_order=("refresh_token", "token_type", "access_token", "expires_in"),
    ),
    access=AccessTokens(lifetime=172800, lifetime_field="expires_in"),
    refresh=RefreshTokens(issue="always", rotation="always"),
    scopes=Scopes(separator=None),
    identity=Identity("users/me", _me),
    api=Api(
        base="v2/",
        routes=(
            ("mailboxes", _mailbox_list),
            ("conversations", _conversation_list),
            (r"conversations/(?P<id>[0-9]+)", _conversation),
        ),
        error_body=_error,
        unauthorized_body=_unauthorized,
        named=(("mailboxes", "mailboxes"), ("conversations", "conversations")),
    ),
    oauth_error_body=lambda error, description: {
        "error": error,
        "error_description": description,
    },
    user_id="int",
)
