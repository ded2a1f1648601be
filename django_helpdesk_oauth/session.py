"""``installation.api_session()``: a requests session authorized as one installation."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from requests.structures import CaseInsensitiveDict

from .conf import app_settings
from .exceptions import NotInstalled, RedirectRefused, UnusableAccessToken
from .models import Installation, Token
from .services import isolation
from .services.refresh import RefreshFailed, RefreshRetryLater, refresh_installation
from .signals import (
    installation_completed,
    installation_needs_reauth,
    installation_uninstalled,
    token_refreshed,
)
from .token_response import header_safe
from .transport import no_netrc_auth


class _Entry:
    """One cached token read: the row, its version (``refresh_count``), the installation's
    ``connection_config`` it was read with (which API hosts the token is for) and when it
    was read (``time.monotonic()`` seconds). Its repr names no token."""

    __slots__ = ("config", "read_at", "token", "version")

    def __init__(self, token: Token, read_at: float) -> None:
        self.token = token
        self.version = token.refresh_count
        self.config = _config_of(token)
        self.read_at = read_at

    def __repr__(self) -> str:
        return f"<token read version={self.version}>"


class TokenCache:
    """The tokens ``api_session()`` read in this process, by installation id.

    An entry serves for ``SESSION_TOKEN_TTL`` seconds after its read and never once the
    token is due (:meth:`~.Token.is_due`); ``0`` turns the cache off. So a session built
    per request (``installation.api_session().get(…)`` in a view) costs a query only
    once per TTL. Thread-safe (one lock). An entry is dropped when this process
    refreshes, installs again, marks for re-authorization, uninstalls or deletes the
    installation or its token (signal receivers below), and on a 401 to its token; a
    change made by another process reaches this one within the TTL (or at once on a
    401). A read that began before an invalidation of its installation is not stored
    (it may hold the replaced token). At most :attr:`MAX_ENTRIES` entries, kept in the
    order they were read: a full cache drops the expired ones, then the least recently
    read, from the front (no scan of the whole cache while it holds the lock).
    """

    #: Entries kept at most (a full cache drops expired entries, then the oldest).
    MAX_ENTRIES = 10_000
    #: Invalidations remembered to refuse a store of a read that overlapped one.
    _RECENT = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._epoch = 0
        self._cleared = 0
        self._recent: deque[tuple[int, int]] = deque(maxlen=self._RECENT)

    def __repr__(self) -> str:
        return f"<TokenCache entries={len(self._entries)}>"

    def get(
        self, installation_id: int, ttl: float, config: Mapping[str, Any] | None = None
    ) -> Token | None:
        """The cached token when read less than ``ttl`` seconds ago and not due, else
        ``None``; also ``None`` when ``config`` is given and the token was read with
        another ``connection_config`` (re-installed for other API hosts)."""
        if ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(installation_id)
        if entry is None:
            return None
        if config is not None and entry.config != config:
            return None
        if time.monotonic() - entry.read_at >= ttl or entry.token.is_due():
            self.forget(installation_id, only=entry)
            return None
        return entry.token

    def epoch(self) -> int:
        """A stamp to take before a read and hand to :meth:`put` after it."""
        with self._lock:
            return self._epoch

    def put(self, installation_id: int, token: Token, epoch: int, ttl: float) -> None:
        """Store ``token`` read after ``epoch`` (see :meth:`epoch`), unless its installation
        was invalidated since (or too many invalidations happened to tell)."""
        if ttl <= 0:
            return
        with self._lock:
            if epoch < self._cleared:
                return
            if epoch != self._epoch:
                oldest = self._recent[0][0] if self._recent else self._epoch
                if epoch < oldest - 1 or any(
                    stamp > epoch and pk == installation_id for stamp, pk in self._recent
                ):
                    return
            # Re-inserted at the end: the dict stays in the order of the reads.
            self._entries.pop(installation_id, None)
            if len(self._entries) >= self.MAX_ENTRIES:
                self._prune(ttl)
            self._entries[installation_id] = _Entry(token, time.monotonic())

    def forget(self, installation_id: int, *, only: _Entry | None = None) -> None:
        """Drop the installation's entry (``only``: just when it is still that entry)."""
        with self._lock:
            if only is not None:
                if self._entries.get(installation_id) is only:
                    del self._entries[installation_id]
                return
            self._entries.pop(installation_id, None)
            self._epoch += 1
            self._recent.append((self._epoch, installation_id))

    def clear(self) -> None:
        """Drop every entry (tests, a key rotation)."""
        with self._lock:
            self._entries.clear()
            self._epoch += 1
            self._cleared = self._epoch

    def _prune(self, ttl: float) -> None:
        """Drop entries from the front (the oldest reads): the expired ones, then as many
        as it takes to make room for one. Costs what it drops, not the cache's size."""
        now = time.monotonic()
        while self._entries:
            pk, entry = next(iter(self._entries.items()))
            if now - entry.read_at < ttl and len(self._entries) < self.MAX_ENTRIES:
                return
            del self._entries[pk]


def _config_of(token: Token) -> Any:
    """The ``connection_config`` of the installation ``token`` was read with (read along
    with it by :meth:`InstallationSession._read_token`)."""
    return token.installation.connection_config


#: The process's token cache (see :class:`TokenCache`).
token_cache = TokenCache()


def forget_token(installation_id: int) -> None:
    """Drop the cached token of ``installation_id`` now and, inside a transaction, again
    when it commits (a read between the two would see the row before the change)."""
    token_cache.forget(installation_id)
    with contextlib.suppress(Exception):  # no usable connection: the TTL bounds it
        transaction.on_commit(lambda: token_cache.forget(installation_id))


def _on_installation_signal(sender: Any, installation: Installation, **kwargs: Any) -> None:
    forget_token(installation.pk)


def _on_token_saved_or_deleted(sender: Any, instance: Token, **kwargs: Any) -> None:
    forget_token(instance.installation_id)


for _signal in (
    token_refreshed,
    installation_uninstalled,
    installation_completed,
    installation_needs_reauth,
):
    _signal.connect(
        _on_installation_signal, weak=False, dispatch_uid="helpdesk_oauth_session_cache"
    )


def _on_setting_changed(sender: Any, setting: str, **kwargs: Any) -> None:
    if setting == "HELPDESK_OAUTH":  # keys, TTL or providers changed: read again
        token_cache.clear()


def _on_post_migrate(sender: Any, **kwargs: Any) -> None:
    token_cache.clear()  # migrated or flushed (a test database): no row is what it was


setting_changed.connect(
    _on_setting_changed, weak=False, dispatch_uid="helpdesk_oauth_session_cache"
)
post_migrate.connect(_on_post_migrate, weak=False, dispatch_uid="helpdesk_oauth_session_cache")
for _model_signal in (post_save, post_delete):
    _model_signal.connect(
        _on_token_saved_or_deleted,
        sender=Token,
        weak=False,
        dispatch_uid="helpdesk_oauth_session_cache",
    )


class InstallationSession(requests.Session):
    """Sends ``Authorization: Bearer …`` (the provider's :attr:`~.Provider.api_auth_scheme`,
    with its static :attr:`~.Provider.api_headers`) for the installation, to its tenant's
    API only.

    Relative URLs resolve against the tenant's API base. Before a request the
    token is read (one query) and refreshed first — single-flight, see
    :func:`~django_helpdesk_oauth.services.refresh.refresh_installation` — when it
    is due (:meth:`~django_helpdesk_oauth.models.Token.is_due`: inside ``REFRESH_MARGIN``,
    capped at half its granted lifetime; a token that never expires never is). A token
    this process read less than ``SESSION_TOKEN_TTL`` seconds ago and not due is reused
    without a query (:data:`token_cache`, shared by every session of the process), so a
    burst of calls, or a session built per request, costs one read per TTL. A 401 drops
    it, re-reads the token (another worker may have refreshed it), refreshes once if it
    has not changed (a token that never expires is not: the 401 is returned as is), and
    retries once. Every request gets ``HTTP_TIMEOUT`` unless the caller passes one.

    The API base is the one of the installation as passed in; the token is read with the
    installation's current ``connection_config``. When the two no longer match (the
    installation was installed again for other API hosts since, e.g. another region),
    the request raises :class:`~.exceptions.NotInstalled` before anything is sent: a
    token is never sent to another region's hosts. Build a new session from the
    installation read again.
    """

    def __init__(self, installation: Installation) -> None:
        super().__init__()
        # ~/.netrc credentials for the API host would replace the installation's token.
        self.auth = no_netrc_auth
        self.installation_id = installation.pk
        self.base_url = installation.api_base_url
        # The provider's declared API auth scheme and static headers (checked when its
        # class was created: an RFC 9110 token, header-safe values).
        self._provider = installation.provider_spec
        # A ``{tenant}`` in a declared header (Zoho Desk's orgId) is this installation's.
        self._tenant = installation.tenant
        # The API hosts base_url was built for: a token read with another config is not sent.
        self._config = installation.connection_config
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc)

    def __repr__(self) -> str:
        return f"<InstallationSession installation={self.installation_id} base={self.base_url!r}>"

    def _read_token(self) -> Token | None:
        return (
            Token.objects.of_active_installations()
            .filter(installation_id=self.installation_id)
            .select_related("installation")
            .only(
                "access_token",
                "token_type",
                "expires_at",
                "lifetime",
                "refresh_count",
                "installation__connection_config",
            )
            .first()
        )

    def _for_this_base(self, token: Token) -> Token:
        """``token`` when it was read with the config this session's base was built for;
        :class:`NotInstalled` (nothing sent) when the installation was installed again
        for other API hosts since."""
        if _config_of(token) != self._config:
            raise NotInstalled(
                f"Installation {self.installation_id} was installed again for other API "
                "hosts since this session was built; read the installation again and build "
                "a new session (installation.api_session())."
            )
        return token

    def _token(self) -> Token:
        """Read the token (one query) and cache it; :class:`NotInstalled` without one."""
        epoch = token_cache.epoch()
        if isolation.in_caller_transaction() and not isolation.single_writer_database():
            # The refresh commits on a connection of its own; read there too, or a
            # snapshot of the caller's transaction (SQLite WAL, REPEATABLE READ) would
            # keep handing back the token it replaced.
            token = isolation.on_own_connection(self._read_token)
        else:
            token = self._read_token()
        if token is None:
            token_cache.forget(self.installation_id)
            raise NotInstalled(f"Installation {self.installation_id} has no usable token.")
        token_cache.put(self.installation_id, token, epoch, app_settings.SESSION_TOKEN_TTL)
        return self._for_this_base(token)

    def _fresh_token(self) -> Token:
        cached = token_cache.get(self.installation_id, app_settings.SESSION_TOKEN_TTL, self._config)
        if cached is not None:
            return cached
        now = timezone.now()
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
            # Refused: never serve this token from the cache again.
            token_cache.forget(self.installation_id)
            current = self._token()
            if current.refresh_count == token.refresh_count:
                if current.never_expires:
                    # Never refreshed (DESIGN.md); the same token would get the same 401.
                    token_cache.forget(self.installation_id)
                    return response
                try:
                    refresh_installation(self.installation_id, if_version=token.refresh_count)
                except (RefreshFailed, RefreshRetryLater):
                    # The failure is recorded on the installation (and signalled); the
                    # caller gets the provider's 401 rather than an exception.
                    token_cache.forget(self.installation_id)
                    return response
                current = self._token()
            response.close()
            response = self._send_with(current, method, url, **kwargs)
            if response.status_code == 401:
                token_cache.forget(self.installation_id)
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
