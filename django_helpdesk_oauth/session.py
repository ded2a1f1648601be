"""``installation.api_session()``: a requests session authorized as one installation."""

from __future__ import annotations

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

    Relative URLs resolve against the tenant's API base. Before each request the
    token is read (one query) and refreshed first — single-flight, see
    :func:`~django_helpdesk_oauth.services.refresh.refresh_installation` — when it
    is expired or inside ``REFRESH_MARGIN``. A 401 triggers one refresh and one
    retry. Every request gets ``HTTP_TIMEOUT`` unless the caller passes one.
    """

    def __init__(self, installation: Installation) -> None:
        super().__init__()
        self.installation_id = installation.pk
        self.base_url = installation.api_base_url
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)

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
            raise NotInstalled(f"Installation {self.installation_id} has no usable token.")
        return token

    def _fresh_token(self) -> Token:
        token = self._token()
        now = timezone.now()
        if token.expires_at <= now + timedelta(seconds=app_settings.REFRESH_MARGIN):
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
            try:
                refresh_installation(self.installation_id, if_version=token.refresh_count)
            except (RefreshFailed, RefreshRetryLater):
                # The failure is recorded on the installation (and signalled); the caller
                # gets the provider's 401 rather than an exception from inside requests.
                return response
            response.close()
            response = self._send_with(self._token(), method, url, **kwargs)
        return response

    def _send_with(
        self, token: Token, method: str | bytes, url: str, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token.access_token}"
        return super().request(method, url, headers=headers, **kwargs)
