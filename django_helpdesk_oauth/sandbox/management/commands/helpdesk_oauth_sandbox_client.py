"""``helpdesk_oauth_sandbox_client``: register OAuth clients with the sandbox providers.

::

    manage.py helpdesk_oauth_sandbox_client add gorgias my-client \\
        --secret-file secret.txt --redirect-uri 'http://127.0.0.1:5000/oauth/callback?account=acme'
    manage.py helpdesk_oauth_sandbox_client list

Clients are written to ``HELPDESK_OAUTH_SANDBOX["STATE_FILE"]`` (or ``--state-file``),
where a running development server picks them up on its next request. The secret
comes from ``--secret-file`` or stdin and is never printed (its last 4 characters at
most).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.views.decorators.debug import sensitive_variables

from ...state import PROVIDERS, SandboxClient, SandboxState
from ...views.authorize import TENANT_RE, valid_redirect_uri

CLIENT_ID_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
MAX_SECRET_CHARS = 4096


# The sandbox imports nothing of the client side (it may be installed alone: see the
# import contracts), so these two small helpers are its own.
def masked(secret: str | None) -> str:
    """At most the last four characters of ``secret``."""
    return f"…{secret[-4:]}" if secret and len(secret) > 8 else ("****" if secret else "(none)")


@sensitive_variables("text")
def read_secret(path: str | None) -> str:
    """The client secret from file ``path``, or stdin (``None`` or ``"-"``).

    One trailing newline is stripped; an empty value, one with whitespace or one
    longer than 4096 characters is refused with a one-line :class:`CommandError`.
    """
    source = "stdin" if path in (None, "-") else path
    try:
        if source == "stdin":
            if sys.stdin is None or sys.stdin.isatty():
                raise CommandError("No client secret: pipe it on stdin or use --secret-file PATH.")
            text = sys.stdin.read(MAX_SECRET_CHARS + 1)
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read(MAX_SECRET_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise CommandError(f"--secret-file {source}: cannot read it ({reason}).") from None
    value = text[:-1] if text.endswith("\n") else text
    if not value or len(value) > MAX_SECRET_CHARS or any(c.isspace() for c in value):
        raise CommandError(
            f"The client secret from {source} is empty, too long or contains whitespace."
        )
    return value


class Command(BaseCommand):
    help = (
        "Register an OAuth client (provider, client id, secret, redirect URIs) with the "
        "sandbox providers, or list them; kept in the sandbox's STATE_FILE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--state-file",
            metavar="PATH",
            help='The sandbox state file (default: HELPDESK_OAUTH_SANDBOX["STATE_FILE"]).',
        )
        actions = parser.add_subparsers(dest="action", metavar="{add,list}")
        actions.required = True
        add = actions.add_parser("add", help="Register or replace a client.")
        add.add_argument("provider", metavar="PROVIDER", help=f"One of {', '.join(PROVIDERS)}.")
        add.add_argument("client_id", metavar="CLIENT_ID")
        add.add_argument(
            "--secret-file",
            metavar="PATH",
            help="File holding the client secret ('-': stdin; default: stdin when piped).",
        )
        add.add_argument(
            "--redirect-uri",
            dest="redirect_uris",
            action="append",
            default=[],
            metavar="URI",
            help="A registered redirect URI, matched exactly (query included); repeatable. "
            "None: any http(s) URI is accepted.",
        )
        add.add_argument("--title", default="Sandbox App", help="Shown on the consent page.")
        add.add_argument(
            "--org", help="Kustomer: a private app installable only in this org (subdomain)."
        )
        listing = actions.add_parser("list", help="One line per registered client.")
        listing.add_argument("--provider", help="Only this provider's clients.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = self._state_file(options["state_file"])
        if options["action"] == "add":
            self._add(path, options)
        else:
            self._list(path, options["provider"])

    def _state_file(self, given: str | None) -> str:
        config = getattr(settings, "HELPDESK_OAUTH_SANDBOX", None) or {}
        path = given or config.get("STATE_FILE")
        if not path:
            raise CommandError(
                'No sandbox state file: set HELPDESK_OAUTH_SANDBOX["STATE_FILE"] or pass '
                "--state-file PATH (a client kept only in this process would vanish with it)."
            )
        path = os.path.abspath(path)
        if not os.path.isdir(os.path.dirname(path)):
            raise CommandError(f"{path}: its directory does not exist.")
        if os.path.exists(path):
            # Never overwrite a file that is not a sandbox state (a mistyped path).
            try:
                with open(path, encoding="utf-8") as source:
                    data = json.load(source)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{path}: not a readable sandbox state file ({exc}).") from None
            if not isinstance(data, dict) or not isinstance(data.get("clients"), list):
                raise CommandError(f"{path}: not a sandbox state file; leaving it untouched.")
        return path

    @staticmethod
    def _provider(value: str) -> str:
        if value not in PROVIDERS:
            raise CommandError(f"Unknown provider {value!r}: use one of {', '.join(PROVIDERS)}.")
        return value

    @sensitive_variables("secret")
    def _add(self, path: str, options: dict[str, Any]) -> None:
        provider = self._provider(options["provider"])
        client_id = options["client_id"]
        if not CLIENT_ID_RE.match(client_id):
            raise CommandError("CLIENT_ID must be 1-200 printable ASCII characters, no spaces.")
        title = options["title"].strip()
        if not title or len(title) > 200 or not title.isprintable():
            raise CommandError("--title must be 1-200 printable characters on one line.")
        org = options["org"]
        if org is not None and (provider != "kustomer" or not TENANT_RE.match(org)):
            raise CommandError("--org is a Kustomer org subdomain (letters, digits, hyphens).")
        probe = SandboxClient(provider, client_id, None)
        for uri in options["redirect_uris"]:
            if not valid_redirect_uri(probe, uri):
                raise CommandError(
                    f"--redirect-uri {uri[:200]!r} is not an absolute http(s) URI without "
                    "a fragment."
                )
        secret = read_secret(options["secret_file"])
        store = SandboxState(state_file=path)
        replaced = store.get_client(provider, client_id) is not None
        store.register_client(provider, client_id, secret, title, options["redirect_uris"], org=org)
        try:
            store.save()
        except OSError as exc:
            raise CommandError(f"{path}: cannot write ({exc.strerror or exc}).") from None
        uris = len(options["redirect_uris"])
        where = f"{uris} redirect URI{'s' if uris != 1 else ''}" if uris else "any redirect URI"
        self.stdout.write(
            f"{'Replaced' if replaced else 'Registered'} {provider} client {client_id} "
            f"(secret {masked(secret)}, {where}) in {path}."
        )

    def _list(self, path: str, provider: str | None) -> None:
        if provider is not None:
            self._provider(provider)
        clients = SandboxState(state_file=path).clients(provider)
        if not clients:
            self.stdout.write("No sandbox clients.")
        for client in clients:
            uris = " ".join(client.redirect_uris) or "(any redirect URI)"
            org = f" org={client.org}" if client.org else ""
            self.stdout.write(
                f"{client.provider}\t{client.client_id}\tsecret {masked(client.client_secret)}"
                f"\t{client.title}{org}\t{uris}"
            )
