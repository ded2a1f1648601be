"""The token engine: client authentication, the two grants, revocation, for any profile.

What differs between providers (which client authentication, form or JSON
bodies, the lifetime field, JWT or opaque tokens, refresh-token issue and
rotation, PKCE, OpenID) is read from the :class:`~.profile.Profile`; there is
no provider name in here. Every check-and-consume runs under ``state.lock`` so
concurrent requests with one code or refresh token behave like a real server:
exactly one wins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from django.http import HttpRequest

from . import jwt
from .credentials import authorization_header, basic_credentials
from .profile import Profile
from .state import IssuedToken, SandboxClient, new_secret, state

# RFC 7636 §4.1: 43-128 unreserved characters.
PKCE_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answered as ``400 {"error", "error_description"}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def normalise_scope(scope: str | None, profile: Profile | None = None) -> str:
    """Scopes as single-space-separated words (split by the profile's separator too)."""
    if profile is not None:
        return " ".join(profile.split_scope(scope))
    return " ".join((scope or "").split())


def s256(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def request_params(request: HttpRequest, profile: Profile) -> dict[str, str]:
    """The token / revoke request's parameters, from a form or JSON body as the profile takes.

    Raises :class:`OAuthError` ``invalid_request`` for a body format it does not take.
    """
    content_type = request.content_type or ""
    if content_type == "application/json":
        if "json" not in profile.token.body_formats:
            raise OAuthError("invalid_request", "the request body must be form-encoded")
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_request", "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "the request body must be a JSON object")
        params = {k: v for k, v in data.items() if isinstance(v, str)}
        chosen = data.get(profile.access.lifetime_param)
        if isinstance(chosen, int) and not isinstance(chosen, bool):
            params[profile.access.lifetime_param] = str(chosen)  # a JSON integer
        return params
    if "form" not in profile.token.body_formats and request.body:
        raise OAuthError("invalid_request", "the request body must be JSON")
    return {k: request.POST.get(k, "") for k in request.POST}


def client_auth_kind(request: HttpRequest, params: dict[str, str]) -> str:
    """How the client tried to authenticate: ``basic``, ``body``, ``both`` or ``none``."""
    basic = authorization_header(request)[0] == "basic"
    body = "client_secret" in params
    return {(True, True): "both", (True, False): "basic", (False, True): "body"}.get(
        (basic, body), "none"
    )


def authenticate_client(
    request: HttpRequest, profile: Profile, params: dict[str, str]
) -> SandboxClient:
    """The client the request authenticates as, by a method the profile accepts."""
    kind = client_auth_kind(request, params)
    allowed = profile.token.client_auth
    basic_ok, post_ok = "client_secret_basic" in allowed, "client_secret_post" in allowed
    if kind == "both" or (kind == "body" and not post_ok) or (kind == "basic" and not basic_ok):
        if basic_ok and not post_ok:
            raise OAuthError(
                "invalid_client", "client_secret must be sent with HTTP Basic, not in the body"
            )
        if post_ok and not basic_ok:
            raise OAuthError(
                "invalid_client", "client_id and client_secret must be sent in the form body only"
            )
        # RFC 6749 §2.3: a client MUST NOT use more than one method in each request.
        raise OAuthError("invalid_client", "use one client authentication method, not two")
    if kind == "basic":
        credentials = basic_credentials(request)
        if credentials is None:
            raise OAuthError("invalid_client", "HTTP Basic client authentication is required")
        client_id, secret = credentials
        body_client_id = params.get("client_id")
        if body_client_id and body_client_id != client_id:
            raise OAuthError("invalid_client", "client_id in the body differs from HTTP Basic")
    elif kind == "body":
        client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
    elif basic_ok and not post_ok:
        raise OAuthError("invalid_client", "HTTP Basic client authentication is required")
    else:
        raise OAuthError(
            "invalid_client", "client_id and client_secret must be sent in the form body only"
        )
    client = state.get_client(profile.key, client_id)
    if client is None or not client.client_secret or not _same_secret(secret, client.client_secret):
        raise OAuthError("invalid_client", "unknown client or wrong client secret")
    return client


def _id_token(
    profile: Profile,
    client: SandboxClient,
    tenant: str,
    issuer: str,
    now: int,
    expires: int | None,
    nonce: str | None,
    access_token: str,
) -> str:
    user = state.user_for(profile.key, tenant)
    claims: dict[str, Any] = {
        "iss": issuer,
        # A list, as in Gorgias's seed document's id_token; OIDC allows a string or a list.
        "aud": [client.client_id],
        "iat": now,
        "exp": expires if expires is not None else now + 3600,
        "auth_time": now,
        "at_hash": jwt.at_hash(access_token),
        "sub": user["id"],
        "name": user["name"],
        "email": user["email"],
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return jwt.encode(claims, state.signing_key)


def requested_lifetime(params: dict[str, str], profile: Profile) -> int | None:
    """The lifetime the request chose by the profile's ``lifetime_param`` (seconds), or
    ``None`` when it chose none. Raises :class:`OAuthError` ``invalid_request`` for a
    value that is not an integer within ``lifetime_param_range``."""
    name = profile.access.lifetime_param
    raw = params.get(name) if name else None
    if raw is None:
        return None
    low, high = profile.access.lifetime_param_range
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise OAuthError("invalid_request", f"{name} must be an integer from {low} to {high}")
    return int(raw)


def _issue_access(
    profile: Profile,
    client: SandboxClient,
    tenant: str,
    scope: str,
    issuer: str,
    family: str,
    id_token_nonce: tuple[str | None] | None,
    requested: int | None = None,
) -> tuple[dict[str, Any], IssuedToken]:
    """The answer's access-token part and its record; ``id_token_nonce`` ``(nonce,)`` asks
    for an id_token (where the profile speaks OpenID and ``openid`` was granted);
    ``requested``: the lifetime the client chose (:func:`requested_lifetime`)."""
    lifetime = requested if requested is not None else state.lifetime(profile)
    now: float = int(state.now()) if profile.access.jwt else state.now()
    expires = now + int(lifetime) if lifetime is not None else None
    if profile.access.jwt:
        user = state.user_for(profile.key, tenant)
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": user["id"],
            "aud": client.client_id,
            "iat": now,
            "exp": expires,
            "jti": new_secret(16),
            "scope": scope,
        }
        if expires is None:
            del claims["exp"]
        value = jwt.encode(claims, state.signing_key)
    else:
        value = new_secret()
    record = IssuedToken(
        value, "access", profile.key, client.client_id, tenant, scope, now, expires, family
    )
    body: dict[str, Any] = {"access_token": value, "token_type": profile.token.token_type}
    if lifetime is not None:
        field = profile.access.lifetime_field
        if field == "expires_in" or requested is not None:
            body["expires_in"] = int(lifetime)
        elif field == "expires_in_zero":
            body["expires_in"] = 0
        elif field == "expires_at":
            body["expires_at"] = int(expires or 0)
    if scope or profile.scopes.separator is not None:
        body["scope"] = profile.join_scope(scope)
    if (
        id_token_nonce is not None
        and profile.openid is not None
        and "openid" in scope.split()
        and expires is not None
    ):
        body["id_token"] = _id_token(
            profile, client, tenant, issuer, int(now), int(expires), id_token_nonce[0], value
        )
    return body, record


def _new_refresh(
    profile: Profile, client: SandboxClient, tenant: str, scope: str, family: str
) -> IssuedToken:
    now = state.now()
    lifetime = profile.refresh.lifetime
    return IssuedToken(
        new_secret(profile.refresh.nbytes),
        "refresh",
        profile.key,
        client.client_id,
        tenant,
        scope,
        now,
        now + lifetime if lifetime is not None else None,
        family,
    )


def _ordered(profile: Profile, body: dict[str, Any]) -> dict[str, Any]:
    order = {name: index for index, name in enumerate(profile.token.field_order)}
    return dict(sorted(body.items(), key=lambda item: order.get(item[0], len(order))))


def _check_pkce(profile: Profile, code_challenge: str | None, verifier: str | None) -> None:
    if profile.pkce.mode == "ignored":
        return
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
    params: dict[str, str],
    profile: Profile,
    tenant: str | None,
    client: SandboxClient,
    issuer: str,
) -> dict[str, Any]:
    """The ``authorization_code`` grant; ``tenant`` is ``None`` on a global token endpoint."""
    value = params.get("code")
    if not value:
        raise OAuthError("invalid_request", "code is required")
    with state.lock:
        code = state.codes.get(value)
        if code is None or code.provider != profile.key:
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
        sent = params.get("redirect_uri")
        # A profile whose authorize URL takes none (Help Scout) needs none here either.
        if sent != code.redirect_uri and not (profile.redirect == "registered" and sent is None):
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
        _check_pkce(profile, code.code_challenge, params.get("code_verifier"))
        requested = requested_lifetime(params, profile)
        code.used = True
        family = new_secret(8)
        body, access = _issue_access(
            profile,
            client,
            code.tenant,
            code.scope,
            issuer or code.issuer,
            family,
            (code.nonce,),
            requested,
        )
        issued = [access]
        policy = profile.refresh
        if policy.issue == "always" or (
            policy.issue == "with_scope" and policy.scope in code.scope.split()
        ):
            refresh_token = _new_refresh(profile, client, code.tenant, code.scope, family)
            body["refresh_token"] = refresh_token.token
            issued.append(refresh_token)
        if profile.token.tenant_field:
            body[profile.token.tenant_field] = code.tenant
        for issued_token in issued:
            state.add_token(issued_token)
        code.issued_tokens = [t.token for t in issued]
        return _ordered(profile, body)


def refresh(
    params: dict[str, str],
    profile: Profile,
    tenant: str | None,
    client: SandboxClient,
    issuer: str,
) -> dict[str, Any]:
    """The ``refresh_token`` grant: the old token kept or rotated as the profile says."""
    value = params.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request", "refresh_token is required")
    with state.lock:
        record = state.refresh_tokens.get(value)
        if record is None or record.provider != profile.key:
            raise OAuthError("invalid_grant", "unknown refresh token")
        if record.client_id != client.client_id:
            raise OAuthError("invalid_grant", "refresh token was issued to another client")
        if tenant is not None and record.tenant != tenant:
            raise OAuthError("invalid_grant", "refresh token was issued for another tenant")
        if record.revoked:
            raise OAuthError("invalid_grant", "refresh token revoked")
        if record.expires_at is not None and state.now() >= record.expires_at:
            raise OAuthError("invalid_grant", "refresh token expired")
        policy = profile.refresh
        if record.spent:
            state.counters["replays"] += 1
            revoke_family = policy.reuse_revokes_family
            if revoke_family is None:
                revoke_family = state.reuse_detection
            if revoke_family:
                state.revoke_family(record.family)
            raise OAuthError("invalid_grant", "refresh token already used")
        scope = normalise_scope(params.get("scope"), profile) or record.scope
        if not set(scope.split()) <= set(record.scope.split()):
            raise OAuthError("invalid_scope", "scope exceeds the one originally granted")
        on_refresh = (None,) if profile.openid and profile.openid.id_token_on_refresh else None
        requested = requested_lifetime(params, profile)
        rotate = policy.rotation == "always" or (
            policy.rotation == "sometimes" and state.now() - record.issued_at >= policy.rotate_after
        )
        if rotate and policy.rotation_revokes_access:
            # Zendesk: the previous access token dies with the refresh token it came with.
            for earlier in list(state.access_tokens.values()):
                if earlier.family == record.family and not earlier.revoked:
                    state.revoke_token(earlier.token)
        body, access = _issue_access(
            profile, client, record.tenant, scope, issuer, record.family, on_refresh, requested
        )
        issued = [access]
        if rotate:
            record.spent = True
            state.counters["rotations"] += 1
            new = _new_refresh(profile, client, record.tenant, record.scope, record.family)
            body["refresh_token"] = new.token
            issued.append(new)
        elif policy.rotation == "sometimes":
            body["refresh_token"] = record.token  # the same one again
        for token in issued:
            state.add_token(token)
        return _ordered(profile, body)


def revoke(params: dict[str, str], profile: Profile, tenant: str, client: SandboxClient) -> None:
    """RFC 7009: a token of this client and tenant, of a kind the profile really revokes,
    stops working; any other (an unknown one, a stateless JWT) is not an error (§2.2)."""
    value = params.get("token")
    if not value:
        raise OAuthError("invalid_request", "token is required")
    with state.lock:
        for kind, store in (("refresh", state.refresh_tokens), ("access", state.access_tokens)):
            record = store.get(value)
            if (
                record is not None
                and kind in profile.revocation.token_kinds
                and record.provider == profile.key
                and record.client_id == client.client_id
                # A global host ("": no tenant in its path) serves every tenant's tokens.
                and (not tenant or record.tenant == tenant)
            ):
                state.revoke_token(value)
