"""Reading command input: secrets from files or stdin, apps and installations by id.

Every problem becomes a one-line :class:`~django.core.management.base.CommandError`
that names the input, never its content.
"""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import CommandError

from ..models import Installation, ProviderApp

#: Larger files are not secrets someone meant to pass.
MAX_SECRET_BYTES = 64 * 1024


def _strip_one_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def read_secret(path: str | None, *, what: str, option: str) -> str:
    """A secret from file ``path``, or stdin when ``path`` is ``"-"``.

    Without ``path``: stdin when it is piped; a hidden prompt when it is a terminal.
    One trailing newline is stripped; an empty value or one containing whitespace
    is refused.
    """
    if path is None or path == "-":
        stdin = sys.stdin
        if path is None and stdin is not None and stdin.isatty():
            text = getpass.getpass(f"{what[:1].upper()}{what[1:]} (input hidden): ")
        else:
            if stdin is None:
                raise CommandError(f"No {what} given: use {option} PATH or pipe it on stdin.")
            text = stdin.read(MAX_SECRET_BYTES + 1)
        source = "stdin"
    else:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_SECRET_BYTES + 1)
        except UnicodeDecodeError:
            raise CommandError(f"{option} {path}: the file is not UTF-8 text.") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise CommandError(f"{option} {path}: cannot read the file ({reason}).") from None
        source = path
    if len(text) > MAX_SECRET_BYTES:
        raise CommandError(f"The {what} from {source} is too large to be a secret.")
    value = _strip_one_newline(text)
    if not value.strip():
        raise CommandError(f"The {what} from {source} is empty.")
    if any(ch.isspace() for ch in value):
        raise CommandError(f"The {what} from {source} contains whitespace.")
    return value


def positive_int(value: str) -> int:
    """An argparse ``type`` for counts such as ``--batch-size``."""
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def get_app(slug: str) -> ProviderApp:
    """The provider app with ``slug`` (enabled or not)."""
    app = ProviderApp.objects.filter(slug=slug).first()
    if app is None:
        known = list(ProviderApp.objects.order_by("slug").values_list("slug", flat=True)[:11])
        hint = ", ".join(known[:10]) + (", …" if len(known) > 10 else "") if known else "none"
        raise CommandError(f"No provider app with slug {slug!r} (known: {hint}).")
    return app


def get_installation(pk: int) -> Installation:
    """The installation with primary key ``pk``."""
    installation = Installation.objects.select_related("app").filter(pk=pk).first()
    if installation is None:
        raise CommandError(f"No installation with id {pk}.")
    return installation
