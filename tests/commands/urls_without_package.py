"""A project URLconf that forgot ``include("django_helpdesk_oauth.urls")``."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
