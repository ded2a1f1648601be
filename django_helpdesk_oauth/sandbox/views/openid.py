"""OpenID Connect for profiles that speak it: discovery, JWKS and userinfo per issuer.

Where every tenant is its own issuer (Gorgias: ``{base}/gorgias/{tenant}``), each
publishes its own ``/.well-known/openid-configuration`` (OpenID Connect Discovery
1.0 §4), a JWK Set with the RS256 key that signs its id_tokens and access tokens,
and a userinfo endpoint (OpenID Connect Core §5.3). Gorgias documents none of
these URLs (PROVIDERS.md); the sandbox serves them where an OpenID provider does,
so users can test their own id_token verification.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from ..endpoints import issuer_of, profile_settings
from ..profile import Profile
from ..state import state
from .api import access_token_of
from .common import base_url, json_response, request_entry, serve


def configuration(
    request: HttpRequest, profile: Profile, tenant: str | None = None
) -> HttpResponse:
    """``…/.well-known/openid-configuration``: the issuer's OP metadata."""
    entry = request_entry(request, provider=profile.key, tenant=tenant, endpoint="discovery")
    assert profile.openid is not None  # routed only for profiles that speak OpenID
    spec = profile.openid

    def answer() -> HttpResponse:
        base = base_url(request)
        server = profile.default_auth_server
        endpoints = {
            k: v.format(tenant=tenant) for k, v in profile_settings(base, profile, server).items()
        }
        iss = issuer_of(base, profile, server, tenant)
        document: dict[str, Any] = {
            "issuer": iss,
            "authorization_endpoint": endpoints["authorize_url"],
            "token_endpoint": endpoints["token_url"],
        }
        if "revoke_url" in endpoints:
            document["revocation_endpoint"] = endpoints["revoke_url"]
        root = f"{base.rstrip('/')}/{profile.key}/"
        document["userinfo_endpoint"] = root + spec.userinfo.format(tenant=tenant)
        document["jwks_uri"] = f"{iss}/.well-known/jwks.json"
        document.update(spec.metadata)
        document["authorization_response_iss_parameter_supported"] = state.send_iss
        return json_response(document)

    return serve(entry, answer)


def jwks(request: HttpRequest, profile: Profile, tenant: str | None = None) -> HttpResponse:
    """``…/.well-known/jwks.json``: ``{"keys": [RSA public JWK with kid]}``."""
    entry = request_entry(request, provider=profile.key, tenant=tenant, endpoint="jwks")
    return serve(entry, lambda: json_response(state.public_jwks))


def _bearer_error(error: str, description: str, status: int) -> HttpResponse:
    # RFC 6750 §3: the error in WWW-Authenticate and, for JSON clients, in the body.
    headers = {"WWW-Authenticate": f'Bearer error="{error}"'}
    body = {"error": error, "error_description": description}
    return json_response(body, status=status, headers=headers)


def userinfo(request: HttpRequest, profile: Profile, tenant: str | None = None) -> HttpResponse:
    """The token's user (``sub``, and per scope the claims the profile releases); 401 for a
    token of another tenant or none, 403 without ``openid``."""
    entry = request_entry(request, provider=profile.key, tenant=tenant, endpoint="userinfo")
    assert profile.openid is not None
    scope_claims = profile.openid.scope_claims

    def answer() -> HttpResponse:
        record = state.find_access_token(access_token_of(request, profile))
        if record is None or record.provider != profile.key or tenant not in (None, record.tenant):
            return _bearer_error("invalid_token", "the access token is invalid or expired", 401)
        entry["client_id"] = record.client_id
        scopes = record.scope.split()
        if "openid" not in scopes:
            return _bearer_error("insufficient_scope", "the openid scope is required", 403)
        user = state.user_for(profile.key, record.tenant)
        claims: dict[str, Any] = {"sub": user["id"]}
        for scope, names in scope_claims.items():
            if scope in scopes:
                claims.update({name: user[name] for name in names})
        return json_response(claims)

    return serve(entry, answer)
