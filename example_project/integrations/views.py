"""The integrations page: what is installed, and buttons to connect or uninstall."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from django_helpdesk_oauth.models import Installation, ProviderApp

#: What follows the tenant in the provider's address, shown next to the input.
TENANT_SUFFIX = {"gorgias": ".gorgias.com", "kustomer": ".kustomerapp.com"}


def install_url(app: ProviderApp, tenant: str = "") -> str:
    """The app's install URL, with the tenant in the provider's own query parameter."""
    url = reverse("helpdesk_oauth:install", args=[app.slug])
    if tenant:
        url += "?" + urlencode({app.provider_spec.tenant_params[0]: tenant})
    return url


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """List installations (never a token) and offer Connect / Uninstall."""
    now = timezone.now()
    rows = []
    # select_related("token"): one query for the whole table; only non-secret
    # token fields are read in the template.
    for installation in Installation.objects.select_related("app", "token").order_by(
        "app__slug", "tenant"
    ):
        token = getattr(installation, "token", None)  # gone after an uninstall
        # needs_reauth and uninstalled rows come back through the install flow.
        reconnect_url = (
            ""
            if installation.status == Installation.Status.ACTIVE
            else install_url(installation.app, installation.tenant)
        )
        rows.append(
            {
                "installation": installation,
                "token": token,
                "expired": token is not None and token.expires_at <= now,
                "reconnect_url": reconnect_url,
            }
        )
    cards = [
        {
            "app": app,
            "provider": app.provider_spec,
            # A real Gorgias user arrives from the marketplace with ?account=, and
            # Kustomer's docs ask for the org first: both are typed here in the demo.
            "param": app.provider_spec.tenant_params[0],
            "suffix": TENANT_SUFFIX.get(app.provider, ""),
        }
        for app in ProviderApp.objects.filter(enabled=True).order_by("provider", "slug")
    ]
    user = request.user
    return render(
        request,
        "integrations/index.html",
        {
            "rows": rows,
            "cards": cards,
            # The library's default UNINSTALL_PERMISSION hook checks this permission.
            "can_uninstall": user.is_active and user.has_perm("helpdesk_oauth.delete_installation"),
        },
    )
