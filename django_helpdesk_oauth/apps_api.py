"""Calls to a provider's app-management API with an admin API key (Kustomer's apps API).

The API key is used for the one call and never stored or logged; responses are
reduced to the few fields we need and never echoed into messages.
"""

from __future__ import annotations

from typing import Any

from django.views.decorators.debug import sensitive_variables

from . import transport
from .client import raise_for_oauth_error, require_secure
from .exceptions import ProviderError
from .providers.base import Provider


@sensitive_variables()
def post_json(provider: Provider, path: str, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``{apps_api_url}{path}`` with ``Bearer api_key``; the JSON answer."""
    url = require_secure(provider.endpoint("apps_api_url").rstrip("/") + path)
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
        raise ProviderError(
            f"{provider.name} apps API refused the API key (HTTP {response.status_code}); "
            "it needs the roles org.admin.apps and org.permission.apps.",
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


def attributes(payload: dict[str, Any]) -> dict[str, Any]:
    """``data.attributes`` of a JSON:API answer, or an error if it is not there."""
    data = payload.get("data")
    attrs = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attrs, dict):
        raise ProviderError("The apps API answer has no data.attributes.")
    return attrs
