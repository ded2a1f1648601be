"""The one way this package sends an outbound OAuth call (token, revoke, apps API).

``HTTP_TIMEOUT`` is a **deadline for the whole call**, not a per-read timeout:
name resolution, connecting, TLS, sending, the status line, the headers and
every byte of the body must all arrive before it. A provider dripping one byte
a second is cut off at the deadline, not after ``bytes * HTTP_TIMEOUT``.

How: the call runs in a short-lived worker thread while the caller waits until
the deadline. Every socket the worker opens is registered (a ``dup`` of it, so
a TLS wrapper shares it); at the deadline the caller shuts those sockets down,
which wakes any blocked read at once, and raises. Name resolution cannot be
interrupted, but the caller does not wait for it, and a socket created after
the deadline is shut down as soon as it exists, so the worker always ends too.

Connections are kept alive: each caller thread keeps one ``requests.Session``
(its urllib3 pools, one idle connection per host for the last few hosts), used
by one call's worker at a time. A pooled connection handed to a call is
registered with that call's guard when the pool hands it out (urllib3 reuses
sockets without connecting again); one found closed by the server at that
moment is replaced before anything is sent. A request is never re-sent (no
retries: a token POST whose answer was lost may have spent a rotating refresh
token, RFC 6749 §6). A call cut off at its deadline drops its caller's session,
so a connection that was shut down never goes back to a pool. The session
keeps no cookies: one tenant's call never carries what another's answer set.

The body is read here, fully, up to :data:`MAX_RESPONSE_BYTES`; a larger one
raises :class:`~.exceptions.ResponseTooLarge`. Redirects are never followed.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .conf import app_settings
from .exceptions import ConfigurationError, ProviderError, ResponseTooLarge
from .providers.base import Provider

#: Bytes of a response body we read at most (1 MiB, decoded); more is refused.
MAX_RESPONSE_BYTES = 1 << 20

#: Seconds a refresh lease must outlast the refresh's HTTP calls by (database
#: round trips, clock steps): the lease is at least ``2 * HTTP_TIMEOUT + LEASE_SAFETY``
#: because a refresh may send two token requests (the secret grace-window retry).
LEASE_SAFETY = 5

#: Hosts plain HTTP may go to (the sandbox providers on loopback); HTTPS elsewhere.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: Hosts whose idle keep-alive connection each caller thread's session keeps.
POOL_HOSTS = 4

_CHUNK = 64 * 1024
_OWN_KWARGS = ("timeout", "stream", "allow_redirects")
_local = threading.local()


def require_secure(url: str) -> str:
    """``url`` if it is HTTPS, or plain HTTP to a loopback host (the sandbox providers);
    :class:`~.exceptions.ConfigurationError` otherwise (naming scheme and host only)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url
    if not parts.scheme or not parts.hostname:
        raise ConfigurationError(
            "Refusing to send OAuth credentials to a URL that is not absolute (no scheme or "
            'host): check the endpoint in HELPDESK_OAUTH["PROVIDERS"] (check E017).'
        )
    raise ConfigurationError(
        f"Refusing to send OAuth credentials to a non-HTTPS URL ({parts.scheme}://{parts.hostname})."
    )


class _Guard:
    """The sockets of one call, shut down together when its deadline passes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.fired = False
        self.closed = False

    def watch(self, sock: socket.socket) -> None:
        # A duplicate descriptor: survives the TLS wrap, which detaches the original
        # object, and also works for a pooled connection's TLS socket (no .dup() there).
        dup = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
        with self._lock:
            if not self.fired and not self.closed:
                self._socks.append(dup)
                return
        _shutdown(dup)  # created after the deadline: end it now
        dup.close()

    def fire(self) -> None:
        """Shut every socket down: blocked reads return at once."""
        with self._lock:
            self.fired = True
            for sock in self._socks:
                _shutdown(sock)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            socks, self._socks = self._socks, []
        for sock in socks:
            sock.close()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)


def _watch_new(sock: socket.socket) -> socket.socket:
    guard: _Guard | None = getattr(_local, "guard", None)
    if guard is not None:
        guard.watch(sock)
    return sock


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _watch_new(super()._new_conn())


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _watch_new(super()._new_conn())


def _watch_pooled(conn: Any) -> Any:
    """A connection the pool hands out: its socket, when it already has one (kept alive
    from an earlier call), is registered with this call's guard; one that cannot be
    registered is closed, so it connects again through :func:`_watch_new`."""
    sock = getattr(conn, "sock", None)
    guard: _Guard | None = getattr(_local, "guard", None)
    if sock is None or guard is None:
        return conn
    try:
        guard.watch(sock)
    except (OSError, ValueError, AttributeError):  # not a plain or TLS socket
        conn.close()
    return conn


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        # urllib3 has already replaced a connection the server closed while idle.
        return _watch_pooled(super()._get_conn(timeout))


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watch_pooled(super()._get_conn(timeout))


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Adapter(HTTPAdapter):
    """requests' adapter whose connections register their sockets with the call's guard."""

    def __init__(self) -> None:
        # max_retries=0: nothing is ever re-sent. One idle connection per host, for the
        # last POOL_HOSTS hosts (per-tenant hosts rarely repeat; global ones do).
        super().__init__(max_retries=0, pool_connections=POOL_HOSTS, pool_maxsize=1)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have their own classes
            manager.pool_classes_by_scheme = _POOLS
        return manager


def _new_session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", _Adapter())
    session.mount("https://", _Adapter())
    # No cookies kept: the session serves every tenant of this caller thread.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # Proxies and CA bundles from the environment still apply (trust_env), but never
    # ~/.netrc credentials: requests adds them when neither the request nor the session
    # has auth, which would send a second client authentication (RFC 6749 §2.3).
    session.auth = no_netrc_auth
    return session


def no_netrc_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A ``requests.Session.auth`` that adds nothing: set on a session, it keeps requests
    from adding ``~/.netrc`` credentials (a request's own ``auth`` still replaces it)."""
    return request


def _session() -> requests.Session:
    """The calling thread's session (its keep-alive connections); a new one on first
    use, after a call cut off at its deadline, and in a forked child (whose parent's
    pooled sockets it must not share)."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != os.getpid():
        session = _new_session()
        _local.session, _local.pid = session, os.getpid()
    return session


def _drop_session(session: requests.Session) -> None:
    """Forget the calling thread's ``session`` (a call on it was cut off)."""
    if getattr(_local, "session", None) is session:
        _local.session = None


@sensitive_variables()  # kwargs carry client secrets, tokens and API keys
def _send(
    session: requests.Session,
    method: str,
    url: str,
    guard: _Guard,
    timeout: float,
    box: dict[str, Any],
    kwargs: Any,
) -> None:
    """The worker: send, read the body (bounded), put the response or the error in ``box``."""
    _local.guard = guard
    try:
        response = session.request(
            method, url, timeout=timeout, stream=True, allow_redirects=False, **kwargs
        )
        box["phase"] = "body"
        with response:
            box["response"] = _read_body(response)
    except BaseException as exc:  # handed to the caller, which decides what it means
        box["error"] = exc
    finally:
        _local.guard = None
        guard.close()
        if guard.fired:
            # Cut off: the caller has dropped this session; its connections go too.
            session.close()


def _read_body(response: requests.Response) -> requests.Response:
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise _TooLarge(response.status_code)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK):  # decoded: a gzip bomb is counted too
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge(response.status_code)
        chunks.append(chunk)
    # What requests does itself when it reads the body: .content / .json() now work.
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]
    return response


class _TooLarge(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


@sensitive_variables()  # kwargs carry client secrets, tokens and API keys
def request(
    method: str,
    url: str,
    *,
    provider: Provider,
    what: str,
    deadline: float | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one outbound OAuth request and read its answer, all before ``deadline``.

    ``url`` must be a provider endpoint (checked: HTTPS, or HTTP to loopback).
    ``what`` names the call in messages ("token refresh", "revoke"). ``deadline``
    is a :func:`time.monotonic` value; default now + ``HTTP_TIMEOUT`` seconds. It
    bounds the whole call (resolve, connect, send, headers, body). ``kwargs`` go
    to :meth:`requests.Session.request` (``data``, ``json``, ``headers``,
    ``auth``…); ``timeout``, ``stream`` and ``allow_redirects`` are ours (a
    ``TypeError`` if given). Redirects are not followed: a 3xx is returned as is.

    Returns the response with its body already read (``.content``, ``.json()``),
    whatever its status. Raises :class:`~.exceptions.ResponseTooLarge` for a body
    above :data:`MAX_RESPONSE_BYTES`; :class:`~.exceptions.ProviderError` with
    ``status=None`` (transient) when the deadline passes or the network fails;
    :class:`~.exceptions.ConfigurationError` for a URL that is not HTTPS. No
    message holds the URL, a header or the body.
    """
    for name in _OWN_KWARGS:
        if name in kwargs:
            raise TypeError(f"transport.request() sets {name!r} itself")
    require_secure(url)
    started = time.monotonic()
    if deadline is None:
        deadline = started + float(app_settings.HTTP_TIMEOUT)
    budget = deadline - started
    if budget <= 0:
        raise _timed_out(provider, what, budget)
    guard = _Guard()
    box: dict[str, Any] = {"phase": "send"}
    session = _session()
    worker = threading.Thread(
        target=_send,
        args=(session, method, url, guard, budget, box, kwargs),
        name=f"helpdesk-oauth-{provider.key}",
        daemon=True,
    )
    worker.start()
    try:
        worker.join(max(0.0, deadline - time.monotonic()))
    finally:
        if worker.is_alive():
            # The worker's reads end now; it finishes on its own, with this session,
            # which no later call of this thread uses.
            _drop_session(session)
            guard.fire()
    if worker.is_alive() or guard.fired:
        _drop_session(session)
        raise _timed_out(provider, what, budget)
    error = box.get("error")
    if error is None:
        response: requests.Response = box["response"]
        return response
    if isinstance(error, _TooLarge):
        raise ResponseTooLarge(
            f"{provider.name} {what}: the response is larger than "
            f"{MAX_RESPONSE_BYTES} bytes (1 MiB); refused (HTTP {error.status}).",
            provider=provider.key,
            status=error.status,
            limit=MAX_RESPONSE_BYTES,
        )
    if isinstance(error, requests.Timeout):
        raise _timed_out(provider, what, budget)
    if isinstance(error, requests.RequestException | ValueError):
        # ValueError: a header value requests or http.client cannot encode; its text
        # may hold the value (a key, a token), so only the type is kept.
        kind = _failure_kind(error, box["phase"])
        if isinstance(error, ValueError) and not isinstance(error, requests.RequestException):
            kind = "could not be sent"
        raise ProviderError(
            f"{provider.name} {what} {kind} ({type(error).__name__}).", provider=provider.key
        ) from None
    raise error


def _failure_kind(error: BaseException, phase: str) -> str:
    """How a network failure is worded: ``"could not connect"`` only when no connection
    was made (nothing reached the provider). A kept-alive connection that fails after
    the request was written may have delivered it: a refresh token sent that way may be
    spent, so the message says the answer was lost, not that nothing was sent."""
    if phase != "send":
        return "lost the connection"
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError | ConnectTimeoutError):
            return "could not connect"
        reason = getattr(cause, "reason", None)
        nested = [arg for arg in getattr(cause, "args", ()) if isinstance(arg, BaseException)]
        for other in (reason, cause.__cause__, cause.__context__, *nested):
            if isinstance(other, BaseException):
                pending.append(other)
    return "failed before an answer arrived (the request may have reached the provider)"


def _timed_out(provider: Provider, what: str, budget: float) -> ProviderError:
    return ProviderError(
        f"{provider.name} {what} timed out (deadline {round(max(budget, 0.0), 1):g} s).",
        provider=provider.key,
    )
