"""The tenant of new tokens, after the code exchange: confirmed, or learned.

Learning (:func:`learn_tenant`): a provider that names the tenant only after the
exchange (HubSpot, Intercom, Front) puts it in the token response or answers an
``identity_url`` call; the provider module says where and how to read it.

Confirming (:func:`confirm_tenant`):

Where a provider's token endpoint is shared by every tenant (Kustomer's seed
endpoints, ``api.apps.kustomerapp.com``), the user picks the org on the consent
page, so a flow started for ``acmek`` can come back with a code of ``evilk``.
The tenant's own API host tells: it answers the provider's declared
:attr:`~django_helpdesk_oauth.providers.base.Provider.tenant_check_path` for its
own tokens only. The provider module declares what to call and how to read its
answer; the HTTP call lives here. Nothing is stored before this check passes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.views.decorators.debug import sensitive_variables

from .. import transport
from ..exceptions import InvalidTenant, ProviderError, TenantMismatch, TenantUnconfirmed
from ..providers.base import Provider

logger = logging.getLogger(__name__)


@sensitive_variables()  # the new access token, in ``token`` and the header
def _identity_call(
    provider: Provider, url: str, token: Mapping[str, Any], what: str, app_slug: str, tenant: str
) -> tuple[int, bytes]:
    """One ``GET url`` authorized by the new access token the way the provider's API
    takes it (:attr:`Provider.api_auth_scheme`, default ``Bearer``); ``(status, body)``.

    HTTPS or loopback, ``HTTP_TIMEOUT`` seconds for the whole call, no redirects, 1 MiB
    at most. A failed call raises :class:`TenantUnconfirmed` (502); the log names
    neither the token nor the URL (which may hold ``{token}``)."""
    headers = {
        # The tenant is not known yet (or not confirmed): no ``{tenant}`` header.
        **provider.api_headers_for(""),
        "Authorization": f"{provider.api_auth_scheme} {token.get('access_token') or ''}",
        "Accept": "application/json",
    }
    try:
        response = transport.request("GET", url, provider=provider, what=what, headers=headers)
    except ProviderError as exc:  # its message names no token, URL or body
        logger.warning(
            "Install of %s for tenant %r: the %s %s failed: %s",
            app_slug,
            tenant,
            provider.name,
            what,
            exc,
        )
        raise TenantUnconfirmed() from None
    return response.status_code, response.content


@sensitive_variables()  # the new access token, in ``token`` and the identity URL
def learn_tenant(
    provider: Provider,
    token: Mapping[str, Any],
    *,
    expected: str = "",
    config: Mapping[str, Any] | None = None,
    app_slug: str = "",
) -> str:
    """The tenant a provider names only after the code exchange
    (:attr:`Provider.tenant_after_exchange`), validated.

    From the token response (``token``, raw) when the provider puts it there
    (:meth:`Provider.tenant_from_token`), else from one call to ``identity_url``
    (with ``config``'s placeholders; ``{token}`` there is the URL-quoted access token)
    read by :meth:`Provider.tenant_from_identity`. Raises :class:`TenantUnconfirmed`
    (502, nothing stored) when the call fails, answers other than 2xx or not JSON, or
    names no tenant or one :meth:`Provider.validate_tenant` refuses; and
    :class:`TenantMismatch` (403) when ``expected`` (a tenant given on the install
    URL) is not the one named. Logs quote the named value as a repr, never the token.
    """
    raw: Any = provider.tenant_from_token(token)
    source = "token response"
    if raw is None:
        source = "identity answer"
        if not provider.endpoint_template("identity_url"):
            logger.error(
                "Install of %s: the %s token response names no tenant and no identity_url "
                "is configured.",
                app_slug,
                provider.name,
            )
            raise TenantUnconfirmed()
        url = provider.endpoint("identity_url", "", config)
        if "{token}" in url:
            url = url.replace("{token}", quote(str(token.get("access_token") or ""), safe=""))
        status, body = _identity_call(provider, url, token, "identity call", app_slug, expected)
        if not 200 <= status < 300:
            logger.warning(
                "Install of %s: the %s identity call answered HTTP %s.",
                app_slug,
                provider.name,
                status,
            )
            raise TenantUnconfirmed()
        try:
            raw = provider.tenant_from_identity(json.loads(body))
        except (ValueError, UnicodeDecodeError):
            logger.warning("Install of %s: the identity answer is not JSON.", app_slug)
            raise TenantUnconfirmed() from None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # a numeric id (a HubSpot hub id)
    if raw is None:
        logger.warning("Install of %s: the %s %s names no tenant.", app_slug, provider.name, source)
        raise TenantUnconfirmed()
    try:
        tenant = provider.validate_tenant(raw)
    except InvalidTenant:
        shown = raw[:80] if isinstance(raw, str) else type(raw).__name__
        logger.warning(
            "Install of %s refused: the %s %s names an invalid tenant %r.",
            app_slug,
            provider.name,
            source,
            shown,
        )
        raise TenantUnconfirmed() from None
    if expected and tenant != expected:
        logger.warning(
            "Install of %s for tenant %r refused: the %s %s names %r.",
            app_slug,
            expected,
            provider.name,
            source,
            tenant,
        )
        raise _mismatch(provider, expected)
    return tenant


def _mismatch(provider: Provider, tenant: str) -> TenantMismatch:
    return TenantMismatch(
        f"You approved the app in another {provider.name} {provider.tenant_noun}, not “{tenant}”. "
        f"Nothing was installed: start again and approve it in “{tenant}”."
    )


@sensitive_variables()  # the new access token, in ``token`` and the header
def confirm_tenant(
    provider: Provider, tenant: str, token: Mapping[str, Any], *, app_slug: str = ""
) -> None:
    """Confirm that ``token`` (the raw token response) was issued for ``tenant``.

    A no-op unless :meth:`Provider.tenant_check_required` (a token endpoint shared
    by every tenant). Otherwise one Bearer ``GET`` of the tenant's check URL on its
    own API host. Raises :class:`TenantMismatch` (403) when that host refuses the
    token (401) or its answer names another tenant; :class:`TenantUnconfirmed`
    (502) when the call fails (network, ``HTTP_TIMEOUT`` seconds passed for the
    whole call, a redirect, any other status, an answer that is not JSON or above
    1 MiB), or when neither the host nor the answer can tell the tenant. No message
    holds the token or the answer. Foreign tokens are dropped, not revoked: Kustomer
    documents no revoke endpoint.
    """
    if not provider.tenant_check_required():
        return
    url = provider.tenant_check_url(tenant)
    status, body = _identity_call(provider, url, token, "tenant check", app_slug, tenant)
    if status == 401:
        # The tenant's own host does not know this token: another tenant issued it.
        logger.warning(
            "Install of %s for tenant %s refused: the token was issued for another %s tenant.",
            app_slug,
            tenant,
            provider.name,
        )
        raise _mismatch(provider, tenant)
    if not 200 <= status < 300:
        logger.warning(
            "Install of %s for tenant %s: the %s tenant check answered HTTP %s.",
            app_slug,
            tenant,
            provider.name,
            status,
        )
        raise TenantUnconfirmed()
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        logger.warning(
            "Install of %s for tenant %s: the tenant check answer is not JSON.", app_slug, tenant
        )
        raise TenantUnconfirmed() from None
    named = provider.tenant_from_identity(answer)
    if named is None:
        if "{tenant}" not in provider.endpoint_template("api_base_url"):
            # A shared API host accepts every tenant's token: only the answer could tell.
            logger.error(
                "Install of %s for tenant %s: the %s api_base_url is not per tenant and the "
                "tenant check answer names no tenant, so the tenant cannot be confirmed.",
                app_slug,
                tenant,
                provider.name,
            )
            raise TenantUnconfirmed()
        return
    if named.strip().lower() != tenant:
        logger.warning(
            "Install of %s for tenant %s refused: the token belongs to another %s tenant.",
            app_slug,
            tenant,
            provider.name,
        )
        raise _mismatch(provider, tenant)
