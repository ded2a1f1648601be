"""Token and revocation endpoints of every profile (form or JSON in, JSON out)."""

from __future__ import annotations

import math
import time

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..credentials import authorization_header, basic_credentials
from ..endpoints import issuer_of
from ..grants import (
    OAuthError,
    authenticate_client,
    client_auth_kind,
    exchange_code,
    refresh,
    request_params,
    revoke,
)
from ..profile import Profile
from ..state import state
from .common import base_url, json_response, oauth_error, request_entry, serve


def _answer(profile: Profile, body: dict) -> HttpResponse:
    """A granted token answer, reshaped if a test queued it (``state.reshape_token_response``)."""
    shape = state.take_reshape(profile.key)
    if shape is None:
        return json_response(body)
    reshaped = shape.apply(body)
    return reshaped if isinstance(reshaped, HttpResponse) else json_response(reshaped)


def _error(profile: Profile, error: OAuthError) -> HttpResponse:
    return json_response(profile.oauth_error_body(error.error, error.description), status=400)


def _params(request: HttpRequest, profile: Profile) -> dict[str, str]:
    try:
        return request_params(request, profile)
    except OAuthError:
        return {}


def _claimed_client_id(request: HttpRequest, params: dict[str, str]) -> str | None:
    credentials = basic_credentials(request)
    return credentials[0] if credentials else params.get("client_id") or None


@csrf_exempt
def token(
    request: HttpRequest, profile: Profile, auth_server: str, tenant: str | None = None
) -> HttpResponse:
    """``authorization_code`` and ``refresh_token`` grants with the profile's client
    authentication and body format; tenant from the path, or ``None`` on a global host."""
    params = _params(request, profile)
    grant_type = params.get("grant_type")
    entry = request_entry(
        request,
        provider=profile.key,
        tenant=tenant,
        endpoint="token",
        grant_type=grant_type,
        client_auth=client_auth_kind(request, params),
        client_id=_claimed_client_id(request, params),
        refresh_token=params.get("refresh_token"),
        redirect_uri=params.get("redirect_uri"),
    )

    def answer() -> HttpResponse:
        if state.token_delay:
            time.sleep(state.token_delay)
        # Counted per tenant like the providers' account/org limits; a global endpoint
        # knows no tenant before the grant, so it counts per claimed client there.
        retry_after, limit_headers = state.rate_limit(
            profile.key, tenant or f"client:{entry['client_id']}"
        )
        if retry_after is not None:
            headers = {**limit_headers, "Retry-After": str(max(1, math.ceil(retry_after)))}
            return json_response(profile.rate_limited_body, status=429, headers=headers)
        response = _grant(request, profile, auth_server, tenant)
        for name, value in limit_headers.items():
            response[name] = value
        return response

    return serve(entry, answer)


def _grant(
    request: HttpRequest, profile: Profile, auth_server: str, tenant: str | None
) -> HttpResponse:
    """Authenticate the client and run the grant; an OAuth error answers 400 JSON."""
    try:
        params = request_params(request, profile)
        client = authenticate_client(request, profile, params)
        try:
            iss = issuer_of(base_url(request), profile, auth_server, tenant)
        except ValueError:
            iss = ""  # a global host: the code's own issuer is used
        grant_type = params.get("grant_type")
        if grant_type is None and not profile.token.grant_type_required:
            grant_type = "refresh_token" if "refresh_token" in params else "authorization_code"
        if grant_type == "authorization_code":
            return _answer(
                profile,
                _regional(request, profile, exchange_code(params, profile, tenant, client, iss)),
            )
        if grant_type == "refresh_token":
            return _answer(
                profile, _regional(request, profile, refresh(params, profile, tenant, client, iss))
            )
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    except OAuthError as error:
        return _error(profile, error)


def _regional(request: HttpRequest, profile: Profile, body: dict) -> dict:
    """``body`` with the members a data-centre profile adds for this endpoint's region
    (Zoho's ``api_domain``)."""
    if profile.token_fields is None:
        return body
    return {**body, **profile.token_fields(getattr(request, "sandbox_region", ""))}


@csrf_exempt
def revocation(request: HttpRequest, profile: Profile, tenant: str | None = None) -> HttpResponse:
    """The profile's revocation endpoint: RFC 7009 (``token=`` + client authentication) or a
    request carrying the access token in the API's Authorization header."""
    strategy = profile.revocation
    by_header = strategy.kind == "access_token_request"
    params = {} if by_header else _params(request, profile)
    entry = request_entry(
        request,
        provider=profile.key,
        tenant=tenant,
        endpoint="revoke",
        client_auth="none" if by_header else client_auth_kind(request, params),
        client_id=None if by_header else _claimed_client_id(request, params),
        token=_header_token(request, profile) if by_header else params.get("token"),
    )

    def answer() -> HttpResponse:
        if request.method != strategy.method:
            response = oauth_error("invalid_request", f"use {strategy.method}", status=405)
            response["Allow"] = strategy.method
            return response
        if by_header:
            record = state.find_access_token(entry["token"])
            if (
                record is None
                or record.provider != profile.key
                or tenant not in (None, record.tenant)
            ):
                body = profile.api.unauthorized_body("the access token is invalid or revoked")
                return json_response(body, status=401)
            entry.update(client_id=record.client_id, tenant=record.tenant)
            if strategy.scope == "grant":
                state.revoke_family(record.family)
            else:
                state.revoke_token(record.token)
        else:
            try:
                params_ = request_params(request, profile)
                revoke(
                    params_, profile, tenant or "", authenticate_client(request, profile, params_)
                )
            except OAuthError as error:
                return _error(profile, error)
        if strategy.body is None:
            return HttpResponse(status=strategy.status)
        # RFC 7009 §2.2 says only "200"; Gorgias answers an empty JSON object.
        return json_response(strategy.body, status=strategy.status)

    return serve(entry, answer)


def _header_token(request: HttpRequest, profile: Profile) -> str | None:
    scheme, credentials = authorization_header(request)
    return credentials or None if scheme == profile.api.auth_scheme.lower() else None
