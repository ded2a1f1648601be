"""HubSpot as it behaves (PROVIDERS.md "HubSpot"; developers.hubspot.com).

One global authorization server: the install URL names no account, the user picks
the HubSpot account on the consent page and the code is redeemed at the
date-versioned token endpoint (``api.hubapi.com/oauth/2026-03/token``), which takes
``client_id`` / ``client_secret`` in the form body only. Its answer carries the
account as ``hub_id`` (a JSON integer), opaque access tokens living 1800 s
(``expires_in``), ``token_type: bearer``, and a refresh token that refresh answers
return unchanged (no rotation). Errors carry RFC 6749 ``error`` /
``error_description`` **and** HubSpot's own ``status`` / ``message`` ("Existing fields
remain for backward compatibility"). Revocation:
``POST /oauth/2026-03/token/revoke`` with ``token`` and the client in the body
(refresh tokens; access tokens live out their 30 minutes). The API at
``api.hubapi.com``: ``GET /account-info/v3/details`` (``portalId``), CRM tickets at
``/crm/v3/objects/tickets`` with ``after`` cursor paging, and HubSpot's JSON error
document (``status: "error"``, ``message``, ``correlationId``, ``category``).
"""

from __future__ import annotations

import uuid
from typing import Any

from ..apitools import int_param
from ..profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    Identity,
    Pkce,
    Profile,
    RefreshTokens,
    Revocation,
    TokenEndpoint,
)

#: The ``status`` HubSpot puts beside each RFC 6749 code (only BAD_REFRESH_TOKEN is in
#: HubSpot's docs; the others are its v1 statuses as its community reports them).
LEGACY_STATUS = {
    "invalid_client": "BAD_CLIENT_ID",
    "invalid_request": "BAD_REQUEST",
    "unsupported_grant_type": "BAD_GRANT_TYPE",
    "invalid_scope": "BAD_SCOPE",
}

#: API error categories by HTTP status (HubSpot's error document).
CATEGORY = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "VALIDATION_ERROR",
}


def oauth_error(error: str, description: str) -> dict[str, Any]:
    """The 2026-03 token endpoint's error: RFC 6749 fields and the legacy ones."""
    if error == "invalid_grant":
        status = "BAD_REFRESH_TOKEN" if "refresh token" in description else "BAD_AUTH_CODE"
    else:
        status = LEGACY_STATUS.get(error, "BAD_REQUEST")
    return {
        "error": error,
        "error_description": description,
        "status": status,
        "message": description,
    }


def v1_oauth_error(status: str, message: str) -> dict[str, Any]:
    """What the legacy v1 endpoints answered: HubSpot's own fields only, no ``error``."""
    return {"status": status, "message": message, "correlationId": str(uuid.uuid4())}


def _api_error(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": error.message,
        "correlationId": str(uuid.uuid4()),
        "category": CATEGORY.get(error.status, "VALIDATION_ERROR"),
    }
    if error.field:
        body["context"] = {error.field: [error.message]}
    return body


def _unauthorized(description: str) -> dict[str, Any]:
    return _api_error(ApiError(401, "unauthorized", description))


def _account(tenant: str, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "portalId": int(tenant) if tenant.isdigit() else tenant,
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18000000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }


def _tickets(tenant: str) -> list[dict[str, Any]]:
    seed = int(tenant) if tenant.isdigit() else len(tenant)
    return [
        {
            "id": str(seed * 10 + n),
            "properties": {
                "subject": f"Ticket {n} of account {tenant}",
                "hs_pipeline": "0",
                "hs_pipeline_stage": "1",
                "hs_ticket_priority": ("LOW", "MEDIUM", "HIGH")[n % 3],
            },
            "createdAt": f"2026-0{n}-01T10:00:00.000Z",
            "updatedAt": f"2026-0{n}-02T10:00:00.000Z",
            "archived": False,
        }
        for n in range(1, 6)
    ]


def _require_tickets_scope(ctx: ApiContext) -> None:
    if "tickets" not in ctx.token.scope.split():
        raise ApiError(403, "forbidden", "This app hasn't been granted all required scopes.")


def _ticket_list(ctx: ApiContext) -> Any:
    """``limit`` (1-100, default 10) and the opaque ``after`` cursor of CRM v3 lists."""
    _require_tickets_scope(ctx)
    items = _tickets(ctx.tenant)
    limit = int_param(ctx.query, "limit", 10, 1, 100)
    after = ctx.query.get("after") or "0"
    if not after.isdigit():
        raise ApiError(400, "invalid_parameter", "after is invalid", "after")
    offset = int(after)
    page: dict[str, Any] = {"results": items[offset : offset + limit]}
    if offset + limit < len(items):
        page["paging"] = {"next": {"after": str(offset + limit)}}
    return page


def _ticket(ctx: ApiContext) -> Any:
    _require_tickets_scope(ctx)
    for item in _tickets(ctx.tenant):
        if item["id"] == ctx.match["id"]:
            return item
    raise ApiError(404, "not_found", "Object not found. objectId are usually numeric.")


PROFILE = Profile(
    key="hubspot",
    title="HubSpot",
    # app.hubspot.com/oauth/authorize (the consent page lists the user's accounts) and
    # api.hubapi.com/oauth/2026-03/token; the v1 token path answers the same until its
    # sunset (2027-02-16).
    auth_servers={
        "2026-03": AuthServer("oauth/authorize", "oauth/2026-03/token"),
        "v1": AuthServer("oauth/authorize", "oauth/v1/token", name_infix="v1"),
    },
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}),
        body_formats=frozenset({"form"}),
        token_type="bearer",
        field_order=("token_type", "refresh_token", "access_token", "expires_in", "hub_id"),
        tenant_field="hub_id",
    ),
    access=AccessTokens(lifetime=1800, lifetime_field="expires_in"),
    # Long-lived, returned unchanged by refresh answers; dies with the app's uninstall.
    refresh=RefreshTokens(issue="always", rotation="never"),
    pkce=Pkce("optional"),
    identity=Identity("account-info/v3/details", _account),
    revocation=Revocation(
        kind="rfc7009",
        path="oauth/2026-03/token/revoke",
        token_kinds=("refresh",),
        status=204,
        body=None,
    ),
    api=Api(
        base="",
        routes=(
            ("crm/v3/objects/tickets", _ticket_list),
            (r"crm/v3/objects/tickets/(?P<id>[0-9]+)", _ticket),
        ),
        error_body=_api_error,
        unauthorized_body=_unauthorized,
        named=(("account-details", "account-info/v3/details"),),
    ),
    oauth_error_body=oauth_error,
    user_id="int",
)
