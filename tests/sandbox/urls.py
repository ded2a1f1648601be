"""Only the sandbox, mounted where tests/urls.py mounts it: the fallback while the
rest of the package's URLs cannot be imported (see conftest.py)."""

from django.urls import include, path

urlpatterns = [path("sandbox/", include("django_helpdesk_oauth.sandbox.urls"))]
