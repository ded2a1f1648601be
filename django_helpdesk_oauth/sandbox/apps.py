"""App configuration of the sandbox providers."""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The sandbox providers: no models, no migrations, only views and templates.

    Installing it changes nothing outside the sandbox: in particular it does not set
    ``OAUTHLIB_INSECURE_TRANSPORT`` (that would let every requests-oauthlib client in
    the process send credentials over plain HTTP). The package's own client talks to
    the sandbox over loopback HTTP without it, and still refuses plain HTTP to any
    other host. Keep this app out of production ``INSTALLED_APPS``.
    """

    name = "django_helpdesk_oauth.sandbox"
    label = "helpdesk_oauth_sandbox"
    verbose_name = "Helpdesk OAuth sandbox providers"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the settings check)
