from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HelpdeskOAuthConfig(AppConfig):
    name = "django_helpdesk_oauth"
    label = "helpdesk_oauth"
    verbose_name = _("Helpdesk OAuth")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # On import, checks register the system checks and tasks the Celery tasks (which
        # services queue by name).
        from . import checks, logredact, tasks  # noqa: F401

        logredact.install()
