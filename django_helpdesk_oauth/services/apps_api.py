"""Calls to a provider's app-management API with an admin API key.

The provider definition holds the paths and reads the answers; this module does
the I/O. The API key is used for the one call and never stored or logged;
answers are reduced to the few fields we need and never echoed into messages.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.views.decorators.debug import sensitive_variables

from .. import transport
from ..client import raise_for_oauth_error
from ..exceptions import ProviderError
from ..providers.base import Provider


@sensitive_variables()
def post_json(provider: Provider, path: str, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``{apps_api_url}{path}`` with ``Bearer api_key``; the JSON answer.

    Raises :class:`~.exceptions.ProviderError` (401/403: the key lacks the roles; 404: no
    such app; any other failure as :func:`~.client.raise_for_oauth_error` maps it), or
    :class:`~.exceptions.ConfigurationError` for a non-HTTPS ``apps_api_url``.
    """
    url = transport.require_secure(provider.endpoint("apps_api_url").rstrip("/") + path)
    # Deadline, no redirects and the 1 MiB body bound come from the transport.
    response = transport.request(
        "POST",
        url,
        provider=provider,
        what="apps API call",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
    )
    if response.status_code in (401, 403):
        hint = f" {provider.api_key_hint}" if provider.api_key_hint else ""
        raise ProviderError(
            f"{provider.name} apps API refused the API key (HTTP {response.status_code}).{hint}",
            provider=provider.key,
            status=response.status_code,
        )
    if response.status_code == 404:
        raise ProviderError(
            f"{provider.name} apps API: no such app (HTTP 404).",
            provider=provider.key,
            status=404,
        )
    return raise_for_oauth_error(provider, response, "apps API call")


@sensitive_variables()
def rotate_client_secret(provider: Provider, *, provider_app_name: str, api_key: str) -> str:
    """Have the provider generate a new client secret for ``provider_app_name``; return it
    (the old one stops working). ``ValueError`` if the provider has no such API or the name
    is empty; :class:`~.exceptions.ProviderError` if the call fails or the answer has none."""
    if not (provider.supports_secret_rotation and provider.secret_rotation_path):
        raise ValueError(f"{provider.name} has no API to rotate a client secret.")
    if not provider_app_name:
        raise ValueError(f"The app's {provider.name} name (provider_app_name) is not set.")
    path = provider.secret_rotation_path.format(app=quote(provider_app_name, safe=""))
    secret = provider.rotated_secret(post_json(provider, path, api_key, {}))
    if not secret:
        raise ProviderError("The apps API answer has no client secret.", provider=provider.key)
    return secret


@sensitive_variables()
def register_app(provider: Provider, *, name: str, title: str, api_key: str) -> tuple[str, str]:
    """Register app ``name`` at the provider; ``(provider_app_name, client_id)``.

    ``ValueError`` if the provider has no such API; :class:`~.exceptions.ProviderError`
    if the call fails or the answer names no app or client id.
    """
    if not (provider.supports_app_registration and provider.app_registration_path):
        raise ValueError(f"{provider.name} has no API to register an app.")
    body = provider.app_registration_body(name=name, title=title)
    registered = provider.registered_app(
        post_json(provider, provider.app_registration_path, api_key, body)
    )
    if registered is None:
        raise ProviderError("The apps API answer has no name or client id.", provider=provider.key)
    return registered
