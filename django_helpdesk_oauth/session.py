"""``installation.api_session()``: a requests session authorized as one installation."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.utils import timezone

from .conf import app_settings
from .exceptions import NotInstalled
from .models import Installation, Token
from .services.refresh import RefreshFailed, RefreshRetryLater, refresh_installation


class InstallationSession(requests.Session):
    """Sends ``Authorization: Bearer …`` for the installation, to its tenant's API only.

    Relative URLs resolve against the tenant's API base. Before a request the
    token is read (one query) and refreshed first — single-flight, see
    :func:`~django_helpdesk_oauth.services.refresh.refresh_installation` — when it
    is expired or inside ``REFRESH_MARGIN``. A token read less than
    ``SESSION_TOKEN_TTL`` seconds ago and outside the margin is reused without a
    query, so a burst of calls costs one read. A 401 re-reads the token (another
    worker may have refreshed it), refreshes once if it has not changed, and
    retries once. Every request gets ``HTTP_TIMEOUT`` unless the caller passes one.
    """

    def __init__(self, installation: Installation) -> None:
        super().__init__()
        self.installation_id = installation.pk
        self.base_url = installation.api_base_url
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)
        self._cached: Token | None = None
        self._cached_at = 0.0

    def __repr__(self) -> str:
        return f"<InstallationSession installation={self.installation_id} base={self.base_url!r}>"

    def _token(self) -> Token:
        token = (
            Token.objects.filter(
                installation_id=self.installation_id,
                installation__status=Installation.Status.ACTIVE,
            )
            .only("access_token", "token_type", "expires_at", "refresh_count")
            .first()
        )
        if token is None:
            self._cached = None
            raise NotInstalled(f"Installation {self.installation_id} has no usable token.")
        self._cached, self._cached_at = token, time.monotonic()
        return token

    def _fresh_token(self) -> Token:
        now = timezone.now()
        margin = timedelta(seconds=app_settings.REFRESH_MARGIN)
        cached = self._cached
        if (
            cached is not None
            and time.monotonic() - self._cached_at < app_settings.SESSION_TOKEN_TTL
            and cached.expires_at > now + margin
        ):
            return cached
        token = self._token()
        if token.expires_at <= now + margin:
            try:
                refresh_installation(self.installation_id)
            except RefreshRetryLater:
                # Inside the margin but still valid: use it; the beat task retries.
                if token.expires_at <= now:
                    raise
                return token
            token = self._token()
        return token

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, **kwargs: Any
    ) -> requests.Response:
        """Send like ``requests.Session.request`` (options by keyword), authorized."""
        url = urljoin(self.base_url, url.decode() if isinstance(url, bytes) else url)
        target = urlsplit(url)
        if (target.scheme, target.netloc) != self._origin:
            # The bearer token goes to the tenant's API host and nowhere else.
            raise ValueError(
                f"{target.scheme}://{target.netloc} is not this installation's API host."
            )
        kwargs.setdefault("timeout", app_settings.HTTP_TIMEOUT)
        token = self._fresh_token()
        response = self._send_with(token, method, url, **kwargs)
        if response.status_code == 401:
            current = self._token()
            if current.refresh_count == token.refresh_count:
                try:
                    refresh_installation(self.installation_id, if_version=token.refresh_count)
                except (RefreshFailed, RefreshRetryLater):
                    # The failure is recorded on the installation (and signalled); the
                    # caller gets the provider's 401 rather than an exception.
                    return response
                current = self._token()
            response.close()
            response = self._send_with(current, method, url, **kwargs)
        return response

    def _send_with(
        self, token: Token, method: str | bytes, url: str, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token.access_token}"
        return super().request(method, url, headers=headers, **kwargs)
