from typing import Any

from django.apps import AppConfig
from django.contrib import messages


class IntegrationsConfig(AppConfig):
    """The integrations page, ``seed_sandbox_apps`` and ``walkthrough``."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_helpdesk_oauth import signals

        signals.installation_completed.connect(installed, dispatch_uid="example-installed")
        signals.installation_uninstalled.connect(uninstalled, dispatch_uid="example-uninstalled")


def installed(sender: Any, installation: Any, created: bool = True, **kwargs: Any) -> None:
    from .middleware import note

    verb = "Connected" if created else "Reconnected"
    note(messages.SUCCESS, f"{verb} {installation.app} for {installation.tenant}.")


def uninstalled(sender: Any, installation: Any, revoked: bool = False, **kwargs: Any) -> None:
    from .middleware import note

    how = "its tokens were revoked at the provider" if revoked else "its tokens were erased here"
    note(messages.SUCCESS, f"Uninstalled {installation.app} for {installation.tenant}: {how}.")
