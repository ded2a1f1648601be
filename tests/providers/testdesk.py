"""Testdesk, the client side: a provider that exists only in this test suite.

Its sandbox profile (``tests/sandbox/profile_testdesk.py``) states how Testdesk
behaves; this module is what an app developer writes to talk to it. Every knob
here differs from Gorgias and Kustomer: one global host (the tenant is learnt after
the exchange, from an identity call), client credentials in a JSON body,
comma-separated scopes, ``Authorization: Token …``, access tokens that never expire
(and no refresh token), revocation by ``DELETE`` with the access token, a signed uninstall webhook.
"""

from __future__ import annotations

from typing import Any

from django_helpdesk_oauth.providers.base import DeauthorizeSignature, Provider, Revocation


class TestdeskProvider(Provider):
    __test__ = False  # a provider, not a pytest class

    key = "testdesk"
    name = "Testdesk"
    endpoints = {
        "authorize_url": "https://app.testdesk.example/oauth/authorize",
        "token_url": "https://app.testdesk.example/oauth/token",
        "revoke_url": "https://app.testdesk.example/api/oauth/token",
        "api_base_url": "https://app.testdesk.example/api/",
        "identity_url": "https://app.testdesk.example/api/me",
    }
    client_auth = "client_secret_post"
    token_request_format = "json"
    default_scopes = ("read_tickets", "read_users")
    scope_delimiter = ","
    api_auth_scheme = "Token"
    # DELETE api/oauth/token with the access token in the Authorization header.
    revocation = Revocation.bearer("DELETE")
    # It POSTs {"app_id": <workspace>} to helpdesk_oauth:deauthorize on uninstall, signed
    # X-Hub-Signature: sha1=<HMAC-SHA1 of the body with the client secret>.
    deauthorize = DeauthorizeSignature()
    # No lifetime in the answer means "never expires" (and no refresh token comes).
    access_tokens_expire = False
    # The install URL names no workspace: GET identity_url answers it.
    tenant_after_exchange = True
    tenant_label = "Testdesk workspace"
    pkce = False

    def tenant_from_identity(self, body: Any) -> str | None:
        """``{"workspace": {"id": "acme"}}`` → ``"acme"``; anything else → ``None``."""
        workspace = body.get("workspace") if isinstance(body, dict) else None
        tenant = workspace.get("id") if isinstance(workspace, dict) else None
        return tenant if isinstance(tenant, str) else None
