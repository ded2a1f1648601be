"""Intercom: region hosts, access tokens that never expire, the workspace from ``/me``.

Quirks (DESIGN.md "Provider model v2", PROVIDERS.md "Intercom"):

- **Regions**: a workspace lives in the US, the EU or Australia, each with its own
  hosts (:data:`REGIONS`). The install URL chooses one with ``?region=us|eu|au``
  (``us`` when absent); it is validated against :data:`REGIONS` and kept in
  ``Installation.connection_config``: the callback can never change it.
- **Tokens never expire** and no refresh token is issued: ``expires_at`` is NULL,
  the sweep never touches the token, ``helpdesk_oauth_status`` says "never expires".
- **The workspace is learnt after the exchange**: ``GET /me`` (Bearer) answers the
  admin with the workspace at ``app.id_code``; it becomes ``Installation.tenant``.
- **No scopes** (permissions are set on the app in the Developer Hub) and the token
  request needs only ``code``, ``client_id`` and ``client_secret`` in the form body.
  ``grant_type=authorization_code`` is still sent (RFC 6749); Intercom ignores it,
  as every generic OAuth client that talks to Intercom sends it.
- **Uninstall**: ``POST /auth/uninstall`` with the access token ends the app's
  installation in the workspace (never called for a token a re-install replaced).
  Intercom POSTs ``{"app_id": <workspace>}`` to the app's Uninstall URL
  (``helpdesk_oauth:deauthorize``) signed ``X-Hub-Signature: sha1=<hex HMAC-SHA1
  of the body keyed with the client secret>``.

Every fact that is secondary or unknown in the provider's docs is a class attribute
a subclass may override (see ``docs/providers/intercom.md``).
"""

from __future__ import annotations

import re
from typing import Any

from .base import DeauthorizeSignature, Provider, Revocation

#: Region → the hosts its endpoint templates use. Intercom's docs: "US" workspaces
#: at ``app.intercom.com`` / ``api.intercom.io``, EU at ``app.eu.intercom.com`` /
#: ``api.eu.intercom.io``, Australia at ``app.au.intercom.com`` / ``api.au.intercom.io``.
REGIONS: dict[str, dict[str, str]] = {
    "us": {"app_host": "app.intercom.com", "api_host": "api.intercom.io"},
    "eu": {"app_host": "app.eu.intercom.com", "api_host": "api.eu.intercom.io"},
    "au": {"app_host": "app.au.intercom.com", "api_host": "api.au.intercom.io"},
}

#: An Intercom workspace id (``app_id``, ``app.id_code``): short lowercase letters
#: and digits, e.g. ``a86dr8yl`` in Intercom's signed-notification example.
WORKSPACE_ID = re.compile(r"[a-z0-9]{1,32}", re.ASCII)


class IntercomProvider(Provider):
    key = "intercom"
    name = "Intercom"
    endpoints = {
        "authorize_url": "https://{app_host}/oauth",
        "token_url": "https://{api_host}/auth/eagle/token",
        "revoke_url": "https://{api_host}/auth/uninstall",
        "api_base_url": "https://{api_host}/",
        "identity_url": "https://{api_host}/me",
    }
    regions = REGIONS
    default_region = "us"
    # code, client_id and client_secret as form fields (the docs' curl -d example).
    client_auth = "client_secret_post"
    token_request_format = "form"
    # Permissions are chosen on the app in the Developer Hub: no scope parameter.
    scopes_supported = False
    # Intercom documents no PKCE; the authorize URL takes client_id, state, redirect_uri.
    pkce = False
    nonce = False
    # No lifetime in the answer and no refresh token: the token lives until uninstall.
    access_tokens_expire = False
    tenant_after_exchange = True
    tenant_label = "Intercom workspace id"
    tenant_noun = "workspace"
    tenant_hint = "The id in your Intercom address: https://app.intercom.com/a/apps/<id>/"
    tenant_pattern = WORKSPACE_ID
    # POST /auth/uninstall with the access token: the app leaves the whole workspace.
    revocation = Revocation.bearer("POST", ends_installation=True)
    # The Uninstall URL webhook: X-Hub-Signature sha1=<HMAC-SHA1(client secret, body)>,
    # the workspace in app_id. Override with another DeauthorizeSignature if Intercom
    # signs it otherwise for your app (docs/providers/intercom.md).
    deauthorize = DeauthorizeSignature(
        header="X-Hub-Signature", algorithm="sha1", prefix="sha1=", tenant_field="app_id"
    )

    def tenant_from_identity(self, body: Any) -> str | None:
        """``GET /me`` → the workspace id: ``{"type": "admin", "app": {"id_code":
        "a86dr8yl", …}, …}`` → ``"a86dr8yl"``; anything else → ``None``."""
        app = body.get("app") if isinstance(body, dict) else None
        workspace = app.get("id_code") if isinstance(app, dict) else None
        return workspace if isinstance(workspace, str) and workspace else None
