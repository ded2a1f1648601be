"""The example project's URLs: admin, the package, the sandbox providers, the demo page."""

from django.contrib import admin
from django.urls import include, path
from integrations.views import index, refresh

urlpatterns = [
    path("admin/", admin.site.urls),
    # The prefix the docs use: redirect URIs are https://<host>/helpdesk/<slug>/callback/.
    path("helpdesk/", include("django_helpdesk_oauth.urls")),
    # The emulated providers; HELPDESK_OAUTH["PROVIDERS"] points the package here.
    path("sandbox/", include("django_helpdesk_oauth.sandbox.urls")),
    path("installations/<int:pk>/refresh/", refresh, name="integrations-refresh"),
    # A plain (not namespaced) name: HELPDESK_OAUTH["SUCCESS_URL"] refers to it.
    path("", index, name="integrations"),
]
