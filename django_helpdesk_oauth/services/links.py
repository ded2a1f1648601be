"""The absolute URLs a provider app is given to the provider: its redirect URI
(``helpdesk_oauth:callback``) and its install URL (``helpdesk_oauth:install``).

One rule for the callback view, the admin and the commands: on ``REDIRECT_BASE_URL``
when it is set, else on the request's own scheme and host (Django's
``build_absolute_uri``, which trusts ``X-Forwarded-*`` only if configured).
"""

from __future__ import annotations

from typing import Protocol

from django.urls import NoReverseMatch, reverse

from ..conf import app_settings
from ..exceptions import ConfigurationError

#: The ``urlpatterns`` entry that includes the package's URLs (any prefix will do).
URLS_INCLUDE = 'path("helpdesk/", include("django_helpdesk_oauth.urls"))'

#: The one-line fix when the package's URLs are not in the project's URLconf.
INCLUDE_URLS = (
    f"The django_helpdesk_oauth URLs are not in the project's URLconf: add {URLS_INCLUDE} "
    "to ROOT_URLCONF."
)


class _Request(Protocol):
    def build_absolute_uri(self, location: str | None = None) -> str: ...


def require_urls() -> None:
    """Raise :class:`~.exceptions.ConfigurationError` (naming the fix) when
    ``django_helpdesk_oauth.urls`` is not included under its ``helpdesk_oauth`` namespace."""
    try:
        reverse("helpdesk_oauth:callback", args=["app"])
    except NoReverseMatch:
        raise ConfigurationError(INCLUDE_URLS) from None


def absolute(path: str, request: _Request | None = None) -> str:
    """``path`` on ``REDIRECT_BASE_URL``, else on ``request``'s origin; without either,
    ``path`` itself (a command with no base URL set)."""
    base = app_settings.REDIRECT_BASE_URL
    if base:
        return base.rstrip("/") + path
    return request.build_absolute_uri(path) if request is not None else path


def redirect_uri(slug: str, request: _Request | None = None) -> str:
    """The redirect URI to register at the provider for app ``slug`` (RFC 6749 §3.1.2).

    Raises :class:`~django.urls.NoReverseMatch` when the package URLs are not included
    (:func:`require_urls` says so in one line)."""
    return absolute(reverse("helpdesk_oauth:callback", args=[slug]), request)


def install_url(slug: str, request: _Request | None = None) -> str:
    """Where a tenant starts installing app ``slug`` (the page asks for the tenant when
    the provider needs one). Raises :class:`~django.urls.NoReverseMatch` as above."""
    return absolute(reverse("helpdesk_oauth:install", args=[slug]), request)
