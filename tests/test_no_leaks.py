"""The whole flow with DEBUG logging: no token, secret, code or verifier in logs or pages."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from django_helpdesk_oauth.models import Token
from django_helpdesk_oauth.services import refresh_installation, uninstall
from tests.conftest import GORGIAS_SECRET, KUSTOMER_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


BROWSER_PATHS = ('"GET /oauth/', "/oauth/authorize", '"GET /sandbox/', '"POST /admin/')


def from_the_browser(record: logging.LogRecord) -> bool:
    """urllib3 lines of the test's own browser (main thread) fetching pages, not the app's calls.

    A real browser is not in the app's process; its address bar holds the code by design.
    """
    return (
        record.name.startswith("urllib3")
        and record.threadName == "MainThread"
        and any(path in record.getMessage() for path in BROWSER_PATHS)
    )


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)  # root, and so every library logger
    return caplog


def test_nothing_secret_is_logged(sandbox, installed, gorgias_app, kustomer_app, debug_logs):
    secrets = {GORGIAS_SECRET, KUSTOMER_SECRET}
    for app in (gorgias_app, kustomer_app):
        installation = installed(app)
        token = Token.objects.get(installation=installation)
        secrets |= {token.access_token, token.refresh_token}
        Token.objects.filter(pk=token.pk).update(expires_at=timezone.now())
        refresh_installation(installation.pk)
        token.refresh_from_db()
        secrets |= {token.access_token, token.refresh_token}
        installation.api_session().get("account" if app.provider == "gorgias" else "users/current")
        uninstall(installation)
    secrets |= {code for code in sandbox.state.codes}
    text = "\n".join(
        record.getMessage() for record in debug_logs.records if not from_the_browser(record)
    )
    assert "Refreshed the token" in text  # the log was captured
    for secret in secrets:
        assert secret not in text, "a secret reached the logs"


def test_the_access_log_filter_hides_codes_and_state():
    from django_helpdesk_oauth.logredact import RedactOAuthQuery

    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" 302 0',
        ("GET /oauth/g/callback/?code=SECRETCODE&state=SECRETSTATE&x=1 HTTP/1.1",),
        None,
    )
    assert RedactOAuthQuery().filter(record) is True
    message = record.getMessage()
    assert "SECRETCODE" not in message and "SECRETSTATE" not in message
    assert "?code=…&state=…&x=1" in message
