"""``manage.py helpdesk_oauth_sandbox_client``: register clients a running sandbox sees."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from django_helpdesk_oauth.sandbox.server import SandboxServer
from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.testing import consent
from tests.sandbox.helpers import gorgias_params, query

SECRET = "cmd-secret-value-7731"
REDIRECT = "http://127.0.0.1:5000/oauth/callback?account=acme"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_file(settings, tmp_path):
    path = tmp_path / "sandbox-state.json"
    settings.HELPDESK_OAUTH_SANDBOX = {**settings.HELPDESK_OAUTH_SANDBOX, "STATE_FILE": str(path)}
    state.reset()
    return path


def run(*args: str, secret: str | None = SECRET) -> str:
    out = io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO(secret + "\n" if secret is not None else "")
    try:
        call_command("helpdesk_oauth_sandbox_client", *args, stdout=out)
    finally:
        sys.stdin = stdin
    return out.getvalue()


def test_add_writes_the_client_and_never_prints_the_secret(state_file):
    output = run("add", "gorgias", "my-client", "--redirect-uri", REDIRECT, "--title", "My App")

    assert output.startswith("Registered gorgias client my-client")
    assert SECRET not in output and SECRET[-4:] in output
    [saved] = [
        c for c in json.loads(state_file.read_text())["clients"] if c["client_id"] == "my-client"
    ]
    assert saved == {
        "provider": "gorgias",
        "client_id": "my-client",
        "client_secret": SECRET,
        "title": "My App",
        "redirect_uris": [REDIRECT],
        "org": None,
    }


def test_the_running_sandbox_sees_an_added_client(state_file):
    assert state.get_client("gorgias", "late-client") is None  # the server's state, loaded

    run("add", "gorgias", "late-client", "--redirect-uri", REDIRECT)

    client = state.get_client("gorgias", "late-client")
    assert client is not None and client.client_secret == SECRET
    assert client.redirect_uris == (REDIRECT,)


def test_add_again_replaces_and_list_shows_masked_secrets(state_file):
    run("add", "kustomer", "k-client", "--org", "acme")
    again = run("add", "kustomer", "k-client", secret="another-secret-9999")
    listing = run("list", secret=None)

    assert again.startswith("Replaced kustomer client k-client")
    line = next(line for line in listing.splitlines() if "\tk-client\t" in line)
    assert "9999" in line and "another-secret" not in line
    assert "(any redirect URI)" in line
    assert "gorgias-test-client" in listing  # the settings' clients are listed too
    assert "gorgias-test-secret" not in listing


def test_list_filters_by_provider(state_file):
    run("add", "gorgias", "g-client")
    listing = run("list", "--provider", "kustomer", secret=None)

    assert "g-client" not in listing and "kustomer-test-client" in listing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "nosuchdesk", "c"], "Unknown provider"),
        (["add", "gorgias", "has space"], "CLIENT_ID"),
        (["add", "gorgias", "c", "--redirect-uri", "/relative"], "--redirect-uri"),
        (["add", "gorgias", "c", "--redirect-uri", "https://a.example/cb#frag"], "--redirect-uri"),
        (["add", "gorgias", "c", "--redirect-uri", "javascript:alert(1)"], "--redirect-uri"),
        (["add", "gorgias", "c", "--org", "acme"], "--org"),
        (["add", "kustomer", "c", "--org", "Not An Org"], "--org"),
        (["add", "gorgias", "c", "--title", "  "], "--title"),
        (["list", "--provider", "nope"], "Unknown provider"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(state_file, args, message):
    with pytest.raises(CommandError) as excinfo:
        run(*args)

    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert not state_file.exists()


@pytest.mark.parametrize("secret", ["", "two words"])
def test_a_missing_or_bad_secret_is_refused(state_file, secret):
    with pytest.raises(CommandError):
        run("add", "gorgias", "c", secret=secret)
    assert not state_file.exists()


def test_without_a_state_file_it_refuses(settings):
    settings.HELPDESK_OAUTH_SANDBOX = {
        k: v for k, v in settings.HELPDESK_OAUTH_SANDBOX.items() if k != "STATE_FILE"
    }
    with pytest.raises(CommandError, match="STATE_FILE"):
        run("add", "gorgias", "c")


def test_it_never_overwrites_a_file_that_is_not_a_sandbox_state(tmp_path):
    precious = tmp_path / "notes.json"
    precious.write_text('{"mine": true}')
    other = tmp_path / "notes.txt"
    other.write_text("hello")

    for path in (precious, other):
        with pytest.raises(CommandError, match="sandbox state"):
            run("--state-file", str(path), "add", "gorgias", "c")
    assert precious.read_text() == '{"mine": true}' and other.read_text() == "hello"
    with pytest.raises(CommandError, match="directory"):
        run("--state-file", str(tmp_path / "missing" / "s.json"), "add", "gorgias", "c")


def test_a_client_added_from_another_process_can_authorize(state_file):
    """The command in its own process; the sandbox served over loopback by this one."""
    with SandboxServer() as server:
        authorize = f"{server.url}/sandbox/gorgias/acme/oauth/authorize"
        params = urlencode(gorgias_params(client_id="outside", redirect_uri=REDIRECT))
        before = requests.get(f"{authorize}?{params}", timeout=10)

        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "django",
                "helpdesk_oauth_sandbox_client",
                "--state-file",
                str(state_file),
                "add",
                "gorgias",
                "outside",
                "--redirect-uri",
                REDIRECT,
            ],
            input=SECRET,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert SECRET not in done.stdout + done.stderr

        redirect = consent(requests.Session(), f"{authorize}?{params}")
        token = requests.post(
            f"{server.url}/sandbox/gorgias/acme/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query(redirect.headers["Location"])["code"],
                "redirect_uri": REDIRECT,
            },
            auth=("outside", SECRET),
            timeout=10,
        )

    assert before.status_code == 400  # unknown client until the command ran
    assert redirect.headers["Location"].startswith(REDIRECT + "&")
    assert token.status_code == 200 and token.json()["access_token"]


def test_the_servers_next_save_keeps_the_added_client_and_its_own_tokens(state_file, client):
    from tests.sandbox.helpers import gorgias_tokens

    first = gorgias_tokens(client)  # the server saved its state once
    run("add", "gorgias", "added-later")
    second = gorgias_tokens(client)  # and saves again after the command wrote

    saved = json.loads(state_file.read_text())
    assert "added-later" in {c["client_id"] for c in saved["clients"]}
    refresh_tokens = {t["token"] for t in saved["refresh_tokens"]}
    assert {first["refresh_token"], second["refresh_token"]} <= refresh_tokens
