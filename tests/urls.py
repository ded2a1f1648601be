from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def api_then_fail(request, pk):
    """A project view that calls the tenant's API, then fails (its transaction rolls back)."""
    from django_helpdesk_oauth.models import Installation

    Installation.objects.get(pk=pk).api_session().get("customers")
    raise RuntimeError("the view failed after calling the API")


urlpatterns = [
    path("test/api-then-fail/<int:pk>/", api_then_fail),
    path("admin/", admin.site.urls),
    path("oauth/", include("django_helpdesk_oauth.urls")),
    path("sandbox/", include("django_helpdesk_oauth.sandbox.urls")),
    path("", lambda request: HttpResponse("home"), name="home"),
]
