"""Where the example's sandbox providers are, when ``SANDBOX_BASE_URL`` is not set.

The sandbox is served by this project itself, so its address is the one the
request came in on: the loopback host the browser used and the port the server
listens on (``SERVER_PORT``, never the ``Host`` header's port: our server-side
token calls must reach this very server). :class:`SandboxBaseMiddleware` records it
for the request; :class:`SandboxProviders` (``HELPDESK_OAUTH["PROVIDERS"]``) builds
the endpoint templates from it. Outside a request (the Celery worker, commands) or
on a host that is not loopback, :data:`DEFAULT_BASE` is used (``runserver``'s default
address): set ``SANDBOX_BASE_URL`` for anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port

from django_helpdesk_oauth.sandbox.endpoints import provider_settings

#: The base outside a request: ``manage.py runserver``'s default address.
DEFAULT_BASE = "http://127.0.0.1:8000/sandbox"
#: Hosts a base is derived for (``request.get_host()``, already checked by ALLOWED_HOSTS).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})

_current_base: ContextVar[str | None] = ContextVar("example_sandbox_base", default=None)


def base_for(request: HttpRequest) -> str | None:
    """``http://<loopback host>:<SERVER_PORT>/sandbox`` for a request to a loopback host,
    else ``None``."""
    domain, _port = split_domain_port(request.get_host())
    port = str(request.META.get("SERVER_PORT", ""))
    if domain not in LOOPBACK_HOSTS or not port.isdigit():
        return None
    return f"{request.scheme}://{domain}:{port}/sandbox"


def current_base() -> str:
    """The sandbox base of the request being served, or :data:`DEFAULT_BASE`."""
    return _current_base.get() or DEFAULT_BASE


class SandboxBaseMiddleware:
    """Records :func:`base_for` of each request while it is served (a context variable:
    concurrent requests on other threads keep their own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_base.set(base_for(request))
        try:
            return self.get_response(request)
        finally:
            _current_base.reset(token)


@lru_cache(maxsize=16)
def _settings_for(base: str, kustomer: str) -> dict[str, dict[str, Any]]:
    return provider_settings(base, kustomer=kustomer)


class SandboxProviders(Mapping[str, dict[str, Any]]):
    """``HELPDESK_OAUTH["PROVIDERS"]`` for the sandbox at :func:`current_base`, read on
    every access (the package reads ``PROVIDERS[key]`` each time it builds a URL)."""

    def __init__(self, kustomer: str = "per_org") -> None:
        self.kustomer = kustomer

    def _now(self) -> dict[str, dict[str, Any]]:
        return _settings_for(current_base(), self.kustomer)

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._now()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())

    def __repr__(self) -> str:
        return f"<SandboxProviders at {current_base()} (from the request)>"
