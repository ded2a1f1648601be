"""Helpers for the sandbox provider tests (Django test client flavour)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client
from django.urls import reverse

from django_helpdesk_oauth.sandbox.testing import consent_form

GORGIAS_ID, GORGIAS_SECRET = "gorgias-test-client", "gorgias-test-secret-0001"
KUSTOMER_ID, KUSTOMER_SECRET = "kustomer-test-client", "kustomer-test-secret-0001"
REDIRECT_URI = "https://app.example.com/oauth/callback"
GORGIAS_REDIRECT_URI = f"{REDIRECT_URI}?account=acme"
GORGIAS_SCOPE = "openid email profile offline write:all"
KUSTOMER_SCOPE = "org.permission.customer org.permission.conversation offline_access"
# RFC 7636 appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def url(name: str, **kwargs: str) -> str:
    """Reverse a sandbox URL name."""
    return reverse(f"helpdesk_oauth_sandbox:{name}", kwargs=kwargs or None)


def basic(client_id: str, secret: str) -> dict[str, str]:
    """Django test-client extra for HTTP Basic."""
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def query(location: str) -> dict[str, str]:
    """The query of a redirect Location as a flat dict (first values)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_url(name: str, tenant: str | None = None, **params: str) -> str:
    path = url(name, tenant=tenant) if tenant else url(name)
    return f"{path}?{urlencode(params)}"


def gorgias_params(**overrides: str | None) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": GORGIAS_ID,
        "scope": GORGIAS_SCOPE,
        "redirect_uri": GORGIAS_REDIRECT_URI,
        "state": "st-123",
        "nonce": "nonce-456",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def kustomer_params(**overrides: str | None) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": KUSTOMER_ID,
        "scope": KUSTOMER_SCOPE,
        "redirect_uri": REDIRECT_URI,
        "state": "st-k",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def decide(client: Client, authorize: str, allow: bool = True, org: str | None = None):
    """GET the consent page at ``authorize`` and click Allow/Deny; returns the POST response."""
    page = client.get(authorize)
    assert page.status_code == 200, page.content
    form = consent_form(page.content.decode())
    data = dict(form["fields"])
    if org is not None:
        data["org"] = org
    data["decision"] = "allow" if allow else "deny"
    return client.post(form["action"], data)


def gorgias_code(client: Client, tenant: str = "acme", **overrides: str | None) -> str:
    response = decide(
        client, authorize_url("gorgias-authorize", tenant, **gorgias_params(**overrides))
    )
    assert response.status_code == 302
    return query(response["Location"])["code"]


def kustomer_code(
    client: Client, tenant: str | None = None, org: str = "acme", **overrides: str | None
) -> str:
    if tenant is None:
        authorize = authorize_url("kustomer-authorize", **kustomer_params(**overrides))
        response = decide(client, authorize, org=org)
    else:
        authorize = authorize_url("kustomer-org-authorize", tenant, **kustomer_params(**overrides))
        response = decide(client, authorize)
    assert response.status_code == 302, response.content
    return query(response["Location"])["code"]


def gorgias_token(client: Client, tenant: str = "acme", auth=None, **data: str):
    headers = basic(GORGIAS_ID, GORGIAS_SECRET) if auth is None else auth
    return client.post(url("gorgias-token", tenant=tenant), data, **headers)


def kustomer_token(client: Client, tenant: str | None = None, **data: str):
    data.setdefault("client_id", KUSTOMER_ID)
    data.setdefault("client_secret", KUSTOMER_SECRET)
    path = url("kustomer-org-token", tenant=tenant) if tenant else url("kustomer-token")
    return client.post(path, data)


def gorgias_tokens(client: Client, tenant: str = "acme", **overrides: str | None) -> dict:
    code = gorgias_code(client, tenant, **overrides)
    response = gorgias_token(
        client,
        tenant,
        grant_type="authorization_code",
        code=code,
        redirect_uri=overrides.get("redirect_uri", GORGIAS_REDIRECT_URI),
    )
    assert response.status_code == 200, response.content
    return response.json()


def kustomer_tokens(client: Client, tenant: str | None = None, org: str = "acme", **overrides):
    code = kustomer_code(client, tenant, org=org, **overrides)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if overrides.get("code_challenge", CHALLENGE):
        data["code_verifier"] = VERIFIER
    response = kustomer_token(client, tenant, **data)
    assert response.status_code == 200, response.content
    return response.json()
