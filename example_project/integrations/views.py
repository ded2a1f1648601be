"""The integrations page: what is installed, and buttons to connect or uninstall."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from django_helpdesk_oauth.models import Installation, ProviderApp


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
        rows.append(
            {
                "installation": installation,
                "token": token,
                "expired": token is not None and token.expires_at <= now,
            }
        )
    apps = ProviderApp.objects.filter(enabled=True).order_by("provider", "slug")
    user = request.user
    return render(
        request,
        "integrations/index.html",
        {
            "rows": rows,
            "gorgias_apps": [app for app in apps if app.provider == "gorgias"],
            "other_apps": [app for app in apps if app.provider != "gorgias"],
            "can_uninstall": user.is_active and user.is_staff,
        },
    )
