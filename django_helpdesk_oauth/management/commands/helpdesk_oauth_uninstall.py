"""``helpdesk_oauth_uninstall ID``: uninstall one installation.

Revokes the refresh token at the provider where it can (unless ``--no-revoke``),
erases the tokens and marks the installation uninstalled. A transient revoke
failure leaves a background retry; running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exceptions import DecryptionError
from ...services import uninstall
from ..formatting import one_line
from ..inputs import get_installation


class Command(BaseCommand):
    help = (
        "Uninstall installation ID: revoke its token at the provider (unless --no-revoke), "
        "erase the tokens, mark it uninstalled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("installation", type=int, metavar="ID", help="The installation id.")
        parser.add_argument(
            "--no-revoke",
            action="store_true",
            help="Do not revoke at the provider; only erase the tokens here.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        installation = get_installation(options["installation"])
        revoke = not options["no_revoke"]
        try:
            result = uninstall(installation, revoke=revoke)
        except DecryptionError as exc:
            raise CommandError(
                one_line(f"{exc} Nothing changed; --no-revoke uninstalls without revoking.")
            ) from None
        label = f"Installation {installation.pk} ({installation.app.slug} @ {installation.tenant})"
        if result.already:
            self.stdout.write(f"{label} was already uninstalled; nothing to do.")
            return
        provider = installation.provider_spec
        if result.revoked:
            outcome = "revoked at the provider"
        elif result.pending is not None:
            outcome = "revocation pending: the provider did not answer; retried in the background"
        elif not revoke:
            outcome = "not revoked (--no-revoke)"
        elif not provider.supports_revoke:
            outcome = f"not revoked ({provider.name} has no revoke endpoint)"
        else:
            outcome = "not revoked (the provider refused or there was no refresh token; see logs)"
        self.stdout.write(f"{label} uninstalled; tokens erased; {outcome}.")
