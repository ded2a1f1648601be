"""Zoho Desk as it behaves (PROVIDERS.md "Zoho Desk"; Zoho Accounts' multi-DC pages).

Zoho has one accounts server per data centre. The authorization request goes to the
US one (``us/oauth/v2/auth`` here); the user's account lives in one data centre
(``state.home_regions[("zoho_desk", org)]``, else the one of the authorize path), and
the authorization response names it: ``location=eu&accounts-server=https://accounts.zoho.eu``
(Zoho's real host names: the client maps them to its configured URLs, which point here,
``{region}`` path segments on loopback). That accounts server takes the code exchange
(form body, client credentials in the body), the refreshes (no new refresh token: they
never rotate) and the revocation (``token`` of a refresh token; Zoho's pages show it in
the query string, and its servers read the form body as well; this sandbox reads the
form body). Every token answer carries ``api_domain`` (``https://www.zohoapis.eu``) and
``expires_in: 3600``; a refresh token comes with ``access_type=offline``. Scopes are
comma-separated (``Desk.tickets.READ,Desk.basic.READ``).

The Desk API (``desk.zoho.{tld}/api/v1``, the ``{region}/api/v1/`` path here) takes
``Authorization: Zoho-oauthtoken …`` and, on every call but ``/organizations``, the
``orgId`` header naming one of the user's organizations; its errors are
``{"errorCode": …, "message": …}``. Here a tenant's one organization has the tenant as
its id (a Desk org id is digits: type digits on the consent page).
"""

from __future__ import annotations

from typing import Any

from ..profile import (
    AccessTokens,
    Api,
    ApiContext,
    ApiError,
    AuthServer,
    Identity,
    Profile,
    RefreshTokens,
    Revocation,
    Scopes,
    TokenEndpoint,
)

#: location → (accounts server, API domain), as Zoho names them (zoho.com/accounts
#: "Multi DC support"; the CRM/Bigin multi-DC tables for the API domains).
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "us": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "uk": ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
}


def _error(error: ApiError) -> dict[str, Any]:
    return {"errorCode": error.code, "message": error.message}


def _unauthorized(description: str) -> dict[str, Any]:
    return {"errorCode": "INVALID_OAUTH", "message": description}


def _organization(tenant: str, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": tenant,
        "companyName": f"{tenant} Inc.",
        "portalName": f"desk{tenant}",
        "isDefault": True,
        "isAdminInOrg": True,
        "edition": "ENTERPRISE",
    }


def _require_org(ctx: ApiContext) -> None:
    # "All API endpoints except /organizations mandatorily require the orgId."
    org = ctx.headers.get("orgId") if ctx.headers is not None else None
    if not org:
        raise ApiError(422, "UNPROCESSABLE_ENTITY", "The orgId header is required.")
    if org != ctx.tenant:
        raise ApiError(403, "FORBIDDEN", "You do not have access to this organization.")


def _tickets(ctx: ApiContext) -> Any:
    _require_org(ctx)
    granted = set(ctx.token.scope.replace(",", " ").split())
    if not granted & {"Desk.tickets.READ", "Desk.tickets.ALL"}:
        raise ApiError(401, "SCOPE_MISMATCH", "The OAuth scope does not allow this call.")
    return {
        "data": [
            {"id": f"{ctx.tenant}00000{n}", "ticketNumber": str(100 + n), "status": "Open"}
            for n in (1, 2)
        ]
    }


def _callback(region: str) -> dict[str, str]:
    return {"location": region, "accounts-server": DATA_CENTRES[region][0]}


PROFILE = Profile(
    key="zoho_desk",
    title="Zoho Desk",
    regions=tuple(DATA_CENTRES),
    auth_servers={"accounts": AuthServer("{region}/oauth/v2/auth", "{region}/oauth/v2/token")},
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}),
        body_formats=frozenset({"form"}),
        token_type="Bearer",
        field_order=("access_token", "refresh_token", "api_domain", "token_type", "expires_in"),
    ),
    access=AccessTokens(lifetime=3600, lifetime_field="expires_in"),
    refresh=RefreshTokens(issue="always", rotation="never"),
    scopes=Scopes(separator=","),
    callback_params=_callback,
    token_fields=lambda region: {"api_domain": DATA_CENTRES[region][1]},
    identity=Identity(
        "organizations", lambda tenant, user: {"data": [_organization(tenant, user)]}
    ),
    revocation=Revocation(
        kind="rfc7009",
        path="{region}/oauth/v2/token/revoke",
        token_kinds=("refresh",),
        body={"status": "success"},
    ),
    api=Api(
        base="{region}/api/v1/",
        auth_scheme="Zoho-oauthtoken",
        routes=(("tickets", _tickets),),
        error_body=_error,
        unauthorized_body=_unauthorized,
        named=(("tickets", "tickets"),),
    ),
    user_id="int",
)
