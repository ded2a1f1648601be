"""Admin, commands and the Python API share one service per job: ``refresh_many`` for
"refresh these now", ``create_app`` for "create a provider app". The same input gives
the same result (and the same refusal, writing nothing) whichever entry point is used."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth.exceptions import InvalidAppInput
from django_helpdesk_oauth.models import Installation, ProviderApp, Token
from django_helpdesk_oauth.services import refresh_many, uninstall
from django_helpdesk_oauth.services.secrets import create_app
from tests.commands.conftest import ADMIN_KEY, assert_one_line_failure, manage

pytestmark = pytest.mark.django_db(transaction=True)

# -- refresh_many: one outcome table --------------------------------------------------


@pytest.fixture
def mixed(sandbox, installed, gorgias_app, kustomer_app):
    """Six installations, one of each case: refreshed: 2 (one due, one not), skipped: 3
    (uninstalled: no token; needs_reauth; a token that never expires), failed: 1
    (the provider revoked the grant)."""
    due = installed(gorgias_app)
    Token.objects.filter(installation=due).update(expires_at=timezone.now())
    not_due = installed(kustomer_app)
    gone = installed(gorgias_app, "gone")
    uninstall(gone)
    reauth = installed(gorgias_app, "reauth")
    Installation.objects.filter(pk=reauth.pk).update(status="needs_reauth")
    forever = installed(gorgias_app, "forever")
    Token.objects.filter(installation=forever).update(expires_at=None, lifetime=None)
    revoked = installed(gorgias_app, "revoked")
    sandbox.state.revoke_all("revoked", "gorgias")
    return [due, not_due, gone, reauth, forever, revoked]


EXPECTED = {"refreshed": 2, "fresh": 0, "skipped": 3, "failed": 1}


def refreshes(sandbox):
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


def test_the_service(sandbox, mixed):
    seen = []
    summary = refresh_many(Installation.objects.all(), on_result=seen.append)
    assert {key: summary.counts[key] for key in EXPECTED} == EXPECTED
    assert dict(summary.failures) == {"invalid_grant": 1}
    by_id = {result.installation_id: (result.outcome, result.reason) for result in seen}
    assert by_id == {
        mixed[0].pk: ("refreshed", ""),
        mixed[1].pk: ("refreshed", ""),
        mixed[2].pk: ("skipped", "no token"),
        mixed[3].pk: ("skipped", "needs_reauth"),
        mixed[4].pk: ("skipped", "never expires"),
        mixed[5].pk: ("failed", "invalid_grant"),
    }
    # Only the three refreshable ones reached the provider.
    assert sorted(r["tenant"] for r in refreshes(sandbox)) == ["acme", "acme", "revoked"]


def test_the_command_counts_the_same(run, sandbox, mixed):
    message = run.error("helpdesk_oauth_refresh", "--all")
    assert "1 of the selected refreshes failed (invalid_grant 1)" in message
    assert run.last.out.strip() == "refreshed 2, fresh 0, skipped 3, failed 1 (invalid_grant 1)"
    assert len(refreshes(sandbox)) == 3


def test_the_admin_action_counts_the_same(admin_client, sandbox, mixed):
    response = admin_client.post(
        reverse("admin:helpdesk_oauth_installation_changelist"),
        {"action": "refresh_now", "_selected_action": [i.pk for i in mixed]},
        follow=True,
    )
    text = response.content.decode()
    assert "2 tokens refreshed. 0 already fresh, 3 skipped, 1 failed." in text
    assert len(refreshes(sandbox)) == 3


def test_due_only_and_dry_run(sandbox, mixed):
    before = list(Token.objects.order_by("pk").values())
    summary = refresh_many(Installation.objects.all(), due_only=True, dry_run=True)
    # Due and active: only the first (the revoked one is not due, so not listed).
    assert summary.counts == {"would refresh": 1}
    assert list(Token.objects.order_by("pk").values()) == before and refreshes(sandbox) == []
    summary = refresh_many(Installation.objects.of_app(mixed[1].app), due_only=True)
    assert summary.counts == {}  # the Kustomer one is not due
    summary = refresh_many(Installation.objects.all(), due_only=True, batch_size=1)
    assert summary.counts == {"refreshed": 1}


# -- create_app: one path, the same refusals ------------------------------------------

GOOD = {"slug": "shop", "provider": "gorgias", "client_id": "cid", "client_secret": "s3cret-42"}

#: (what is wrong, the service's keyword arguments, the field blamed, a word of the message)
BAD = [
    ("bad slug", {**GOOD, "slug": "bad slug/"}, "slug", "valid"),
    ("taken slug", {**GOOD, "slug": "gorgias"}, "slug", "already exists"),
    ("no client id", {**GOOD, "client_id": "  "}, "client_id", "required"),
    ("spaced secret", {**GOOD, "client_secret": "two words"}, "client_secret", "whitespace"),
    ("empty secret", {**GOOD, "client_secret": ""}, "client_secret", "empty"),
]


def _service_kwargs(data):
    return {("provider_key" if k == "provider" else k): v for k, v in data.items()}


@pytest.mark.parametrize(("case", "data", "field", "word"), BAD, ids=[b[0] for b in BAD])
def test_create_app_service_refuses(gorgias_app, case, data, field, word):
    with pytest.raises(InvalidAppInput) as info:
        create_app(**_service_kwargs(data))
    assert word in " ".join(info.value.errors[field])
    assert "\n" not in str(info.value) and "two words" not in str(info.value)
    assert list(ProviderApp.objects.values_list("slug", flat=True)) == ["gorgias"]


@pytest.mark.parametrize(("case", "data", "field", "word"), BAD, ids=[b[0] for b in BAD])
def test_admin_create_form_refuses_the_same(admin_client, gorgias_app, case, data, field, word):
    response = admin_client.post(reverse("admin:helpdesk_oauth_providerapp_add"), data)
    assert response.status_code == 200  # the form again, with its error
    errors = response.context["adminform"].form.errors
    assert word in " ".join(errors[field])
    assert "two words" not in response.content.decode()
    assert list(ProviderApp.objects.values_list("slug", flat=True)) == ["gorgias"]


@pytest.mark.parametrize(("case", "data", "field", "word"), BAD, ids=[b[0] for b in BAD])
def test_command_refuses_the_same(run, secret_file, gorgias_app, case, data, field, word):
    args = ["--provider", data["provider"], "--slug", data["slug"]]
    args += ["--client-id", data["client_id"]] if data["client_id"] else []
    if data["client_secret"]:
        args += ["--client-secret-file", secret_file(data["client_secret"])]
    else:
        args += ["--client-secret-file", secret_file("")]
    message = run.error("helpdesk_oauth_register_app", *args)
    assert "two words" not in message
    # The command names its own option; an empty or spaced secret file is refused when read.
    option = {"client_secret": "secret", "client_id": "--client-id"}.get(field, f"--{field}")
    assert option in message
    assert list(ProviderApp.objects.values_list("slug", flat=True)) == ["gorgias"]


def test_both_entry_points_create_the_same_app(admin_client, run, secret_file, db):
    response = admin_client.post(
        reverse("admin:helpdesk_oauth_providerapp_add"),
        {**GOOD, "name": "Shop", "scopes": "openid   offline", "enabled": "on"},
    )
    assert response.status_code == 302
    run(
        "helpdesk_oauth_register_app",
        *("--provider", "gorgias", "--slug", "shop2", "--client-id", "cid", "--name", "Shop"),
        *("--scopes", "openid   offline", "--client-secret-file", secret_file("s3cret-42")),
    )
    fields = ("provider", "name", "client_id", "client_secret", "scopes", "enabled")
    admin_made, command_made = (ProviderApp.objects.get(slug=slug) for slug in ("shop", "shop2"))
    assert [getattr(admin_made, f) for f in fields] == [getattr(command_made, f) for f in fields]
    assert admin_made.scopes == "openid offline"


def test_registration_refused_by_the_provider_writes_nothing(sandbox, db):
    with pytest.raises(InvalidAppInput) as info:
        create_app(provider_key="gorgias", slug="g", register_as="app", api_key=ADMIN_KEY)
    assert "has no API to register apps" in str(info.value)
    with pytest.raises(InvalidAppInput) as info:
        create_app(provider_key="kustomer", slug="bad slug/", register_as="app", api_key="k")
    assert list(info.value.errors) == ["slug"]
    assert sandbox.state.kustomer_apps == {}  # a bad slug sends nothing
    assert not ProviderApp.objects.exists()


def test_command_one_line_error_in_a_subprocess(gorgias_app, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-42\n")
    result = manage(
        "helpdesk_oauth_register_app",
        *("--provider", "gorgias", "--slug", "gorgias", "--client-id", "c"),
        *("--client-secret-file", str(secret)),
    )
    assert_one_line_failure(result, "--slug: Provider app with this Slug already exists.")
    assert re.search(r"s3cret", result.stderr) is None
