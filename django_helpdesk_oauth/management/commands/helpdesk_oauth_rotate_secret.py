"""``helpdesk_oauth_rotate_secret SLUG``: rotate a provider app's client secret.

Providers with a secret API: ``--api-key-file F`` has the provider
generate a new secret. Others: regenerate it in the provider's portal
and pass it with ``--secret-file F`` or on stdin. The previous secret stays
usable for ``SECRET_GRACE_PERIOD``. Secrets are never printed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.views.decorators.debug import sensitive_variables

from ...conf import app_settings
from ...exceptions import ConfigurationError, DecryptionError
from ...fields import is_readable
from ...services.secrets import SecretRotationError, rotate_via_provider, set_client_secret
from ..formatting import duration, masked, one_line
from ..inputs import get_app, read_secret


class Command(BaseCommand):
    help = (
        "Rotate the client secret of provider app SLUG: through the provider's API with "
        "--api-key-file (providers with a secret-rotation API), or store a new secret from "
        "--secret-file or stdin (the others)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", metavar="SLUG", help="The provider app's slug.")
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--api-key-file",
            metavar="PATH",
            help="Admin API key file ('-': stdin): the provider generates the new secret.",
        )
        source.add_argument(
            "--secret-file",
            metavar="PATH",
            help="File holding the new secret ('-': stdin; default: stdin when piped).",
        )

    @sensitive_variables()
    def handle(self, *args: Any, **options: Any) -> None:
        app = get_app(options["slug"])
        provider = app.provider_spec
        was_readable = is_readable(app, "client_secret")
        actor = "manage.py helpdesk_oauth_rotate_secret"
        try:
            if options["api_key_file"]:
                if not provider.supports_secret_rotation:
                    raise CommandError(
                        f"{provider.name} has no API to rotate secrets: pass the new secret "
                        "with --secret-file PATH or on stdin."
                    )
                api_key = read_secret(
                    options["api_key_file"], what="API key", option="--api-key-file"
                )
                app = rotate_via_provider(app, api_key, actor=actor)
            else:
                secret = read_secret(
                    options["secret_file"], what="new client secret", option="--secret-file"
                )
                app = set_client_secret(app, secret, actor=actor)
        except (SecretRotationError, ConfigurationError, DecryptionError) as exc:
            raise CommandError(one_line(exc)) from None
        except CommandError:
            raise
        except Exception as exc:
            # E.g. a client_secret_rotated receiver failed: one line naming no value (its
            # message may quote one); --traceback shows the rest.
            raise CommandError(
                f"Unexpected {type(exc).__name__} while rotating the secret of {app.slug!r}; "
                "the new secret may be stored already: check with helpdesk_oauth_status "
                "before rotating again (--traceback for details)."
            ) from exc
        grace = app_settings.SECRET_GRACE_PERIOD
        if not was_readable:
            self.stdout.write(
                "The old secret could not be decrypted with any configured key; it was replaced "
                "and is not kept as a fallback."
            )
        self.stdout.write(
            f"Rotated the client secret of {app.slug!r}: new secret {masked(app.client_secret)}."
        )
        if app.previous_client_secret and grace > 0 and app.secret_rotated_at:
            until = app.secret_rotated_at + timedelta(seconds=grace)
            self.stdout.write(
                f"Grace window: the previous secret {masked(app.previous_client_secret)} stays "
                f"stored as a fallback for {duration(grace)} (until {until:%Y-%m-%d %H:%M %Z})."
            )
        else:
            self.stdout.write("No grace window: the previous secret is no longer used.")
        if options["api_key_file"]:
            self.stdout.write(f"{provider.name} no longer accepts the previous secret.")
