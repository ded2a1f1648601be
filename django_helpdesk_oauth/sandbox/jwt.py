"""JSON Web Tokens (RFC 7519) signed RS256 (RFC 7518 §3.3) with ``cryptography``.

The sandbox signs Gorgias's access tokens and id_tokens as Gorgias does (RS256,
a ``kid`` naming the key) and publishes the public key as a JWK Set, so a
standard OpenID client (Authlib, PyJWT's ``PyJWKClient``) can verify them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "RS256"
KEY_SIZE = 2048


class InvalidToken(ValueError):
    """The string is not a JWT signed RS256 by the given key."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def key_to_pem(key: rsa.RSAPrivateKey) -> str:
    """``key`` as unencrypted PKCS#8 PEM (for the sandbox's STATE_FILE only)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def key_from_pem(pem: str) -> rsa.RSAPrivateKey:
    """The RSA key of :func:`key_to_pem`; raises ``ValueError`` for anything else."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 7517) with ``kid`` = its RFC 7638 thumbprint."""
    numbers = public_key.public_numbers()
    members = {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
    # RFC 7638 §3: the required members, sorted, no whitespace.
    thumbprint = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return {**members, "kid": b64url(thumbprint), "use": "sig", "alg": ALGORITHM}


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """The ``kid`` the sandbox puts in its JWT headers and JWKS."""
    return public_jwk(public_key)["kid"]


def encode(claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """A compact JWS of ``claims`` signed RS256, with ``kid`` in its header."""
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": key_id(key.public_key())}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def decode(token: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The claims of ``token`` after checking its RS256 signature (not its ``exp``).

    Raises :class:`InvalidToken` when it is malformed, not RS256 or signed by another key.
    """
    try:
        signing_input, _, signature = token.rpartition(".")
        header_part, _, payload_part = signing_input.partition(".")
        header = json.loads(_b64url_decode(header_part))
        claims = json.loads(_b64url_decode(payload_part))
        signature_bytes = _b64url_decode(signature)
        signing_bytes = signing_input.encode("ascii")
    except (binascii.Error, ValueError, UnicodeError, AttributeError) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise InvalidToken("unexpected algorithm")
    try:
        public_key.verify(signature_bytes, signing_bytes, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise InvalidToken("bad signature") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    return claims


def at_hash(access_token: str) -> str:
    """OpenID Connect ``at_hash`` for an RS256-signed id_token (left half of SHA-256)."""
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])
