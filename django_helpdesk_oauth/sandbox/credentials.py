"""What a request carries to authenticate: HTTP Basic, a bearer token, body credentials."""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest


def authorization_header(request: HttpRequest) -> tuple[str, str]:
    """``(scheme in lower case, credentials)`` of the Authorization header, or ``("", "")``."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return scheme.lower(), credentials.strip()


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from HTTP Basic, or ``None`` if absent or malformed."""
    scheme, credentials = authorization_header(request)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or ``None``."""
    scheme, credentials = authorization_header(request)
    return (credentials or None) if scheme == "bearer" else None
