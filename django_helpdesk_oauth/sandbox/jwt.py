"""Minimal HS256 JSON Web Tokens (RFC 7519) on the standard library.

The sandbox signs Gorgias's access tokens and id_tokens with its own random
key; clients only read the claims, so no JOSE dependency is warranted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


class InvalidToken(ValueError):
    """The string is not a JWT signed with the given key."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], key: bytes) -> str:
    """A compact JWS of ``claims`` signed with HMAC-SHA256."""
    header = {"alg": "HS256", "typ": "JWT", "kid": "sandbox"}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def decode(token: str, key: bytes) -> dict[str, Any]:
    """The claims of ``token`` after checking its HS256 signature (not its ``exp``)."""
    try:
        signing_input, _, signature = token.rpartition(".")
        header_part, _, payload_part = signing_input.partition(".")
        header = json.loads(_b64url_decode(header_part))
        claims = json.loads(_b64url_decode(payload_part))
        signature_bytes = _b64url_decode(signature)
        expected = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    except (binascii.Error, ValueError, UnicodeError, AttributeError) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidToken("unexpected algorithm")
    if not hmac.compare_digest(expected, signature_bytes):
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    return claims


def at_hash(access_token: str) -> str:
    """OpenID Connect ``at_hash`` for an HS256-signed id_token."""
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])
