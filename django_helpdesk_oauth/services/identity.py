"""Confirming, after the code exchange, that new tokens belong to the flow's tenant.

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

from django.views.decorators.debug import sensitive_variables

from .. import transport
from ..exceptions import ProviderError, TenantMismatch, TenantUnconfirmed
from ..providers.base import Provider

logger = logging.getLogger(__name__)


def _mismatch(provider: Provider, tenant: str) -> TenantMismatch:
    return TenantMismatch(
        f"You approved the app in another {provider.name} organization, not “{tenant}”. "
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
    headers = {
        "Authorization": f"Bearer {token.get('access_token') or ''}",
        "Accept": "application/json",
    }
    try:
        # HTTPS or loopback, HTTP_TIMEOUT for the whole call, no redirects, 1 MiB at most.
        response = transport.request(
            "GET", url, provider=provider, what="org check", headers=headers
        )
    except ProviderError as exc:  # its message names no token, URL or body
        logger.warning(
            "Install of %s for tenant %s: the %s org check failed: %s",
            app_slug,
            tenant,
            provider.name,
            exc,
        )
        raise TenantUnconfirmed() from None
    status, body = response.status_code, response.content
    if status == 401:
        # The tenant's own host does not know this token: another tenant issued it.
        logger.warning(
            "Install of %s for tenant %s refused: the token was issued for another %s org.",
            app_slug,
            tenant,
            provider.name,
        )
        raise _mismatch(provider, tenant)
    if not 200 <= status < 300:
        logger.warning(
            "Install of %s for tenant %s: the %s org check answered HTTP %s.",
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
            "Install of %s for tenant %s: the org check answer is not JSON.", app_slug, tenant
        )
        raise TenantUnconfirmed() from None
    named = provider.tenant_from_identity(answer)
    if named is None:
        if "{tenant}" not in provider.endpoint_template("api_base_url"):
            # A shared API host accepts every tenant's token: only the answer could tell.
            logger.error(
                "Install of %s for tenant %s: the %s api_base_url is not per tenant and the "
                "org check answer names no org, so the org cannot be confirmed.",
                app_slug,
                tenant,
                provider.name,
            )
            raise TenantUnconfirmed()
        return
    if named.strip().lower() != tenant:
        logger.warning(
            "Install of %s for tenant %s refused: the token belongs to another %s org.",
            app_slug,
            tenant,
            provider.name,
        )
        raise _mismatch(provider, tenant)
