"""``manage.py seed_sandbox_apps``: the ProviderApps matching the sandbox's demo clients."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from django_helpdesk_oauth.crypto import mask
from django_helpdesk_oauth.models import ProviderApp
from django_helpdesk_oauth.sandbox.state import state as sandbox

#: slug → provider of the apps this command manages.
SANDBOX_APPS = {
    "gorgias-sandbox": "gorgias",
    "kustomer-sandbox": "kustomer",
    "zendesk-sandbox": "zendesk",
    "hubspot-sandbox": "hubspot",
    "intercom-sandbox": "intercom",
    "front-sandbox": "front",
    "helpscout-sandbox": "helpscout",
    "zoho-desk-sandbox": "zoho_desk",
}


def demo_client(provider: str) -> dict[str, Any]:
    """The first client of ``provider`` in ``settings.HELPDESK_OAUTH_SANDBOX["CLIENTS"]``,
    with the client secret the sandbox this project serves holds for it now: the
    settings' one, or a later one kept in its ``STATE_FILE`` (a secret rotated in the
    admin while ``runserver`` ran)."""
    config = getattr(settings, "HELPDESK_OAUTH_SANDBOX", None) or {}
    for client in config.get("CLIENTS", ()):
        if client.get("provider") == provider and client.get("client_secret"):
            served = sandbox.get_client(provider, client["client_id"])
            if served is not None and served.client_secret:
                return {**client, "client_secret": served.client_secret}
            return client
    raise CommandError(
        f'settings.HELPDESK_OAUTH_SANDBOX["CLIENTS"] has no {provider} client with a secret.'
    )


class Command(BaseCommand):
    """Create or update one ``<provider>-sandbox`` app per provider of :data:`SANDBOX_APPS`
    (idempotent).

    Their client id and secret are the demo ones the sandbox providers know
    from ``settings.HELPDESK_OAUTH_SANDBOX``. Prints one line per app, with the
    secret masked to its last four characters.
    """

    help = (
        "Create or update one ProviderApp per sandbox provider (gorgias-sandbox, "
        "kustomer-sandbox, zendesk-sandbox, …) with the demo credentials the sandbox providers "
        "know (settings.HELPDESK_OAUTH_SANDBOX, and its STATE_FILE for a rotated secret). "
        "Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for slug, provider in SANDBOX_APPS.items():
            client = demo_client(provider)
            wanted = {
                "provider": provider,
                "name": client.get("title") or slug,
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
                "provider_app_name": client.get("app_name", ""),
                "enabled": True,
            }
            with transaction.atomic():
                app = ProviderApp.objects.select_for_update().filter(slug=slug).first()
                if app is None:
                    app = ProviderApp.objects.create(slug=slug, **wanted)
                    outcome = "created"
                else:
                    # Compare decrypted values: only save (and re-encrypt) what changed.
                    changed = [
                        name for name, value in wanted.items() if getattr(app, name) != value
                    ]
                    for name in changed:
                        setattr(app, name, wanted[name])
                    if changed:
                        app.save()
                    outcome = f"updated ({', '.join(changed)})" if changed else "unchanged"
            self.stdout.write(
                f"{slug}: {outcome} — {provider}, client_id {app.client_id}, "
                f"client secret {mask(app.client_secret)}"
            )
