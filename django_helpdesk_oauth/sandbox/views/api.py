"""The provider APIs a token unlocks, served from each profile's routes.

A token works only at the tenant that issued it (401 otherwise; on a global API
host the token names the tenant); it must come in the profile's Authorization
scheme. An unknown path or id answers 404, another method 405, a bad query 400 —
always JSON in the provider's error shape, never an HTML page. The routes and
shapes are the profile's (``Profile.api``, ``Profile.identity``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ..credentials import authorization_header
from ..profile import ApiContext, ApiError, Profile
from ..state import IssuedToken, state
from .common import json_response, request_entry, serve


def _unauthorized(profile: Profile, description: str) -> HttpResponse:
    headers = {"WWW-Authenticate": f'{profile.api.auth_scheme} error="invalid_token"'}
    body = profile.api.unauthorized_body(description)
    return json_response(body, status=401, headers=headers)


def access_token_of(request: HttpRequest, profile: Profile) -> str | None:
    """The token of an Authorization header in the profile's API scheme, or ``None``."""
    scheme, credentials = authorization_header(request)
    return (credentials or None) if scheme == profile.api.auth_scheme.lower() else None


def with_token(
    request: HttpRequest,
    profile: Profile,
    tenant: str | None,
    handler: Callable[[IssuedToken], HttpResponse],
    endpoint: str = "api",
) -> HttpResponse:
    """Serve ``handler(token record)`` for a usable token of this profile and tenant."""
    entry = request_entry(request, provider=profile.key, tenant=tenant, endpoint=endpoint)

    def answer() -> HttpResponse:
        token = access_token_of(request, profile)
        if token is None:
            scheme = profile.api.auth_scheme
            return _unauthorized(profile, f"a {scheme} access token is required")
        record = state.find_access_token(token)
        # A token works only for the tenant (Kustomer: the region) that issued it.
        if record is None or record.provider != profile.key or tenant not in (None, record.tenant):
            return _unauthorized(profile, "the access token is invalid, expired or revoked")
        entry["client_id"] = record.client_id
        entry["tenant"] = record.tenant
        return handler(record)

    return serve(entry, answer)


def dispatch(
    request: HttpRequest, profile: Profile, tenant: str | None = None, rest: str = ""
) -> HttpResponse:
    """``{api base}/<rest>``: the profile's identity route, then its API routes."""
    routes = list(profile.api.routes)
    if profile.identity is not None:
        identity = profile.identity
        routes.insert(
            0,
            (
                re.escape(identity.path),
                lambda c: identity.body(c.tenant, state.user_for(profile.key, c.tenant)),
            ),
        )

    def handler(token: IssuedToken) -> HttpResponse:
        path = rest[:-1] if rest.endswith("/") else rest
        try:
            for pattern, route in routes:
                match = re.fullmatch(pattern, path)
                if match is not None:
                    context = ApiContext(
                        request.GET, token.tenant, token, match, profile, request.headers
                    )
                    return json_response(route(context))
            raise ApiError(404, "not_found", f"no API resource at {request.path}")
        except ApiError as error:
            return json_response(profile.api.error_body(error), status=error.status)

    if request.method not in ("GET", "HEAD"):
        # Every sandbox API route is read-only; the answer is still the provider's JSON.
        error = ApiError(405, "method_not_allowed", f"{request.method} is not allowed here")
        response = json_response(profile.api.error_body(error), status=405)
        response["Allow"] = "GET, HEAD"
        entry = request_entry(request, provider=profile.key, tenant=tenant, endpoint="api")
        return serve(entry, lambda: response)
    return with_token(request, profile, tenant, handler)
