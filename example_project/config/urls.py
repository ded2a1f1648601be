"""The example project's URLs: admin, the package, the sandbox providers, the demo page."""

from django.contrib import admin
from django.urls import include, path
from integrations.views import index

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oauth/", include("django_helpdesk_oauth.urls")),
    # The emulated Gorgias and Kustomer; SANDBOX_BASE_URL points the package here.
    path("sandbox/", include("django_helpdesk_oauth.sandbox.urls")),
    # A plain (not namespaced) name: HELPDESK_OAUTH["SUCCESS_URL"] refers to it.
    path("", index, name="integrations"),
]
