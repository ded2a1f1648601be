"""Token and revocation endpoints (form-encoded in, JSON out)."""

from __future__ import annotations

import math
import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..credentials import basic_credentials, client_auth_kind
from ..endpoints import issuer
from ..grants import OAuthError, authenticate_client, exchange_code, refresh, revoke
from ..state import GORGIAS, KUSTOMER, state
from .common import base_url, json_response, oauth_error, request_entry, serve

# The 429 body each provider sends (Gorgias: its API's error object; Kustomer: JSON:API errors).
_RATE_LIMITED: dict[str, dict[str, Any]] = {
    GORGIAS: {"error": {"msg": "Too many requests, retry later."}},
    KUSTOMER: {"errors": [{"status": 429, "code": "rate_limit", "title": "Too Many Requests"}]},
}


def _claimed_client_id(request: HttpRequest) -> str | None:
    credentials = basic_credentials(request)
    return credentials[0] if credentials else request.POST.get("client_id") or None


def _answer(provider: str, body: dict[str, Any]) -> HttpResponse:
    """A granted token answer, reshaped if a test queued it (``state.reshape_token_response``)."""
    shape = state.take_reshape(provider)
    if shape is None:
        return json_response(body)
    reshaped = shape.apply(body)
    return reshaped if isinstance(reshaped, HttpResponse) else json_response(reshaped)


def _token(request: HttpRequest, provider: str, tenant: str | None) -> HttpResponse:
    grant_type = request.POST.get("grant_type")
    entry = request_entry(
        request,
        provider=provider,
        tenant=tenant,
        endpoint="token",
        grant_type=grant_type,
        client_auth=client_auth_kind(request),
        client_id=_claimed_client_id(request),
        refresh_token=request.POST.get("refresh_token"),
    )

    def answer() -> HttpResponse:
        if state.token_delay:
            time.sleep(state.token_delay)
        # Counted per tenant like the providers' account/org limits; Kustomer's global
        # endpoint knows no org before the grant, so it counts per claimed client there.
        retry_after, limit_headers = state.rate_limit(
            provider, tenant or f"client:{entry['client_id']}"
        )
        if retry_after is not None:
            headers = {**limit_headers, "Retry-After": str(max(1, math.ceil(retry_after)))}
            return json_response(_RATE_LIMITED[provider], status=429, headers=headers)
        response = _grant(request, provider, tenant, grant_type)
        for name, value in limit_headers.items():
            response[name] = value
        return response

    return serve(entry, answer)


def _grant(
    request: HttpRequest, provider: str, tenant: str | None, grant_type: str | None
) -> HttpResponse:
    """Authenticate the client and run ``grant_type``; an OAuth error answers 400 JSON."""
    try:
        client = authenticate_client(request, provider)
        # Kustomer's opaque tokens carry no iss; Gorgias's JWTs do.
        iss = issuer(base_url(request), GORGIAS, tenant) if provider == GORGIAS else ""
        if grant_type == "authorization_code":
            return _answer(provider, exchange_code(request, provider, tenant, client, iss))
        if grant_type == "refresh_token":
            return _answer(provider, refresh(request, provider, tenant, client, iss))
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    except OAuthError as error:
        return oauth_error(error.error, error.description)


@csrf_exempt
@require_POST
def gorgias_token(request: HttpRequest, tenant: str) -> HttpResponse:
    """``gorgias/<tenant>/oauth/token``: HTTP Basic client auth, ``expires_in: 0``."""
    return _token(request, GORGIAS, tenant)


@csrf_exempt
@require_POST
def kustomer_token(request: HttpRequest) -> HttpResponse:
    """``kustomer/oauth/token``: the seed's global token endpoint, any org's codes."""
    return _token(request, KUSTOMER, None)


@csrf_exempt
@require_POST
def kustomer_org_token(request: HttpRequest, tenant: str) -> HttpResponse:
    """``kustomer/<tenant>/api/oauth/token``: only that org's codes and refresh tokens."""
    return _token(request, KUSTOMER, tenant)


@csrf_exempt
@require_POST
def gorgias_revoke(request: HttpRequest, tenant: str) -> HttpResponse:
    """``gorgias/<tenant>/oauth/revoke``: revokes a refresh token; ``200 {}`` (JSON)."""
    entry = request_entry(
        request,
        provider=GORGIAS,
        tenant=tenant,
        endpoint="revoke",
        client_auth=client_auth_kind(request),
        client_id=_claimed_client_id(request),
        token=request.POST.get("token"),
    )

    def answer() -> HttpResponse:
        try:
            revoke(request, tenant, authenticate_client(request, GORGIAS))
        except OAuthError as error:
            return oauth_error(error.error, error.description)
        # RFC 7009 §2.2 says only "200"; Gorgias answers an empty JSON object.
        return json_response({})

    return serve(entry, answer)
