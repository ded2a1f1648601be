"""Helpers for the command tests: run a command, and prove its output leaks nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from django_helpdesk_oauth.exceptions import DecryptionError
from django_helpdesk_oauth.models import (
    AuthorizationRequest,
    PendingRevocation,
    ProviderApp,
    Token,
)
from tests.conftest import GORGIAS_SECRET, KUSTOMER_SECRET

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "kustomer-admin-key"
WEAK_KEY = "kustomer-weak-key"
#: Shorter fragments than this may legitimately appear (a masked tail is 4 characters).
WINDOW = 16


def assert_no_secrets(text: str, secrets: set[str]) -> None:
    """Neither a secret nor any 16-character piece of one appears in ``text``."""
    for secret in secrets:
        if not secret or len(secret) < 8:
            continue
        assert secret not in text, "a secret appeared in command output"
        for start in range(len(secret) - WINDOW + 1):
            piece = secret[start : start + WINDOW]
            assert piece not in text, "part of a secret appeared in command output"


def stored_secrets() -> set[str]:
    """Every secret and token the database holds (in plaintext), plus the fixed test ones."""
    found = {GORGIAS_SECRET, KUSTOMER_SECRET, ADMIN_KEY, WEAK_KEY}
    sources = [
        (ProviderApp, ("client_secret", "previous_client_secret")),
        (Token, ("access_token", "refresh_token")),
        (PendingRevocation, ("token",)),
        (AuthorizationRequest, ("code_verifier",)),
    ]
    for model, fields in sources:
        for pk in model.objects.values_list("pk", flat=True):
            try:
                values = model.objects.values_list(*fields).get(pk=pk)
            except DecryptionError:
                continue
            # A value written under a key no longer configured loads as an Unreadable marker.
            found.update(value for value in values if isinstance(value, str))
    from django_helpdesk_oauth.sandbox.state import state

    with state.lock:
        found.update(state.access_tokens, state.refresh_tokens, state.codes)
    found.discard(None)
    return found


@dataclass
class Output:
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


class Runner:
    """``run(name, *args)`` → :class:`Output`; ``run.error(name, *args)`` → the CommandError text.

    Both check that no stored secret (before or after the command), nor any
    value passed to :meth:`remember`, appears in stdout, stderr or the error.
    """

    def __init__(self) -> None:
        self.extra: set[str] = set()
        #: The output of the last command run, also when it failed.
        self.last = Output("", "")

    def remember(self, *values: str) -> None:
        self.extra.update(values)

    def _call(self, name: str, *args: str, **options: object) -> Output:
        before = stored_secrets()
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(name, *args, stdout=out, stderr=err, **options)
        except Exception as exc:
            assert_no_secrets(str(exc), before | stored_secrets() | self.extra)
            raise
        finally:
            self.last = Output(out.getvalue(), err.getvalue())
            assert_no_secrets(self.last.all, before | self.extra)
        output = Output(out.getvalue(), err.getvalue())
        assert_no_secrets(output.all, stored_secrets() | self.extra)
        return output

    def __call__(self, name: str, *args: str, **options: object) -> Output:
        return self._call(name, *args, **options)

    def error(self, name: str, *args: str, **options: object) -> str:
        from django.core.management.base import CommandError

        with pytest.raises(CommandError) as info:
            self._call(name, *args, **options)
        message = str(info.value)
        assert "\n" not in message.strip(), "a CommandError message must be one line"
        return message


@pytest.fixture
def run():
    return Runner()


@pytest.fixture
def stdin(monkeypatch):
    """``stdin("text")`` makes the commands read ``text`` from a piped stdin."""

    def feed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    return feed


@pytest.fixture
def secret_file(tmp_path):
    """``secret_file("value\\n")`` → the path of a file holding it."""
    counter = iter(range(1000))

    def write(text: str) -> str:
        path = tmp_path / f"secret-{next(counter)}"
        path.write_text(text)
        return str(path)

    return write


def manage(*args: str, stdin: str = "", urlconf: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m django *args`` on the test database, as a user would run it
    (``urlconf``: another ``ROOT_URLCONF``).

    ``--skip-checks``: system-check warnings about the test settings (HTTP, DEBUG)
    would otherwise precede every command's output.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.commands.subprocess_settings",
        "HELPDESK_OAUTH_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
    }
    if urlconf:
        env["HELPDESK_OAUTH_TEST_URLCONF"] = urlconf
    return subprocess.run(
        [sys.executable, "-m", "django", *args, "--skip-checks"],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit code 1, one ``CommandError:`` line on stderr containing ``fragments``, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("CommandError: ")
    for fragment in fragments:
        assert fragment in lines[0]
