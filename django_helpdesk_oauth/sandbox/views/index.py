"""The sandbox's root: where each endpoint lives, as ``HELPDESK_OAUTH["PROVIDERS"]``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ..endpoints import provider_settings
from .common import base_url, json_response


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """JSON: the provider settings for both Kustomer endpoint sets of this sandbox."""
    base = base_url(request)
    return json_response(
        {
            "seed": provider_settings(base, kustomer="seed"),
            "per_org": provider_settings(base, kustomer="per_org"),
        }
    )
