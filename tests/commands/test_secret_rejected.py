"""A client secret the provider rejects is never silent: the refresh command exits
non-zero, the status command (text and JSON) and the admin show the app's problem, and
``client_secret_rejected`` is sent, also while the previous secret stands in; a secret
the provider accepts again clears it. Over loopback against the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from django_helpdesk_oauth import signals
from django_helpdesk_oauth.models import Installation, ProviderApp, Token

pytestmark = pytest.mark.django_db(transaction=True)

#: Stored here; the sandbox keeps accepting only the original secret until told otherwise.
WRONG = "mistyped-in-the-admin-7777"


@pytest.fixture
def rejected():
    """``(app slug, fallback_until)`` of every ``client_secret_rejected`` sent."""
    seen: list[tuple[str, datetime | None]] = []

    def receiver(sender, app, fallback_until, **kwargs):
        assert sender is ProviderApp
        seen.append((app.slug, fallback_until))

    signals.client_secret_rejected.connect(receiver)
    yield seen
    signals.client_secret_rejected.disconnect(receiver)


@pytest.fixture
def rotated_wrong(run, sandbox, installed, gorgias_app, secret_file):
    """An installed Gorgias app whose secret was rotated to one the provider rejects."""
    installation = installed(gorgias_app)
    run.remember(WRONG)
    run("helpdesk_oauth_rotate_secret", "gorgias", "--secret-file", secret_file(WRONG))
    return installation


def refresh_statuses(sandbox):
    return [
        r["status"]
        for r in sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    ]


def status_json(run):
    return json.loads(run("helpdesk_oauth_status", "--json").out)


def test_fallback_is_visible_everywhere_then_clears(
    run, sandbox, rotated_wrong, rejected, admin_client
):
    installation = rotated_wrong
    message = run.error("helpdesk_oauth_refresh", "--app", "gorgias")
    # The refresh itself succeeded through the previous secret...
    assert run.last.out.strip() == "refreshed 1, fresh 0, skipped 0, failed 0"
    assert refresh_statuses(sandbox) == [400, 200]
    assert Token.objects.get(installation=installation).refresh_count == 1
    # ...and the command still fails, in one line, naming the app.
    assert "client credentials of app 'gorgias' have a problem" in message
    assert "previous secret is standing in" in message
    assert "app gorgias: The current client secret was rejected (invalid_client)" in run.last.err

    app = ProviderApp.objects.get()
    until = app.secret_rotated_at + timedelta(days=1)
    until_iso = until.astimezone(UTC).replace(microsecond=0).isoformat()
    assert app.last_error == (
        "The current client secret was rejected (invalid_client); the previous one is in use "
        f"until {until_iso}. Fix the secret before then."
    )
    assert app.last_error_at is not None
    assert rejected == [("gorgias", until)]

    # Status: a line after the table, and the app's problem on each of its installations.
    text = run("helpdesk_oauth_status").out
    assert f"app gorgias: {app.last_error}" in text
    [row] = status_json(run)
    assert row["status"] == "active" and row["last_error"] == ""  # the tenant is fine
    assert row["app_error"]["last_error"] == app.last_error
    assert row["app_error"]["previous_secret_in_use"] is True
    assert row["app_error"]["previous_secret_until"] == until.astimezone(UTC).isoformat()
    assert row["app_error"]["last_error_at"] is not None

    # The admin: a column in the list and a field on the change page.
    listing = admin_client.get(reverse("admin:helpdesk_oauth_providerapp_changelist"))
    assert "previous secret in use until" in listing.content.decode()
    change = admin_client.get(reverse("admin:helpdesk_oauth_providerapp_change", args=[app.pk]))
    assert app.last_error in change.content.decode()

    # The provider now gets the new secret (regenerated there): the next refresh clears it.
    sandbox.state.set_client_secret("gorgias", app.client_id, WRONG)
    rejected.clear()
    output = run("helpdesk_oauth_refresh", "--installation", str(installation.pk))
    assert output.out.strip() == "refreshed 1, fresh 0, skipped 0, failed 0"
    assert output.err == ""
    assert refresh_statuses(sandbox)[-1:] == [200]
    app.refresh_from_db()
    assert (app.last_error, app.last_error_at) == ("", None)
    assert rejected == []
    assert status_json(run)[0]["app_error"] is None
    assert "app gorgias" not in run("helpdesk_oauth_status").out


def test_installation_selector_fails_too(run, sandbox, rotated_wrong, rejected):
    message = run.error("helpdesk_oauth_refresh", "--installation", str(rotated_wrong.pk))
    assert "client credentials of app 'gorgias' have a problem" in message
    assert len(rejected) == 1 and rejected[0][1] is not None


def test_no_secret_works_after_the_grace_window(run, sandbox, rotated_wrong, rejected):
    ProviderApp.objects.update(secret_rotated_at=datetime.now(UTC) - timedelta(days=2))
    message = run.error("helpdesk_oauth_refresh", "--all")
    assert "1 of the selected refreshes failed (invalid_client 1)" in message
    assert "client credentials of app 'gorgias' have a problem" in message
    assert "standing in" not in message
    assert refresh_statuses(sandbox) == [400]  # the previous secret is no longer tried
    assert rejected == [("gorgias", None)]
    assert Installation.objects.get().status == "active"  # an app problem marks no tenant
    [row] = status_json(run)
    assert "invalid_client" in row["app_error"]["last_error"]
    assert row["app_error"]["previous_secret_in_use"] is False
    assert row["app_error"]["previous_secret_until"] is None
    # The message names the fix (written by the credentials service, not overwritten by
    # the refresh's own "token refresh failed: HTTP 400 invalid_client").
    out = run("helpdesk_oauth_status").out
    assert "app gorgias: The client secret was rejected (invalid_client)" in out
    assert "Fix the secret (rotate it) or the client ID." in out


def test_a_healthy_app_exits_zero_and_sends_nothing(run, sandbox, installed, gorgias_app, rejected):
    installed(gorgias_app)
    output = run("helpdesk_oauth_refresh", "--app", "gorgias")
    assert output.out.strip() == "refreshed 1, fresh 0, skipped 0, failed 0"
    assert rejected == [] and ProviderApp.objects.get().last_error == ""


def test_a_rotation_clears_the_problem(run, sandbox, rotated_wrong, secret_file):
    run.error("helpdesk_oauth_refresh", "--all")
    assert ProviderApp.objects.get().last_error
    fixed = "regenerated-right-8888"
    run.remember(fixed)
    sandbox.state.set_client_secret("gorgias", ProviderApp.objects.get().client_id, fixed)
    run("helpdesk_oauth_rotate_secret", "gorgias", "--secret-file", secret_file(fixed))
    assert ProviderApp.objects.get().last_error == ""
    assert "refreshed 1" in run("helpdesk_oauth_refresh", "--all").out
