"""helpdesk_oauth_rotate_secret: Kustomer through the apps API; Gorgias pasted."""

from __future__ import annotations

import pytest
import requests
from django.utils import timezone

from django_helpdesk_oauth.crypto import mask
from django_helpdesk_oauth.models import ProviderApp, Token
from django_helpdesk_oauth.services import Outcome, refresh_installation
from django_helpdesk_oauth.services.secrets import register_app
from tests.commands.conftest import ADMIN_KEY, WEAK_KEY, assert_one_line_failure, manage
from tests.conftest import GORGIAS_SECRET

CMD = "helpdesk_oauth_rotate_secret"
NEW = "regenerated-in-portal-0002"


def token_request(app, secret):
    """A refresh with a bogus token: invalid_client if ``secret`` is wrong, else invalid_grant."""
    response = requests.post(
        app.provider_spec.endpoint("token_url", "acme"),
        data={
            "grant_type": "refresh_token",
            "refresh_token": "not-a-token",
            "client_id": app.client_id,
            "client_secret": secret,
        },
        timeout=10,
    )
    return response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_kustomer_rotation_through_the_apps_api(run, sandbox, installed, secret_file):
    app = register_app(
        provider_key="kustomer", slug="kus", name="rotapp", title="Rot", api_key=ADMIN_KEY
    )
    installation = installed(app)
    old = app.client_secret
    output = run(CMD, "kus", "--api-key-file", secret_file(ADMIN_KEY + "\n"))
    app.refresh_from_db()
    assert app.client_secret != old and app.previous_client_secret == old
    assert sandbox.state.get_client("kustomer", app.client_id).client_secret == app.client_secret
    assert mask(app.client_secret) in output.out
    assert "Grace window" in output.out and "1d 0h" in output.out
    assert "Kustomer no longer accepts the previous secret" in output.out
    # The provider now refuses the old secret and accepts the new one.
    assert token_request(app, old) == "invalid_client"
    assert token_request(app, app.client_secret) == "invalid_grant"
    # The next refresh succeeds at the first attempt, so with the new secret.
    Token.objects.filter(installation=installation).update(expires_at=timezone.now())
    refresh_token = Token.objects.get(installation=installation).refresh_token
    assert refresh_installation(installation.pk) is Outcome.REFRESHED
    refreshes = sandbox.state.matching_requests(endpoint="token", refresh_token=refresh_token)
    assert [r["status"] for r in refreshes] == [200]


@pytest.mark.django_db(transaction=True)
def test_kustomer_rotation_with_a_weak_key_changes_nothing(run, sandbox, secret_file):
    app = register_app(
        provider_key="kustomer", slug="kus", name="rotapp", title="Rot", api_key=ADMIN_KEY
    )
    message = run.error(CMD, "kus", "--api-key-file", secret_file(WEAK_KEY))
    assert "refused the API key (HTTP 403)" in message
    stored = ProviderApp.objects.get(pk=app.pk)
    assert stored.client_secret == app.client_secret and stored.previous_client_secret == ""


@pytest.mark.django_db
def test_kustomer_app_without_a_provider_app_name(run, kustomer_app, secret_file):
    message = run.error(CMD, "kustomer", "--api-key-file", secret_file(ADMIN_KEY))
    assert "app name is not set on kustomer" in message


@pytest.mark.django_db
def test_gorgias_secret_from_stdin(run, stdin, gorgias_app):
    run.remember(NEW)
    stdin(NEW + "\n")
    output = run(CMD, "gorgias")
    gorgias_app.refresh_from_db()
    assert gorgias_app.client_secret == NEW
    assert gorgias_app.previous_client_secret == GORGIAS_SECRET
    assert gorgias_app.secret_rotated_at is not None
    assert "new secret ••••0002" in output.out
    assert mask(GORGIAS_SECRET) in output.out  # the previous one, masked


@pytest.mark.django_db
def test_gorgias_secret_from_a_file(run, secret_file, gorgias_app):
    run.remember(NEW)
    output = run(CMD, "gorgias", "--secret-file", secret_file(NEW + "\r\n"))
    gorgias_app.refresh_from_db()
    assert (gorgias_app.client_secret, gorgias_app.previous_client_secret) == (NEW, GORGIAS_SECRET)
    assert "••••0002" in output.out


@pytest.mark.django_db
def test_gorgias_has_no_rotation_api(run, secret_file, gorgias_app):
    message = run.error(CMD, "gorgias", "--api-key-file", secret_file(ADMIN_KEY))
    assert "Gorgias has no API to rotate secrets" in message
    assert ProviderApp.objects.get().client_secret == GORGIAS_SECRET


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "new client secret from stdin is empty"),
        ("\n", "new client secret from stdin is empty"),
        ("two words\n", "contains whitespace"),
        (GORGIAS_SECRET + "\n", "same as the current one"),
    ],
)
def test_bad_pasted_secrets_change_nothing(run, stdin, gorgias_app, text, complaint):
    stdin(text)
    assert complaint in run.error(CMD, "gorgias")
    app = ProviderApp.objects.get()
    assert (app.client_secret, app.previous_client_secret) == (GORGIAS_SECRET, "")


@pytest.mark.django_db
def test_unknown_slug_and_unreadable_file(run, tmp_path, gorgias_app):
    assert "No provider app with slug 'nope' (known: gorgias)" in run.error(CMD, "nope")
    message = run.error(CMD, "gorgias", "--secret-file", str(tmp_path))
    assert "--secret-file" in message and "cannot read the file" in message


@pytest.mark.django_db
def test_api_key_and_secret_file_are_exclusive(run, secret_file, gorgias_app):
    path = secret_file(NEW)
    message = run.error(CMD, "gorgias", "--api-key-file", path, "--secret-file", path)
    assert "not allowed with argument" in message


@pytest.mark.django_db(transaction=True)
def test_bad_input_exits_non_zero_with_one_line(gorgias_app):
    assert_one_line_failure(manage(CMD, "nope", stdin=NEW), "No provider app with slug 'nope'")
    assert_one_line_failure(manage(CMD, "gorgias", stdin=""), "is empty")
    assert ProviderApp.objects.get().client_secret == GORGIAS_SECRET
