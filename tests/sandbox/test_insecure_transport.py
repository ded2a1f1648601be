"""Installing the sandbox does not lift oauthlib's HTTPS check for the whole process.

Our client reaches the loopback sandbox over plain HTTP without
``OAUTHLIB_INSECURE_TRANSPORT``; any other requests-oauthlib client in the same
process still refuses plain HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from oauthlib.oauth2 import InsecureTransportError
from requests_oauthlib import OAuth2Session

from django_helpdesk_oauth.models import Installation
from django_helpdesk_oauth.services import refresh_many
from tests.example_env import ROOT

VARIABLE = "OAUTHLIB_INSECURE_TRANSPORT"


@pytest.fixture
def no_insecure_transport(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)


def test_django_setup_with_the_sandbox_installed_leaves_the_variable_unset():
    # A fresh process, so nothing of this test run's own start-up is measured.
    script = (
        "import os, django; django.setup(); from django.apps import apps; "
        "assert apps.is_installed('django_helpdesk_oauth.sandbox'); "
        f"print(repr(os.environ.get({VARIABLE!r})))"
    )
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


def test_another_requests_oauthlib_client_still_refuses_plain_http(no_insecure_transport):
    # Raised before anything is sent: example.invalid is never resolved.
    session = OAuth2Session("someone-elses-client", redirect_uri="http://example.invalid/cb")
    with pytest.raises(InsecureTransportError):
        session.fetch_token(
            "http://example.invalid/oauth/token", code="abc", client_secret="not-sent"
        )
    with pytest.raises(InsecureTransportError):
        session.authorization_url("http://example.invalid/oauth/authorize")


@pytest.mark.django_db(transaction=True)
def test_our_install_and_refresh_reach_the_loopback_sandbox_without_it(
    no_insecure_transport, sandbox, installed, gorgias_app, kustomer_app
):
    gorgias = installed(gorgias_app)
    kustomer = installed(kustomer_app)
    for installation in (gorgias, kustomer):
        token = installation.token
        token.expires_at = token.expires_at - timedelta(days=2)  # due now
        token.save(update_fields=["expires_at"])

    summary = refresh_many(Installation.objects.filter(pk__in=[gorgias.pk, kustomer.pk]))

    assert summary.counts["refreshed"] == 2, summary
    assert sandbox.state.count(endpoint="token", grant_type="refresh_token", status=200) == 2
    assert VARIABLE not in os.environ
