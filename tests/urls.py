from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oauth/", include("django_helpdesk_oauth.urls")),
    path("sandbox/", include("django_helpdesk_oauth.sandbox.urls")),
    path("", lambda request: HttpResponse("home"), name="home"),
]
