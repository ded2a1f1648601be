"""Zoho Desk: one client for every Zoho data centre, routed by what Zoho answers.

Quirks (PROVIDERS.md "Zoho Desk", docs/providers/zoho_desk.md):

- **Data centres.** The authorization request goes to ``accounts.zoho.com`` (China:
  ``?region=cn`` on the install URL, ``accounts.zoho.com.cn``); Zoho sends the user back
  with ``location`` and ``accounts-server`` naming the user's data centre, whose accounts
  server takes the code exchange, the refreshes and the revocation. That callback value
  is compared *exactly* with the declared accounts servers below (an unknown one: 400,
  nothing sent anywhere), and the token answer's ``api_domain`` must be that data
  centre's (else the install fails, 502, before any API call). Both only pick one of
  these declared regions: no callback or answer value is ever put into a URL.
- ``access_type=offline`` for a refresh token, and ``prompt=consent`` on every install:
  Zoho issues a refresh token only on the first consent otherwise, and the organization
  (hence "is this a re-install?") is known only after the exchange.
- Client credentials in the form body; comma-separated scopes; 1-hour access tokens
  (``expires_in: 3600``); refresh tokens never rotate.
- The API takes ``Authorization: Zoho-oauthtoken …`` and an ``orgId`` header: the
  tenant is the Desk organization id, read after the exchange from
  ``GET /api/v1/organizations`` (the one call that needs no ``orgId``).
- Revocation: ``POST {accounts-server}/oauth/v2/token/revoke`` with the refresh token
  in a form body (RFC 7009 style; Zoho's pages show ``?token=`` in the query string).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .base import Provider, Revocation


def _centre(accounts: str, api: str, desk: str) -> dict[str, str]:
    return {
        "accounts_server": f"https://{accounts}",
        "api_domain": f"https://{api}",
        "desk_server": f"https://{desk}",
    }


#: Zoho's data centres (location code → hosts): accounts servers from Zoho's
#: "Multi DC support" page, API domains from its multi-DC API tables, Desk hosts from the
#: Desk API documentation (``desk.zoho.{tld}/api/v1``). Override ``regions`` in a
#: subclass when Zoho opens another data centre.
DATA_CENTRES: Mapping[str, Mapping[str, str]] = {
    "us": _centre("accounts.zoho.com", "www.zohoapis.com", "desk.zoho.com"),
    "eu": _centre("accounts.zoho.eu", "www.zohoapis.eu", "desk.zoho.eu"),
    "in": _centre("accounts.zoho.in", "www.zohoapis.in", "desk.zoho.in"),
    "au": _centre("accounts.zoho.com.au", "www.zohoapis.com.au", "desk.zoho.com.au"),
    "jp": _centre("accounts.zoho.jp", "www.zohoapis.jp", "desk.zoho.jp"),
    "cn": _centre("accounts.zoho.com.cn", "www.zohoapis.com.cn", "desk.zoho.com.cn"),
    "ca": _centre("accounts.zohocloud.ca", "www.zohoapis.ca", "desk.zohocloud.ca"),
    "sa": _centre("accounts.zoho.sa", "www.zohoapis.sa", "desk.zoho.sa"),
    "uk": _centre("accounts.zoho.uk", "www.zohoapis.uk", "desk.zoho.uk"),
}


class ZohoDeskProvider(Provider):
    key = "zoho_desk"
    name = "Zoho Desk"
    endpoints = {
        "authorize_url": "{accounts_server}/oauth/v2/auth",
        "token_url": "{accounts_server}/oauth/v2/token",
        "revoke_url": "{accounts_server}/oauth/v2/token/revoke",
        "api_base_url": "{desk_server}/api/v1/",
        "identity_url": "{desk_server}/api/v1/organizations",
    }
    regions = DATA_CENTRES
    default_region = "us"
    # The callback's accounts-server picks the data centre; api_domain must agree.
    callback_region = ("accounts-server", "accounts_server")
    token_region_fields = {"api_domain": "api_domain"}
    client_auth = "client_secret_post"
    default_scopes = ("Desk.tickets.READ", "Desk.basic.READ")
    scope_delimiter = ","
    authorize_params = {"access_type": "offline", "prompt": "consent"}
    api_auth_scheme = "Zoho-oauthtoken"
    # Every Desk call but /organizations needs the organization id.
    api_headers = {"orgId": "{tenant}"}
    revocation = Revocation.rfc7009("refresh_token")
    refresh_token_rotation = "never"
    fallback_lifetime = 3600
    tenant_after_exchange = True
    tenant_label = "Zoho Desk organization"
    tenant_noun = "organization"
    tenant_pattern = re.compile(r"[0-9]{1,20}", re.ASCII)
    # Not documented by Zoho; servers ignore parameters they do not know.
    pkce = True

    def tenant_from_identity(self, body: Any) -> Any:
        """``{"data": [{"id": "2389290", "isDefault": true, …}, …]}`` → the only
        organization's id, else the default one's; ``None`` when neither exists."""
        orgs = body.get("data") if isinstance(body, dict) else None
        if not isinstance(orgs, list):
            return None
        orgs = [org for org in orgs if isinstance(org, dict)]
        chosen = orgs if len(orgs) == 1 else [org for org in orgs if org.get("isDefault") is True]
        return chosen[0].get("id") if len(chosen) == 1 else None
