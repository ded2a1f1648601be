"""The integrations page: what is installed, and buttons to connect or uninstall."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from django_helpdesk_oauth import services
from django_helpdesk_oauth.models import Installation, ProviderApp

#: Who may press "Refresh now" (the admin's "Refresh now" action asks the same).
REFRESH_PERMISSION = "helpdesk_oauth.change_installation"

#: What follows the tenant in the provider's address, shown next to the input.
TENANT_SUFFIX = {
    "gorgias": ".gorgias.com",
    "kustomer": ".kustomerapp.com",
    "zendesk": ".zendesk.com",
}


def install_url(app: ProviderApp, tenant: str = "", region: str = "") -> str:
    """The app's install URL, with the tenant in the provider's own query parameter
    (and the installation's region, for a provider whose install URL picks it)."""
    url = reverse("helpdesk_oauth:install", args=[app.slug])
    spec = app.provider_spec
    params = {spec.tenant_params[0]: tenant} if tenant else {}
    if region and spec.regions and not spec.callback_region:
        params[spec.region_param] = region
    return url + ("?" + urlencode(params) if params else "")


def card(app: ProviderApp) -> dict[str, Any]:
    """What a provider's Connect card asks before the flow: the tenant, a region, or nothing.

    ``param``: the tenant's query parameter, empty for a provider that learns the tenant
    after the code exchange (HubSpot, Front, Help Scout, Intercom, Zoho Desk).
    ``regions``: the choices of a provider whose install URL picks its hosts (Intercom),
    empty where the provider's own answer routes it (Zoho Desk's accounts server).
    """
    spec = app.provider_spec
    after_exchange = bool(getattr(spec, "tenant_after_exchange", False))
    return {
        "app": app,
        "provider": spec,
        # A real Gorgias user arrives from the marketplace with ?account=; Kustomer's
        # and Zendesk's docs ask for the org / subdomain first: typed here in the demo.
        "param": "" if after_exchange else spec.tenant_params[0],
        "suffix": TENANT_SUFFIX.get(app.provider, ""),
        "regions": sorted(spec.regions) if spec.regions and not spec.callback_region else [],
        "default_region": spec.default_region,
        "region_param": spec.region_param,
        "routed_by_provider": bool(spec.callback_region),
    }


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
            else install_url(
                installation.app,
                installation.tenant,
                (installation.connection_config or {}).get("region", ""),
            )
        )
        rows.append(
            {
                "installation": installation,
                "token": token,
                # expires_at NULL: a token that never expires (Intercom).
                "never_expires": token is not None and token.expires_at is None,
                "expired": token is not None
                and token.expires_at is not None
                and token.expires_at <= now,
                "reconnect_url": reconnect_url,
            }
        )
    cards = [
        card(app) for app in ProviderApp.objects.filter(enabled=True).order_by("provider", "slug")
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
            "can_refresh": user.is_active and user.has_perm(REFRESH_PERMISSION),
        },
    )


@require_POST
def refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Refresh now" for one installation (a thin layer over ``services.refresh_many``,
    as the admin action): a message says what happened, then back to the page.

    Anonymous users go to the login page; users without the permission get a 403.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.has_perm(REFRESH_PERMISSION):
        return HttpResponse("You are not allowed to refresh tokens.", status=403)
    installation = get_object_or_404(Installation.objects.select_related("app"), pk=pk)
    label = f"{installation.app} for {installation.tenant}"
    results: list[services.RefreshResult] = []
    services.refresh_many(Installation.objects.filter(pk=pk), on_result=results.append)
    result = results[0] if results else None
    if result is not None and result.outcome == "refreshed":
        messages.success(request, f"Refreshed the token of {label}.")
    elif result is not None and result.outcome == "fresh":
        messages.info(request, f"The token of {label} was refreshed meanwhile; nothing to do.")
    elif result is not None and result.outcome == "failed":
        messages.error(request, f"Refreshing {label} failed: {result.message or result.reason}.")
    else:
        reason = result.reason if result is not None else "no token"
        messages.info(request, f"Nothing to refresh for {label} ({reason}).")
    return HttpResponseRedirect(reverse("integrations"))
