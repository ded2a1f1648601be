"""``include("django_helpdesk_oauth.urls")`` — namespace ``helpdesk_oauth``."""

from django.urls import path

from . import views

app_name = "helpdesk_oauth"

urlpatterns = [
    path("<slug:slug>/install/", views.install, name="install"),
    path("<slug:slug>/callback/", views.callback, name="callback"),
    path("<slug:slug>/deauthorize/", views.deauthorize, name="deauthorize"),
    path("<int:pk>/uninstall/", views.uninstall, name="uninstall"),
]
