"""URLs of the sandbox providers; mount with ``path("sandbox/", include(...))``.

The real providers put the tenant in the host name (``acme.gorgias.com``);
loopback cannot, so the sandbox puts it in the path. A tenant that is not a
valid subdomain label never matches: 404. Every profile's endpoints are made
from its path templates (``views/router.py``), named ``<key>-authorize``,
``<key>-token``, ``<key>-api`` …; a profile registered later is served by the
catch-all at the end.
"""

from django.urls import path, re_path, register_converter

from . import profiles
from .views import apps, index, router


class TenantConverter:
    """A lowercase DNS label, like the providers' subdomains."""

    regex = router.TENANT_REGEX

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TenantConverter, "sandbox_tenant")

app_name = "helpdesk_oauth_sandbox"

urlpatterns = [
    path("", index.index, name="index"),
    # Kustomer apps API (api.kustomerapp.com): app management, not OAuth.
    path("kustomer/apps-api/v1/apps/available", apps.register_app, name="kustomer-apps-register"),
    path(
        "kustomer/apps-api/v1/apps/available/<str:app>/secret",
        apps.generate_secret,
        name="kustomer-apps-secret",
    ),
    path("kustomer/apps-api/v1/apps/available/<str:app>/secret/", apps.generate_secret),
]
for _profile in profiles.BUILTIN:
    urlpatterns += router.patterns(_profile)
urlpatterns.append(re_path(r"^(?P<key>[a-z0-9_-]+)/(?P<path>.*)$", router.dispatch))
