"""``helpdesk_oauth_register_app``: create a ``ProviderApp``.

Either from credentials you already have (``--client-id`` and the secret from
``--client-secret-file`` or stdin), or, for providers with an app-registration
API, by registering a private app and generating its secret with an
admin API key (``--register NAME --api-key-file F``). Secrets are never printed.

``--update`` changes an existing app instead: ``--client-id``, ``--name``,
``--scopes``, and a new secret from ``--client-secret-file`` (a rotation: the
current one stays usable for ``SECRET_GRACE_PERIOD``). Everything is checked
before anything is written, the package URLs included (the redirect URI is
printed): on any problem, one line and nothing written.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.views.decorators.debug import sensitive_variables

from ...conf import app_settings
from ...exceptions import ConfigurationError, DecryptionError, InvalidAppInput
from ...models import ProviderApp
from ...providers import registry
from ...services import links
from ...services.secrets import SecretRotationError, create_app, update_app
from ..formatting import masked, one_line
from ..inputs import read_secret


class Command(BaseCommand):
    help = (
        "Create a provider app (OAuth client credentials). Give --client-id and the secret "
        "(--client-secret-file PATH, or on stdin), or, where the provider has an "
        "app-registration API, --register NAME with --api-key-file to register a private app "
        "and generate its secret through that API. --update changes an existing app's "
        "client ID, secret (a rotation), name or scopes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider",
            choices=sorted(registry),
            help="The helpdesk (required, except with --update where it must match).",
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
        parser.add_argument("--scopes", help="Space-separated scopes (default: the provider's).")
        parser.add_argument(
            "--name",
            help="Display name for staff and install pages (default: the provider's name, "
            "with the slug when it is not the provider's key).",
        )
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
        parser.add_argument(
            "--update",
            action="store_true",
            help="Change the existing app SLUG: the options given (--client-id, "
            "--client-secret-file as a rotation with the grace window, --name, --scopes).",
        )

    @sensitive_variables()
    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        existing = ProviderApp.objects.filter(slug=slug).first()
        if options["update"]:
            if existing is None:
                raise CommandError(
                    f"No provider app with slug {slug!r} to update: leave out --update to "
                    "create it."
                )
        elif not options["provider"]:
            raise CommandError("--provider is required to create an app.")
        try:
            # What the output needs (reverse()) is checked before anything is written.
            links.require_urls()
            if options["update"]:
                assert existing is not None
                app, changed = self._update(existing, options)
            elif options["register"]:
                app, changed = self._register(options), []
            else:
                app, changed = self._create(options), []
        except InvalidAppInput as exc:
            message = _flagged(exc)
            if existing is not None and not options["update"]:
                # The service's refusal ("already exists"), and the way to change it.
                message += f" Add --update to change {slug!r} (client ID, secret, name, scopes)."
            raise CommandError(one_line(message)) from None
        except (SecretRotationError, ConfigurationError, DecryptionError) as exc:
            raise CommandError(one_line(exc)) from None
        except CommandError:
            raise
        except Exception as exc:
            # E.g. a post_save receiver failed: one line naming no value (its message may
            # quote one); --traceback shows the rest.
            raise CommandError(
                f"Unexpected {type(exc).__name__} while saving provider app {slug!r}; it may "
                "exist already (and at the provider, with --register): check before retrying "
                "(--traceback for details)."
            ) from exc
        if options["update"]:
            self.stdout.write(
                f"Updated provider app {app.slug!r} ({app.provider}): {', '.join(changed)}."
            )
        else:
            self.stdout.write(f"Created provider app {app.slug!r} ({app.provider}).")
        if app.provider_app_name:
            self.stdout.write(f"  provider app name: {app.provider_app_name}")
        self.stdout.write(f"  name:              {app.name}")
        self.stdout.write(f"  client id:         {app.client_id}")
        self.stdout.write(f"  client secret:     {masked(app.client_secret)}")
        self.stdout.write(f"  redirect URI:      {links.redirect_uri(app.slug)}")
        self.stdout.write(f"  install URL:       {links.install_url(app.slug)}")
        if "client secret" in changed and app.previous_client_secret:
            self.stdout.write(
                f"The previous secret {masked(app.previous_client_secret)} stays usable for "
                "the grace window (SECRET_GRACE_PERIOD)."
            )
        if not app_settings.REDIRECT_BASE_URL:
            self.stdout.write(
                "Give the provider the redirect URI on your site's origin (or set "
                "REDIRECT_BASE_URL to print it whole)."
            )

    def _update(self, app: ProviderApp, options: dict[str, Any]) -> tuple[ProviderApp, list[str]]:
        if options["provider"] and options["provider"] != app.provider:
            raise CommandError(
                f"Provider app {app.slug!r} is a {app.provider} app; its provider cannot change "
                "(create another app)."
            )
        for option in ("register", "title", "api_key_file"):
            if options[option]:
                flag = "--" + option.replace("_", "-")
                raise CommandError(f"{flag} makes no sense with --update.")
        secret = None
        if options["client_secret_file"]:
            secret = read_secret(
                options["client_secret_file"],
                what="new client secret",
                option="--client-secret-file",
            )
        fields = {
            "client_id": options["client_id"],
            # None: not given, left as it is ("" is a value: the default name, no scopes).
            "name": options["name"],
            "scopes": options["scopes"],
        }
        app = update_app(
            app,
            client_secret=secret,
            actor="manage.py helpdesk_oauth_register_app --update",
            **fields,
        )
        changed = [label for key, label in _LABELS.items() if fields.get(key) is not None]
        if secret is not None:
            changed.append("client secret")
        return app, changed

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
            scopes=options["scopes"] or "",
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
            name=options["name"] or "",
            scopes=options["scopes"] or "",
        )


#: How --update names each field it changed.
_LABELS = {"client_id": "client id", "name": "name", "scopes": "scopes"}

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
