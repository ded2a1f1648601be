"""App configuration of the sandbox providers."""

import os

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The sandbox providers: no models, no migrations, only views and templates.

    Installing it also sets ``OAUTHLIB_INSECURE_TRANSPORT=1`` (unless already
    set): the sandbox is served over loopback HTTP, which oauthlib otherwise
    refuses. The package's own client still refuses plain HTTP to any host but
    loopback, so keep this app out of production ``INSTALLED_APPS``.
    """

    name = "django_helpdesk_oauth.sandbox"
    label = "helpdesk_oauth_sandbox"
    verbose_name = "Helpdesk OAuth sandbox providers"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the settings check)

        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
