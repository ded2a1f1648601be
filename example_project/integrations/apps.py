from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The integrations page, ``seed_sandbox_apps`` and ``walkthrough``."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"
