"""The whole walkthrough with everything captured: no secret appears anywhere.

Install, callback, refresh, API call, secret rotation (pasted and through
Kustomer's apps API), app registration, uninstall (view and command), with
DEBUG logging on every logger, ``settings.DEBUG`` on (so SQL is logged too),
every admin page of the app, every management command's output (and its
``--help``), and the ``repr``/``str`` of every object. Then every secret the
run produced (client secrets, API key, access and refresh tokens of every
generation, authorization codes, PKCE verifiers, states) is searched for in
all of it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from django_helpdesk_oauth.models import (
    AuthorizationRequest,
    Installation,
    PendingRevocation,
    ProviderApp,
    Token,
)
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services import refresh_installation
from tests.conftest import GORGIAS_SECRET, KUSTOMER_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY = "kustomer-admin-key"  # tests.settings: the sandbox's Kustomer admin key
BROWSER_PATHS = ('"GET /oauth/', "/oauth/authorize", '"GET /sandbox/', '"POST /sandbox/')


def from_the_browser(record: logging.LogRecord) -> bool:
    """urllib3 lines of the test's own browser (main thread) fetching pages: a real
    browser is not in the app's process, and its address bar holds the code by design."""
    return (
        record.name.startswith("urllib3")
        and record.threadName == "MainThread"
        and any(path in record.getMessage() for path in BROWSER_PATHS)
    )


class Capture:
    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.secrets: set[str] = {GORGIAS_SECRET, KUSTOMER_SECRET, API_KEY}

    def add(self, what: str, text: str) -> None:
        self.chunks.append(f"--- {what}\n{text}")

    def command(self, name: str, *args: str, stdin: str | None = None) -> None:
        if name not in get_commands():
            self.add(f"{name} (not available)", "")
            return
        out, err = io.StringIO(), io.StringIO()
        try:
            if stdin is not None:
                real, sys.stdin = sys.stdin, io.StringIO(stdin)
            try:
                call_command(name, *args, stdout=out, stderr=err)
            finally:
                if stdin is not None:
                    sys.stdin = real
        except (CommandError, SystemExit) as exc:
            err.write(f"\n[{type(exc).__name__}] {exc}")
        self.add(f"{name} {' '.join(args)}", out.getvalue() + err.getvalue())


def install(browser, sandbox, capture, slug, params, org=None):
    start = browser.get(
        f"{sandbox.url}/oauth/{slug}/install/", params=params, allow_redirects=False, timeout=10
    )
    assert start.status_code == 302, start.text
    capture.secrets.add(parse_qs(urlsplit(start.headers["Location"]).query)["state"][0])
    pending = AuthorizationRequest.objects.latest("pk")
    if pending.code_verifier:
        capture.secrets.add(pending.code_verifier)
    capture.add("repr(AuthorizationRequest)", f"{pending!r} {pending}")
    decision = consent(browser, start, org=org)
    assert decision.status_code == 302, decision.text
    done = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
    assert done.status_code == 302, done.text
    capture.add(f"callback page {slug}", done.text)


def admin_pages(client: Client, capture: Capture) -> None:
    for model in admin.site._registry:
        if model._meta.app_label != "helpdesk_oauth":
            continue
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        for obj in model.objects.all():
            for view in ("change", "history", "rotate", "delete"):
                with contextlib.suppress(NoReverseMatch):
                    urls.append(reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[obj.pk]))
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, url
            capture.add(f"admin {url}", response.content.decode(errors="replace"))


def test_no_secret_anywhere(sandbox, browser, gorgias_app, kustomer_app, caplog, settings):
    caplog.set_level(logging.DEBUG)  # the root, so every library's logger too
    for name in ("django", "django_helpdesk_oauth", "celery", "urllib3", "requests_oauthlib"):
        caplog.set_level(logging.DEBUG, logger=name)  # those that set a level of their own
    settings.DEBUG = True  # SQL statements are logged as well
    capture = Capture()
    state = sandbox.state
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    staff_client = Client()
    staff_client.force_login(staff)

    # Install both, through the browser and the sandbox's consent pages.
    install(browser, sandbox, capture, "gorgias", {"account": "acme"})
    install(browser, sandbox, capture, "kustomer", {"org": "acme"}, org="acme")
    gorgias = Installation.objects.get(app=gorgias_app)
    kustomer = Installation.objects.get(app=kustomer_app)

    # Refresh: the service, the task and the command.
    Token.objects.update(expires_at=timezone.now())
    refresh_installation(gorgias.pk)
    Token.objects.update(expires_at=timezone.now())
    capture.command("helpdesk_oauth_refresh", "--all")
    capture.command("helpdesk_oauth_refresh", "--installation", str(kustomer.pk), "--dry-run")

    # API calls.
    for installation, path in ((gorgias, "account"), (kustomer, "users/current")):
        session = installation.api_session()
        response = session.get(path)
        assert response.status_code == 200
        capture.add("repr(session)", repr(session))

    # Rotation: Gorgias pasted (the sandbox gets the new secret first), Kustomer via its API.
    new_gorgias = "gorgias-rotated-secret-0002"
    capture.secrets.add(new_gorgias)
    state.set_client_secret("gorgias", gorgias_app.client_id, new_gorgias)
    capture.command(
        "helpdesk_oauth_rotate_secret", "gorgias", "--secret-file", "-", stdin=new_gorgias
    )
    capture.command(
        "helpdesk_oauth_register_app",
        "--provider",
        "kustomer",
        "--slug",
        "kustomer-private",
        "--register",
        "leakscan",
        "--api-key-file",
        "-",
        stdin=API_KEY,
    )
    capture.command(
        "helpdesk_oauth_rotate_secret", "kustomer-private", "--api-key-file", "-", stdin=API_KEY
    )
    for app in ProviderApp.objects.all():
        capture.secrets |= {s for s in (app.client_secret, app.previous_client_secret) if s}
    Token.objects.filter(installation=gorgias).update(expires_at=timezone.now())
    refresh_installation(gorgias.pk)  # with the rotated secret

    # Status, admin pages, reprs, while everything is installed.
    capture.command("helpdesk_oauth_status")
    capture.command("helpdesk_oauth_status", "--json")
    admin_pages(staff_client, capture)
    for model in (ProviderApp, Installation, Token, PendingRevocation, AuthorizationRequest):
        for obj in model.objects.all():
            capture.add(f"repr {model.__name__}", f"{obj!r}\n{obj}")
    for token in Token.objects.all():
        capture.secrets |= {token.access_token, token.refresh_token}

    # Uninstall: the view for Gorgias (revokes), the command for Kustomer.
    response = staff_client.post(reverse("helpdesk_oauth:uninstall", args=[gorgias.pk]))
    assert response.status_code == 302
    capture.command("helpdesk_oauth_uninstall", str(kustomer.pk))
    capture.command("helpdesk_oauth_status")
    capture.command("helpdesk_oauth_rekey")
    admin_pages(staff_client, capture)
    for name in sorted(get_commands()):
        if name.startswith("helpdesk_oauth"):
            out = io.StringIO()
            command = load_command_class(get_commands()[name], name)
            parser = command.create_parser("manage.py", name)
            parser.print_help(out)
            capture.add(f"{name} --help", out.getvalue())

    # Everything the sandbox ever issued.
    capture.secrets |= set(state.codes) | set(state.access_tokens) | set(state.refresh_tokens)
    capture.secrets |= {
        c.client_secret for c in state._clients.values() if c.client_secret
    }  # the apps API's generated secrets
    assert Installation.objects.filter(status="uninstalled").count() == 2

    logs = "\n".join(
        f"{record.getMessage()}\n{record.exc_text or ''}"
        for record in caplog.records
        if not from_the_browser(record)
    )
    everything = "\n".join(capture.chunks) + "\n" + logs
    assert "Refreshed the token" in logs and "SELECT" in logs  # the capture worked
    assert len(capture.secrets) > 20
    failed = [c.splitlines()[0] for c in capture.chunks if "[CommandError]" in c]
    assert failed == [], failed  # every step of the walkthrough ran
    leaks = sorted(
        (secret[:4] + "…", chunk.splitlines()[0] if chunk.startswith("---") else "log")
        for secret in capture.secrets
        for chunk in [*capture.chunks, logs]
        if secret and secret in chunk
    )
    assert leaks == [], leaks
    assert all(secret not in everything for secret in capture.secrets)
