"""The token endpoint's rules: client authentication, the two grants, revocation.

Per DESIGN.md's table: Gorgias authenticates clients with HTTP Basic only,
answers ``expires_in: 0`` with a JWT access token and an OpenID Connect
``id_token``, and keeps its refresh token on refresh; Kustomer takes the
credentials in the form body only, checks PKCE S256, and rotates refresh tokens.
Every check-and-consume runs under ``state.lock`` so concurrent requests with
one code or refresh token behave like a real server: exactly one wins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from django.http import HttpRequest

from . import jwt
from .credentials import basic_credentials, client_auth_kind
from .state import GORGIAS, KUSTOMER, IssuedToken, SandboxClient, new_secret, state

# RFC 7636 §4.1: 43-128 unreserved characters.
PKCE_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answered as ``400 {"error", "error_description"}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def normalise_scope(scope: str | None) -> str:
    """Space-separated scope with single spaces (``+`` arrives decoded already)."""
    return " ".join((scope or "").split())


def s256(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authenticate_client(request: HttpRequest, provider: str) -> SandboxClient:
    """The client the request authenticates as, by the provider's one allowed method."""
    kind = client_auth_kind(request)
    if provider == GORGIAS:
        if kind in ("body", "both"):
            raise OAuthError(
                "invalid_client", "client_secret must be sent with HTTP Basic, not in the body"
            )
        credentials = basic_credentials(request)
        if credentials is None:
            raise OAuthError("invalid_client", "HTTP Basic client authentication is required")
        client_id, secret = credentials
        body_client_id = request.POST.get("client_id")
        if body_client_id and body_client_id != client_id:
            raise OAuthError("invalid_client", "client_id in the body differs from HTTP Basic")
    else:
        if kind != "body":
            raise OAuthError(
                "invalid_client", "client_id and client_secret must be sent in the form body only"
            )
        client_id = request.POST.get("client_id", "")
        secret = request.POST.get("client_secret", "")
    client = state.get_client(provider, client_id)
    if client is None or not client.client_secret or not _same_secret(secret, client.client_secret):
        # Kustomer and Gorgias both answer 400 invalid_client (DESIGN.md, "errors" row).
        raise OAuthError("invalid_client", "unknown client or wrong client secret")
    return client


def _issue_gorgias(
    client: SandboxClient,
    tenant: str,
    scope: str,
    issuer: str,
    family: str,
    nonce: str | None,
    *,
    with_id_token: bool,
) -> tuple[dict[str, Any], list[IssuedToken]]:
    now = int(state.now())
    expires = now + int(state.lifetimes[GORGIAS])
    user = state.user_for(GORGIAS, tenant)
    access_token = jwt.encode(
        {
            "iss": issuer,
            "sub": user["id"],
            "aud": client.client_id,
            "iat": now,
            "exp": expires,
            "jti": new_secret(16),
            "scope": scope,
        },
        state.signing_key,
    )
    access = IssuedToken(
        access_token, "access", GORGIAS, client.client_id, tenant, scope, now, expires, family
    )
    # expires_in is 0 although the token lives lifetimes["gorgias"]: Gorgias does exactly that.
    body: dict[str, Any] = {"access_token": access_token, "expires_in": 0}
    if with_id_token and "openid" in scope.split():
        body["id_token"] = _id_token(client, tenant, issuer, now, expires, nonce, access_token)
    body.update({"scope": scope, "token_type": "Bearer"})
    return body, [access]


def _id_token(
    client: SandboxClient,
    tenant: str,
    issuer: str,
    now: int,
    expires: int,
    nonce: str | None,
    access_token: str,
) -> str:
    user = state.user_for(GORGIAS, tenant)
    claims: dict[str, Any] = {
        "iss": issuer,
        # A list, as in the seed document's id_token; OIDC allows a string or a list.
        "aud": [client.client_id],
        "iat": now,
        "exp": expires,
        "auth_time": now,
        "at_hash": jwt.at_hash(access_token),
        "sub": user["id"],
        "name": user["name"],
        "email": user["email"],
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return jwt.encode(claims, state.signing_key)


def _issue_kustomer(
    client: SandboxClient, tenant: str, scope: str, family: str
) -> tuple[dict[str, Any], list[IssuedToken]]:
    now = state.now()
    lifetime = int(state.lifetimes[KUSTOMER])
    access = IssuedToken(
        new_secret(),
        "access",
        KUSTOMER,
        client.client_id,
        tenant,
        scope,
        now,
        now + lifetime,
        family,
    )
    body: dict[str, Any] = {
        "scope": scope,
        "token_type": "bearer",
        "access_token": access.token,
        "expires_in": lifetime,
    }
    issued = [access]
    if "offline_access" in scope.split():
        refresh = IssuedToken(
            new_secret(), "refresh", KUSTOMER, client.client_id, tenant, scope, now, None, family
        )
        body["refresh_token"] = refresh.token
        issued.append(refresh)
    return body, issued


def _check_pkce(code_challenge: str | None, verifier: str | None) -> None:
    if code_challenge is None:
        # RFC 9700 §2.1.1: a verifier without a challenge is a PKCE downgrade attempt.
        if verifier:
            raise OAuthError("invalid_grant", "code_verifier sent but no code_challenge was")
        return
    if not verifier or not PKCE_VERIFIER_RE.match(verifier):
        raise OAuthError("invalid_grant", "a valid code_verifier is required")
    if not hmac.compare_digest(s256(verifier), code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")


def exchange_code(
    request: HttpRequest, provider: str, tenant: str | None, client: SandboxClient, issuer: str
) -> dict[str, Any]:
    """The ``authorization_code`` grant; ``tenant`` is ``None`` on Kustomer's global endpoint."""
    value = request.POST.get("code")
    if not value:
        raise OAuthError("invalid_request", "code is required")
    with state.lock:
        code = state.codes.get(value)
        if code is None or code.provider != provider:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if code.used:
            # RFC 6749 §4.1.2: a replayed code revokes what its first use issued.
            state.counters["replays"] += 1
            for token in code.issued_tokens:
                state.revoke_token(token)
            raise OAuthError("invalid_grant", "authorization code already used")
        if state.now() >= code.expires_at:
            raise OAuthError("invalid_grant", "authorization code expired")
        if code.client_id != client.client_id:
            raise OAuthError("invalid_grant", "authorization code was issued to another client")
        if tenant is not None and code.tenant != tenant:
            raise OAuthError("invalid_grant", "authorization code was issued for another tenant")
        if request.POST.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
        if provider == KUSTOMER:
            _check_pkce(code.code_challenge, request.POST.get("code_verifier"))
        code.used = True
        family = new_secret(8)
        if provider == GORGIAS:
            body, issued = _issue_gorgias(
                client, code.tenant, code.scope, issuer, family, code.nonce, with_id_token=True
            )
            if "offline" in code.scope.split():
                # Gorgias's "offline" scope plays OIDC's offline_access: a refresh token
                # that never expires (the seed: "does not expire for now").
                refresh_token = IssuedToken(
                    token=new_secret(36),
                    kind="refresh",
                    provider=GORGIAS,
                    client_id=client.client_id,
                    tenant=code.tenant,
                    scope=code.scope,
                    issued_at=state.now(),
                    expires_at=None,
                    family=family,
                )
                issued.append(refresh_token)
                body = {**body, "refresh_token": refresh_token.token}
                body = {k: body[k] for k in sorted(body)}  # the seed's key order
        else:
            body, issued = _issue_kustomer(client, code.tenant, code.scope, family)
        for issued_token in issued:
            state.add_token(issued_token)
        code.issued_tokens = [t.token for t in issued]
        return body


def refresh(
    request: HttpRequest, provider: str, tenant: str | None, client: SandboxClient, issuer: str
) -> dict[str, Any]:
    """The ``refresh_token`` grant: Gorgias keeps the refresh token, Kustomer rotates it."""
    value = request.POST.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request", "refresh_token is required")
    with state.lock:
        record = state.refresh_tokens.get(value)
        if record is None or record.provider != provider:
            raise OAuthError("invalid_grant", "unknown refresh token")
        if record.client_id != client.client_id:
            raise OAuthError("invalid_grant", "refresh token was issued to another client")
        if tenant is not None and record.tenant != tenant:
            raise OAuthError("invalid_grant", "refresh token was issued for another tenant")
        if record.revoked:
            raise OAuthError("invalid_grant", "refresh token revoked")
        if record.spent:
            state.counters["replays"] += 1
            if state.reuse_detection:
                state.revoke_family(record.family)
            raise OAuthError("invalid_grant", "refresh token already used")
        scope = normalise_scope(request.POST.get("scope")) or record.scope
        if not set(scope.split()) <= set(record.scope.split()):
            raise OAuthError("invalid_scope", "scope exceeds the one originally granted")
        if provider == GORGIAS:
            # The seed's refresh response has no id_token and no refresh_token.
            body, issued = _issue_gorgias(
                client, record.tenant, scope, issuer, record.family, None, with_id_token=False
            )
        else:
            record.spent = True
            state.counters["rotations"] += 1
            body, issued = _issue_kustomer(client, record.tenant, scope, record.family)
        for token in issued:
            state.add_token(token)
        return body


def revoke(request: HttpRequest, tenant: str, client: SandboxClient) -> None:
    """Gorgias's revoke: a refresh token of this client and tenant stops working.

    Access tokens are stateless JWTs at Gorgias: revoking one does nothing, and
    an unknown token is not an error (RFC 7009 §2.2).
    """
    value = request.POST.get("token")
    if not value:
        raise OAuthError("invalid_request", "token is required")
    with state.lock:
        record = state.refresh_tokens.get(value)
        if (
            record is not None
            and record.provider == GORGIAS
            and record.client_id == client.client_id
            and record.tenant == tenant
        ):
            state.revoke_token(value)
