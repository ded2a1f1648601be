"""``helpdesk_oauth_register_app``: create a ``ProviderApp``.

Either from credentials you already have (``--client-id`` and the secret from
``--client-secret-file`` or stdin), or, for providers with an app-registration
API, by registering a private app and generating its secret with an
admin API key (``--register NAME --api-key-file F``). Secrets are never printed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from ...exceptions import ConfigurationError, InvalidAppInput
from ...models import ProviderApp
from ...providers import registry
from ...services.secrets import SecretRotationError, create_app
from ..formatting import masked, one_line
from ..inputs import read_secret


class Command(BaseCommand):
    help = (
        "Create a provider app (OAuth client credentials). Give --client-id and the secret "
        "(--client-secret-file PATH, or on stdin), or, where the provider has an "
        "app-registration API, --register NAME with --api-key-file to register a private app "
        "and generate its secret through that API."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider", required=True, choices=sorted(registry), help="The helpdesk."
        )
        parser.add_argument(
            "--slug", required=True, help="Unique slug, used in the install and callback URLs."
        )
        parser.add_argument("--client-id", help="The OAuth client ID from the provider.")
        parser.add_argument(
            "--client-secret-file",
            metavar="PATH",
            help="File holding the client secret ('-': stdin; default: stdin when piped).",
        )
        parser.add_argument(
            "--scopes", default="", help="Space-separated scopes (default: the provider's)."
        )
        parser.add_argument("--name", default="", help="Display name for staff and install pages.")
        parser.add_argument(
            "--register",
            metavar="NAME",
            help="Register a private app called NAME at the provider first (providers with an "
            "app-registration API).",
        )
        parser.add_argument(
            "--title", help="With --register: the app's title at the provider (default: NAME)."
        )
        parser.add_argument(
            "--api-key-file",
            metavar="PATH",
            help="With --register: file holding an admin API key ('-': stdin); never stored.",
        )

    @sensitive_variables()
    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        try:
            app = self._register(options) if options["register"] else self._create(options)
        except InvalidAppInput as exc:
            raise CommandError(one_line(_flagged(exc))) from None
        except (SecretRotationError, ConfigurationError) as exc:
            raise CommandError(one_line(exc)) from None
        except CommandError:
            raise
        except Exception as exc:
            # E.g. a post_save receiver failed: one line naming no value (its message may
            # quote one); --traceback shows the rest.
            raise CommandError(
                f"Unexpected {type(exc).__name__} while creating provider app {slug!r}; it may "
                "exist already (and at the provider, with --register): check before retrying "
                "(--traceback for details)."
            ) from exc
        callback = reverse("helpdesk_oauth:callback", args=[app.slug])
        self.stdout.write(f"Created provider app {app.slug!r} ({app.provider}).")
        if app.provider_app_name:
            self.stdout.write(f"  provider app name: {app.provider_app_name}")
        self.stdout.write(f"  client id:         {app.client_id}")
        self.stdout.write(f"  client secret:     {masked(app.client_secret)}")
        self.stdout.write(f"  callback path:     {callback}")
        self.stdout.write(
            "Give the provider the callback path on your site's origin as the redirect URI."
        )

    def _register(self, options: dict[str, Any]) -> ProviderApp:
        for option in ("client_id", "client_secret_file"):
            if options[option]:
                flag = "--" + option.replace("_", "-")
                raise CommandError(f"{flag} makes no sense with --register: the provider issues it")
        if options["name"]:
            raise CommandError("--name makes no sense with --register: use --title.")
        if not options["api_key_file"]:
            raise CommandError("--register needs --api-key-file PATH (an admin API key).")
        api_key = read_secret(options["api_key_file"], what="API key", option="--api-key-file")
        # Validation, the provider's apps API and the write: the one create-app service.
        return create_app(
            provider_key=options["provider"],
            slug=options["slug"],
            name=options["title"] or options["register"],
            scopes=options["scopes"],
            register_as=options["register"],
            api_key=api_key,
        )

    def _create(self, options: dict[str, Any]) -> ProviderApp:
        for option in ("title", "api_key_file"):
            if options[option]:
                flag = "--" + option.replace("_", "-")
                raise CommandError(f"{flag} only makes sense with --register.")
        if not options["client_id"]:
            raise CommandError(
                "--client-id is required (or --register NAME where the provider "
                "has an app-registration API)."
            )
        secret = read_secret(
            options["client_secret_file"], what="client secret", option="--client-secret-file"
        )
        return create_app(
            provider_key=options["provider"],
            slug=options["slug"],
            client_id=options["client_id"],
            client_secret=secret,
            name=options["name"],
            scopes=options["scopes"],
        )


#: Which option carries each field, for messages.
_OPTIONS = {"client_secret": "--client-secret-file", "api_key": "--api-key-file"}


def _flagged(exc: InvalidAppInput) -> str:
    """The service's per-field messages, each named by its command-line option."""
    return "Invalid provider app: " + "; ".join(
        " ".join(messages)
        if field == "__all__"
        else f"{_OPTIONS.get(field, '--' + field.replace('_', '-'))}: {' '.join(messages)}"
        for field, messages in exc.errors.items()
    )
