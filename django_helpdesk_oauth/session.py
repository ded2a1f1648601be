"""``installation.api_session()``: a requests session authorized as one installation."""

from __future__ import annotations

import contextlib
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from requests.structures import CaseInsensitiveDict

from .conf import app_settings
from .exceptions import NotInstalled, RedirectRefused, UnusableAccessToken
from .models import Installation, Token
from .services import isolation
from .services.refresh import RefreshFailed, RefreshRetryLater, refresh_installation
from .token_response import header_safe


class InstallationSession(requests.Session):
    """Sends ``Authorization: Bearer …`` (the provider's :attr:`~.Provider.api_auth_scheme`,
    with its static :attr:`~.Provider.api_headers`) for the installation, to its tenant's
    API only.

    Relative URLs resolve against the tenant's API base. Before a request the
    token is read (one query) and refreshed first — single-flight, see
    :func:`~django_helpdesk_oauth.services.refresh.refresh_installation` — when it
    is due (:meth:`~django_helpdesk_oauth.models.Token.is_due`: inside ``REFRESH_MARGIN``,
    capped at half its granted lifetime; a token that never expires never is). A token
    read less than ``SESSION_TOKEN_TTL`` seconds ago and not due is reused without a
    query, so a burst of calls costs one read. A 401 re-reads the token (another
    worker may have refreshed it), refreshes once if it has not changed (a token that
    never expires is not: the 401 is returned as is), and retries once. Every
    request gets ``HTTP_TIMEOUT`` unless the caller passes one.
    """

    def __init__(self, installation: Installation) -> None:
        super().__init__()
        self.installation_id = installation.pk
        self.base_url = installation.api_base_url
        # The provider's declared API auth scheme and static headers (checked when its
        # class was created: an RFC 9110 token, header-safe values).
        self._provider = installation.provider_spec
        # A ``{tenant}`` in a declared header (Zoho Desk's orgId) is this installation's.
        self._tenant = installation.tenant
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)
        self._cached: Token | None = None
        self._cached_at = 0.0

    def __repr__(self) -> str:
        return f"<InstallationSession installation={self.installation_id} base={self.base_url!r}>"

    def _read_token(self) -> Token | None:
        return (
            Token.objects.of_active_installations()
            .filter(installation_id=self.installation_id)
            .only("access_token", "token_type", "expires_at", "lifetime", "refresh_count")
            .first()
        )

    def _token(self) -> Token:
        if isolation.in_caller_transaction() and not isolation.single_writer_database():
            # The refresh commits on a connection of its own; read there too, or a
            # snapshot of the caller's transaction (SQLite WAL, REPEATABLE READ) would
            # keep handing back the token it replaced.
            token = isolation.on_own_connection(self._read_token)
        else:
            token = self._read_token()
        if token is None:
            self._cached = None
            raise NotInstalled(f"Installation {self.installation_id} has no usable token.")
        self._cached, self._cached_at = token, time.monotonic()
        return token

    def _fresh_token(self) -> Token:
        now = timezone.now()
        cached = self._cached
        if (
            cached is not None
            and time.monotonic() - self._cached_at < app_settings.SESSION_TOKEN_TTL
            and not cached.is_due(now)
        ):
            return cached
        token = self._token()
        # Token.is_due: the one predicate (never for a token that never expires).
        if token.is_due(now):
            try:
                refresh_installation(self.installation_id)
            except RefreshRetryLater:
                # Inside the margin but still valid: use it; the beat task retries.
                if token.expires_at is not None and token.expires_at <= now:
                    raise
                return token
            token = self._token()
        return token

    @sensitive_variables()
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
                if current.never_expires:
                    # Never refreshed (DESIGN.md); the same token would get the same 401.
                    return response
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

    def resolve_redirects(
        self, resp: requests.Response, req: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> Any:
        """Follow redirects within the API origin only; raise :class:`RedirectRefused` before
        one off it is sent (requests would strip the header, but hand back the foreign answer).

        ``allow_redirects=False`` (requests then only *prepares* the next hop) is left alone.
        """
        if kwargs.get("yield_requests"):
            yield from super().resolve_redirects(resp, req, *args, **kwargs)
            return
        # The generator sends a hop when asked for it: check each response's target first.
        self._refuse_off_origin(resp)
        for hop in super().resolve_redirects(resp, req, *args, **kwargs):
            self._refuse_off_origin(hop)
            yield hop

    def _refuse_off_origin(self, resp: requests.Response) -> None:
        target = self.get_redirect_target(resp)
        if target is None:
            return
        location = _origin(urljoin(resp.url, target))
        if location != _origin(self.base_url):
            resp.close()
            raise RedirectRefused(resp.status_code, _origin_text(location))

    def _send_with(
        self, token: Token, method: str | bytes, url: str, **kwargs: Any
    ) -> requests.Response:
        if not header_safe(token.access_token):
            token = self._replace_unusable(token)
        # The provider's static headers, then the caller's (same name: the caller's
        # wins), then ours: Authorization is always the installation's token.
        headers = CaseInsensitiveDict(self._provider.api_headers_for(self._tenant))
        headers.update(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"{self._provider.api_auth_scheme} {token.access_token}"
        return super().request(method, url, headers=headers, **kwargs)

    def _replace_unusable(self, token: Token) -> Token:
        """Refresh once a stored access token that cannot go in a header, and re-read it.

        Such a row was written before token answers were checked, or is the empty
        access token a salvaged install stores. Raises :class:`UnusableAccessToken`
        (naming no token) when the refresh does not give a usable one; sending it
        would raise a ``UnicodeEncodeError``/``ValueError`` whose text holds the token.
        """
        # A failure is recorded on the installation; the check below decides.
        with contextlib.suppress(RefreshFailed, RefreshRetryLater):
            refresh_installation(self.installation_id, if_version=token.refresh_count)
        current = self._token()
        if not header_safe(current.access_token):
            raise UnusableAccessToken(
                f"Installation {self.installation_id}'s stored access token cannot be sent in "
                "an HTTP header and could not be refreshed (see its last error)."
            )
        return current


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` with the defaults filled in; ``("", "", None)`` if unparsable."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number, a malformed IPv6 host
        return "", "", None


def _origin_text(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    if not host:
        return "an unparsable URL"
    return f"{scheme}://{host}" + ("" if port == _DEFAULT_PORTS.get(scheme) else f":{port}")
