"""Kustomer: org-scoped OAuth with rotating refresh tokens.

Quirks (DESIGN.md): client credentials in the form body only; ``offline_access``
is needed for a refresh token; each refresh returns a new refresh token and
spends the old one; no revoke endpoint; PKCE S256.

Endpoints: the default is the current docs' per-org set (:data:`PER_ORG_ENDPOINTS`):
the code is redeemed at the org's own token host, which refuses another org's
codes. The seed's global set (:data:`GLOBAL_ENDPOINTS`) stays selectable::

    from django_helpdesk_oauth.providers.kustomer import GLOBAL_ENDPOINTS
    HELPDESK_OAUTH = {"PROVIDERS": {"kustomer": GLOBAL_ENDPOINTS}}

With it, one token endpoint takes every org's codes and the user picks the org
on the consent page, so after the exchange the org is confirmed through its own
API host (:attr:`KustomerProvider.tenant_check_path`) before anything is stored.
"""

from __future__ import annotations

from typing import Any

from django.views.decorators.debug import sensitive_variables

from .base import Provider

#: The endpoint set of Kustomer's current docs (per-org hosts): the default.
PER_ORG_ENDPOINTS = {
    "authorize_url": "https://{tenant}.kustomerapp.com/oauth/authorize",
    "token_url": "https://{tenant}.api.kustomerapp.com/oauth/token",
}

#: The seed document's global endpoints (``api.apps.kustomerapp.com``): one
#: consent page where the user picks the org, one token endpoint for every org.
GLOBAL_ENDPOINTS = {
    "authorize_url": "https://api.apps.kustomerapp.com/oauth/authorize",
    "token_url": "https://api.apps.kustomerapp.com/oauth/token",
}


class KustomerProvider(Provider):
    key = "kustomer"
    name = "Kustomer"
    endpoints = {
        **PER_ORG_ENDPOINTS,
        # A token works only in the region (host) that issued it.
        "api_base_url": "https://{tenant}.api.kustomerapp.com/v1/",
        "apps_api_url": "https://api.kustomerapp.com",
    }
    client_auth = "client_secret_post"
    default_scopes = ("org.permission.customer", "org.permission.conversation", "offline_access")
    tenant_params = ("org",)
    tenant_label = "Kustomer organization name"
    tenant_noun = "organization"
    tenant_hint = "The name in your Kustomer address: https://<name>.kustomerapp.com"
    # The docs ask for the org name before the flow starts.
    ask_for_tenant = True
    # Each refresh answer carries a new refresh token and spends the old one.
    refresh_token_rotation = "always"
    # The per-org authorize host (the default endpoints); with GLOBAL_ENDPOINTS set,
    # Provider.issuer() follows the moved authorize URL (api.apps.kustomerapp.com).
    issuer_template = "https://{tenant}.kustomerapp.com"
    fallback_lifetime = 86400
    pkce = True
    nonce = False

    # Kustomer documents no OAuth revoke endpoint: tokens of another org, redeemed
    # through the global set and refused by the org check, can only be dropped.
    #: ``GET https://{org}.api.kustomerapp.com/v1/users/current`` with the new token:
    #: the org's own API host answers it for that org's tokens only (401 otherwise).
    #: The call and its answer's shape (a JSON:API user whose org is at
    #: ``data.relationships.org.data.id``) come from a secondary source
    #: (PROVIDERS.md [K6]); Kustomer's API docs ([K2]) say a token works only on the
    #: ``{org}.api.kustomerapp.com`` host (the region) that issued it.
    tenant_check_path = "users/current"

    def tenant_from_identity(self, body: Any) -> str | None:
        """The org name in a ``users/current`` answer, when it carries one.

        The user resource names its org by id only; when the answer includes that
        org resource (JSON:API ``included``, type ``org``), its ``attributes.name``
        is the org name (the subdomain) and is returned. ``None`` otherwise: then
        the org's own host answering 2xx is the confirmation.
        """
        if not isinstance(body, dict):
            return None
        org_id: Any = body.get("data")
        for key in ("relationships", "org", "data", "id"):  # data.relationships.org.data.id
            org_id = org_id.get(key) if isinstance(org_id, dict) else None
        if not isinstance(org_id, str):
            return None
        included = body.get("included")
        for item in included if isinstance(included, list) else ():
            if isinstance(item, dict) and item.get("type") == "org" and item.get("id") == org_id:
                attributes = item.get("attributes")
                name = attributes.get("name") if isinstance(attributes, dict) else None
                return name if isinstance(name, str) else None
        return None

    def extra_authorize_params(self, tenant: str) -> dict[str, str]:
        """The org as a hint: the global endpoint cannot tell which org the user meant
        (the sandbox pre-fills its consent page with it; servers ignore unknown params)."""
        return {"org": tenant}

    # Seed steps 1 and 2: register a private app, generate its client secret. Data only:
    # services.apps_api sends the calls with the admin API key and hands the answers here.
    supports_secret_rotation = True
    supports_app_registration = True
    app_registration_path = "/v1/apps/available"
    secret_rotation_path = "/v1/apps/available/{app}/secret"
    api_key_hint = "It needs the roles org.admin.apps and org.permission.apps."
    provider_app_name_hint = "The namespaced app name, <app>_<org id>."

    def app_registration_body(self, *, name: str, title: str) -> dict[str, Any]:
        """The minimal private app definition."""
        return {"app": name, "version": "0.0.1", "title": title, "visibility": "private"}

    def registered_app(self, answer: Any) -> tuple[str, str] | None:
        """``(name, clientId)`` from the JSON:API ``data.attributes``; the name is namespaced
        by Kustomer (``myapp_<orgId>``)."""
        attrs = _attributes(answer)
        name, client_id = attrs.get("name"), attrs.get("clientId")
        if isinstance(name, str) and name and isinstance(client_id, str) and client_id:
            return name, client_id
        return None

    @sensitive_variables()
    def rotated_secret(self, answer: Any) -> str | None:
        """``data.attributes.clientSecret``."""
        secret = _attributes(answer).get("clientSecret")
        return secret if isinstance(secret, str) and secret else None


def _attributes(answer: Any) -> dict[str, Any]:
    """``data.attributes`` of a JSON:API answer, or ``{}``."""
    data = answer.get("data") if isinstance(answer, dict) else None
    attrs = data.get("attributes") if isinstance(data, dict) else None
    return attrs if isinstance(attrs, dict) else {}
