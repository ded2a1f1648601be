"""The RSA key signing the sandbox's JWTs, and the JWK Set publishing it."""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from .. import jwt


class SigningKeys:
    """One RS256 key, made on first use (generation takes ~50 ms); a new one per reset,
    so tokens of a previous run stop verifying."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.key: rsa.RSAPrivateKey | None = None

    def current(self) -> rsa.RSAPrivateKey:
        """The signing key (made now if there is none)."""
        with self._lock:
            if self.key is None:
                self.key = jwt.new_key()
            return self.key

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5): ``{"keys": [jwk]}``."""
        return {"keys": [jwt.public_jwk(self.current().public_key())]}
