"""Authorization codes, access and refresh tokens: issue, find, revoke."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from .records import AuthorizationCode, IssuedToken, new_secret


class TokenStore:
    """Codes and tokens, with the counters of what was issued and revoked."""

    def __init__(
        self, lock: threading.RLock, clock: Callable[[], float], counters: Counter[str]
    ) -> None:
        self._lock, self._clock, self.counters = lock, clock, counters
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, IssuedToken] = {}

    def create_code(self, lifetime: float, **binding: Any) -> AuthorizationCode:
        """A single-use code living ``lifetime`` seconds, bound to ``binding``."""
        with self._lock:
            code = AuthorizationCode(
                code=new_secret(), expires_at=self._clock() + lifetime, **binding
            )
            self.codes[code.code] = code
            self.counters["codes"] += 1
            return code

    def add(self, token: IssuedToken) -> IssuedToken:
        """Store an issued access or refresh token."""
        with self._lock:
            store = self.access_tokens if token.kind == "access" else self.refresh_tokens
            store[token.token] = token
            self.counters[f"{token.kind}_tokens"] += 1
            return token

    def find_access(self, token: str | None) -> IssuedToken | None:
        """The access token record if ``token`` is currently usable, else ``None``."""
        if not token:
            return None
        with self._lock:
            record = self.access_tokens.get(token)
            return record if record is not None and record.usable(self._clock()) else None

    def revoke(self, token: str) -> bool:
        """Revoke one access or refresh token; ``True`` if it existed."""
        with self._lock:
            record = self.refresh_tokens.get(token) or self.access_tokens.get(token)
            if record is None:
                return False
            record.revoked = True
            self.counters["revocations"] += 1
            return True

    def _revoke_where(self, records: list[IssuedToken]) -> int:
        for record in records:
            record.revoked = True
        self.counters["revocations"] += len(records)
        return len(records)

    def revoke_family(self, family: str) -> int:
        """Revoke every token descending from one authorization code; returns how many."""
        with self._lock:
            every = (*self.access_tokens.values(), *self.refresh_tokens.values())
            return self._revoke_where([t for t in every if t.family == family and not t.revoked])

    def revoke_all(self, tenant: str, provider: str | None, access_tokens: bool) -> int:
        """Revoke every refresh (and access) token of ``tenant``; returns how many."""
        with self._lock:
            stores = [self.refresh_tokens] + ([self.access_tokens] if access_tokens else [])
            return self._revoke_where(
                [
                    t
                    for store in stores
                    for t in store.values()
                    if t.tenant == tenant and provider in (None, t.provider) and not t.revoked
                ]
            )

    def live_refresh(self, provider: str | None, tenant: str | None) -> list[IssuedToken]:
        """Refresh tokens that would still be accepted, optionally filtered."""
        with self._lock:
            return [
                t
                for t in self.refresh_tokens.values()
                if t.usable(self._clock())
                and provider in (None, t.provider)
                and tenant in (None, t.tenant)
            ]
