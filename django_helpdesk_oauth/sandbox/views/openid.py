"""OpenID Connect for the emulated Gorgias: discovery, JWKS and userinfo per account.

Every Gorgias account is its own issuer (``{base}/gorgias/{tenant}``), so each
publishes its own ``/.well-known/openid-configuration`` (OpenID Connect
Discovery 1.0 §4), a JWK Set with the RS256 key that signs its id_tokens and
access tokens, and a userinfo endpoint (OpenID Connect Core §5.3). Gorgias
documents none of these URLs (PROVIDERS.md); the sandbox serves them where an
OpenID provider does, so users can test their own id_token verification.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ..credentials import bearer_token
from ..endpoints import issuer, provider_settings
from ..state import GORGIAS, state
from .common import base_url, json_response, request_entry, serve

# What the discovery document states besides the URLs: Gorgias's behaviour as DESIGN.md
# and PROVIDERS.md describe it (Basic client auth, no PKCE yet, space-separated scopes).
GORGIAS_METADATA: dict[str, Any] = {
    "response_types_supported": ["code"],
    "response_modes_supported": ["query"],
    "grant_types_supported": ["authorization_code", "refresh_token"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
    "scopes_supported": ["openid", "email", "profile", "offline", "write:all"],
    "claims_supported": [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
        "name",
        "email",
    ],
}
# Which userinfo claims each scope releases (OpenID Connect Core §5.4).
SCOPE_CLAIMS = {"profile": ("name",), "email": ("email",)}


def _absolute(request: HttpRequest, name: str, tenant: str) -> str:
    namespace = request.resolver_match.namespace if request.resolver_match else None
    path = reverse(f"{namespace or 'helpdesk_oauth_sandbox'}:{name}", kwargs={"tenant": tenant})
    return request.build_absolute_uri(path)


@require_GET
def gorgias_configuration(request: HttpRequest, tenant: str) -> HttpResponse:
    """``gorgias/<tenant>/.well-known/openid-configuration``: the account's OP metadata."""
    entry = request_entry(request, provider=GORGIAS, tenant=tenant, endpoint="discovery")

    def answer() -> HttpResponse:
        base = base_url(request)
        endpoints = {
            k: v.format(tenant=tenant) for k, v in provider_settings(base)[GORGIAS].items()
        }
        document = {
            "issuer": issuer(base, GORGIAS, tenant),
            "authorization_endpoint": endpoints["authorize_url"],
            "token_endpoint": endpoints["token_url"],
            "revocation_endpoint": endpoints["revoke_url"],
            "userinfo_endpoint": _absolute(request, "gorgias-userinfo", tenant),
            "jwks_uri": _absolute(request, "gorgias-jwks", tenant),
            **GORGIAS_METADATA,
            "authorization_response_iss_parameter_supported": state.send_iss,
        }
        return json_response(document)

    return serve(entry, answer)


@require_GET
def gorgias_jwks(request: HttpRequest, tenant: str) -> HttpResponse:
    """``gorgias/<tenant>/.well-known/jwks.json``: ``{"keys": [RSA public JWK with kid]}``."""
    entry = request_entry(request, provider=GORGIAS, tenant=tenant, endpoint="jwks")
    return serve(entry, lambda: json_response(state.public_jwks))


def _bearer_error(error: str, description: str, status: int) -> HttpResponse:
    # RFC 6750 §3: the error in WWW-Authenticate and, for JSON clients, in the body.
    headers = {"WWW-Authenticate": f'Bearer error="{error}"'}
    body = {"error": error, "error_description": description}
    return json_response(body, status=status, headers=headers)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def gorgias_userinfo(request: HttpRequest, tenant: str) -> HttpResponse:
    """``gorgias/<tenant>/oauth/userinfo``: the token's user (``sub``, and per scope ``name``,
    ``email``); 401 for a token of another account or none, 403 without ``openid``."""
    entry = request_entry(request, provider=GORGIAS, tenant=tenant, endpoint="userinfo")

    def answer() -> HttpResponse:
        record = state.find_access_token(bearer_token(request))
        if record is None or record.provider != GORGIAS or record.tenant != tenant:
            return _bearer_error("invalid_token", "the access token is invalid or expired", 401)
        entry["client_id"] = record.client_id
        scopes = record.scope.split()
        if "openid" not in scopes:
            return _bearer_error("insufficient_scope", "the openid scope is required", 403)
        user = state.user_for(GORGIAS, tenant)
        claims: dict[str, Any] = {"sub": user["id"]}
        for scope, names in SCOPE_CLAIMS.items():
            if scope in scopes:
                claims.update({name: user[name] for name in names})
        return json_response(claims)

    return serve(entry, answer)
