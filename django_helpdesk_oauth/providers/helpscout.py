"""Help Scout (Mailbox API 2.0): one global authorization server, the account learnt after.

Quirks (DESIGN.md, PROVIDERS.md "Help Scout", docs/providers/helpscout.md):

- The authorize URL takes only ``client_id`` and ``state``
  (``https://secure.helpscout.net/authentication/authorizeClientApplication``): the
  user comes back to the Redirection URL registered with the app, so no
  ``redirect_uri``, ``response_type``, scope or PKCE is sent, and the code exchange
  carries no ``redirect_uri`` either.
- Client credentials in the body (the docs accept JSON, form or query parameters).
- No scopes: the connected user's permissions decide what the token can read.
- Access tokens live 2 days (``expires_in: 172800``); a refresh token comes with them.
- The account is unknown until the exchange: ``GET /v2/users/me`` names the user's
  ``companyId``, which becomes ``Installation.tenant``.
- No revocation endpoint and no uninstall webhook are documented.

Where the docs are silent, the choices are class attributes a subclass may override
(and endpoints are settings, as for every provider): :attr:`refresh_token_rotation`.
"""

from __future__ import annotations

from typing import Any

from .base import NO_REVOCATION, Provider


class HelpScoutProvider(Provider):
    key = "helpscout"
    name = "Help Scout"
    endpoints = {
        "authorize_url": "https://secure.helpscout.net/authentication/authorizeClientApplication",
        "token_url": "https://api.helpscout.net/v2/oauth2/token",
        "api_base_url": "https://api.helpscout.net/v2/",
        "identity_url": "https://api.helpscout.net/v2/users/me",
    }
    client_auth = "client_secret_post"
    # developer.helpscout.com/mailbox-api/overview/authentication: "?client_id=…&state=…".
    authorize_omits = frozenset({"response_type", "redirect_uri"})
    scopes_supported = False
    pkce = False  # not documented; the URL takes nothing else
    # "expires_in": 172800 in every answer; the fallback only if one ever lacks it.
    fallback_lifetime = 2 * 24 * 3600
    #: The refresh answer of the docs carries a new ``refresh_token`` (and Help Scout's own
    #: PHP client replaces its stored one with it); whether the old one stays usable is not
    #: documented, so the strict reading is taken: each refresh rotates, single flight keeps
    #: the installation. Set ``"sometimes"`` in a subclass to silence the
    #: ``refresh_token_not_rotated`` signal should answers come without one.
    refresh_token_rotation = "always"
    # No revocation endpoint is documented: an uninstall erases locally.
    revocation = NO_REVOCATION
    # The install URL names no account: GET identity_url (/v2/users/me) answers it.
    tenant_after_exchange = True
    tenant_label = "Help Scout account"
    tenant_noun = "account"
    # The default pattern (a DNS label) admits the decimal digits of a companyId.

    def tenant_from_identity(self, body: Any) -> str | None:
        """``{"id": 4, …, "companyId": 1, …}`` (``GET /v2/users/me``) → ``"1"``: the
        company (account) id as its decimal digits (a string one as is); anything else →
        ``None``."""
        company = body.get("companyId") if isinstance(body, dict) else None
        if isinstance(company, int) and not isinstance(company, bool):
            return str(company)
        return company if isinstance(company, str) and company else None
