from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HelpdeskOAuthConfig(AppConfig):
    name = "django_helpdesk_oauth"
    label = "helpdesk_oauth"
    verbose_name = _("Helpdesk OAuth")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, logredact  # noqa: F401  (checks register on import)

        logredact.install()
