"""Encryption keys: SECRET_KEY rotation with fallbacks, a wrong key on every public path,
and dumpdata/loaddata writing and reading only ciphertext."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.db.models import TextField, Value
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import crypto
from django_helpdesk_oauth.exceptions import DecryptionError
from django_helpdesk_oauth.fields import UNREADABLE_LABEL, Unreadable
from django_helpdesk_oauth.models import (
    AuthorizationRequest,
    Installation,
    PendingRevocation,
    ProviderApp,
    Token,
)
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.session import token_cache
from django_helpdesk_oauth.tasks import refresh_installation_token, revoke_pending_token
from tests.conftest import GORGIAS_SECRET, KUSTOMER_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

KEY_A = "django-secret-key-A-" + "a" * 40
KEY_B = "django-secret-key-B-" + "b" * 40
MISCONFIGURED = "This integration is misconfigured"


def use_keys(settings, *keys: str) -> None:
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "ENCRYPTION_KEYS": list(keys)}


def wrong_key(settings) -> None:
    """Configure a key that opens nothing stored so far."""
    use_keys(settings, Fernet.generate_key().decode())


def write_unreadable(model, pk, **values: str) -> None:
    """Store ``values`` encrypted under a key the settings do not hold (raw, no re-encryption)."""
    other = Fernet(Fernet.generate_key())
    model.objects.filter(pk=pk).update(
        **{
            name: Value(other.encrypt(value.encode()).decode(), output_field=TextField())
            for name, value in values.items()
        }
    )


def raw(model, field: str, pk) -> str:
    table, column = model._meta.db_table, model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def opens_with(secret_key: str, ciphertext: str) -> bool:
    try:
        Fernet(crypto.derived_key(secret_key)).decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def token_values() -> set[str]:
    values = set()
    for token in Token.objects.all():
        values |= {token.access_token, token.refresh_token}
    return {v for v in values if v}


def provider_requests(sandbox, endpoint: str) -> list[dict]:
    return sandbox.state.matching_requests(endpoint=endpoint)


def assert_no_ciphertext_sent(sandbox) -> None:
    """Nothing the provider received looks like our ciphertext or a marker."""
    text = json.dumps(sandbox.state.requests, default=str)
    assert "gAAAAA" not in text and "fernet:" not in text and "Unreadable" not in text


def make_due() -> None:
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    # An UPDATE by hand reaches this process's api_session() cache within
    # SESSION_TOKEN_TTL; the test does not wait for it.
    token_cache.clear()


# --- 1. SECRET_KEY rotation the Django way ----------------------------------------------


def test_secret_key_rotation_with_fallbacks_then_rekey(settings, sandbox, installed, gorgias_app):
    use_keys(settings)  # empty: keys derived from SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_A, []
    ProviderApp.objects.filter(pk=gorgias_app.pk).update(client_secret=GORGIAS_SECRET)
    installation = installed(gorgias_app)
    assert opens_with(KEY_A, raw(Token, "refresh_token", installation.token.pk))

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_B, [KEY_A]
    assert installation.api_session().get("account").status_code == 200
    make_due()  # the refresh needs the client secret and the refresh token, both under A
    assert installation.api_session().get("account").status_code == 200
    assert Token.objects.get().refresh_count == 1
    # The refresh wrote its new tokens under B; the client secret is still under A.
    assert opens_with(KEY_B, raw(Token, "access_token", installation.token.pk))
    assert opens_with(KEY_A, raw(ProviderApp, "client_secret", gorgias_app.pk))

    call_command("helpdesk_oauth_rekey", stdout=io.StringIO(), stderr=io.StringIO())
    assert opens_with(KEY_B, raw(ProviderApp, "client_secret", gorgias_app.pk))
    settings.SECRET_KEY_FALLBACKS = []
    assert ProviderApp.objects.get().client_secret == GORGIAS_SECRET
    make_due()
    assert installation.api_session().get("account").status_code == 200
    assert Token.objects.get().refresh_count == 2


def test_a_rotated_secret_key_without_fallbacks_is_a_typed_error(
    settings, sandbox, installed, gorgias_app
):
    use_keys(settings)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_A, []
    ProviderApp.objects.filter(pk=gorgias_app.pk).update(client_secret=GORGIAS_SECRET)
    installation = installed(gorgias_app)
    settings.SECRET_KEY = KEY_B
    with pytest.raises(DecryptionError) as info:
        installation.api_session().get("account")
    assert info.value.field == "access_token"
    assert "SECRET_KEY_FALLBACKS" in str(info.value)
    assert provider_requests(sandbox, "api") == []


def test_moving_to_encryption_keys_without_downtime(settings, sandbox, installed, gorgias_app):
    """docs/security.md 'From SECRET_KEY to ENCRYPTION_KEYS': installs made with the derived
    key keep working at every step; only ENCRYPTION_KEYS are needed afterwards."""
    use_keys(settings)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_A, []
    ProviderApp.objects.filter(pk=gorgias_app.pk).update(client_secret=GORGIAS_SECRET)
    installation = installed(gorgias_app)
    key = Fernet.generate_key().decode()

    # ENCRYPTION_KEYS without the setting: a typed error naming the fix, nothing sent.
    use_keys(settings, key)
    with pytest.raises(DecryptionError) as info:
        installation.api_session().get("account")
    assert "DECRYPT_WITH_SECRET_KEY" in str(info.value)
    assert provider_requests(sandbox, "api") == []

    # Step 1: deployed with the setting: calls and refreshes work; new tokens under the key.
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "DECRYPT_WITH_SECRET_KEY": True}
    assert installation.api_session().get("account").status_code == 200
    make_due()  # the refresh reads the client secret still under the derived key
    assert refresh_installation_token.apply(args=(installation.pk,)).get() == "refreshed"
    token = Token.objects.get()
    assert token.refresh_count == 1
    assert Fernet(key).decrypt(raw(Token, "refresh_token", token.pk).encode())
    assert opens_with(KEY_A, raw(ProviderApp, "client_secret", gorgias_app.pk))

    # Step 2: the re-key; step 3: the setting removed.
    call_command("helpdesk_oauth_rekey", stdout=io.StringIO(), stderr=io.StringIO())
    settings.HELPDESK_OAUTH = {
        k: v for k, v in settings.HELPDESK_OAUTH.items() if k != "DECRYPT_WITH_SECRET_KEY"
    }
    assert not opens_with(KEY_A, raw(ProviderApp, "client_secret", gorgias_app.pk))
    assert ProviderApp.objects.get().client_secret == GORGIAS_SECRET
    make_due()
    assert refresh_installation_token.apply(args=(installation.pk,)).get() == "refreshed"
    assert Token.objects.get().refresh_count == 2
    assert installation.api_session().get("account").status_code == 200


def test_explicit_encryption_keys_ignore_secret_key_fallbacks(settings):
    key = Fernet.generate_key().decode()
    use_keys(settings, key)
    settings.SECRET_KEY_FALLBACKS = [KEY_A]
    assert crypto.configured_keys() == (key,)
    use_keys(settings)
    settings.SECRET_KEY = KEY_B
    assert crypto.configured_keys() == (crypto.derived_key(KEY_B), crypto.derived_key(KEY_A))


# --- 2. A wrong key: pages, views, api_session, tasks ----------------------------------


def test_the_marker_can_never_become_a_header():
    marker = Unreadable("gAAAAA-stored-ciphertext")
    with pytest.raises(DecryptionError):
        str(marker)
    with pytest.raises(DecryptionError):
        f"Bearer {marker}"
    assert "gAAAAA" not in repr(marker)
    assert not isinstance(marker, str | bytes)


def test_rows_load_and_reading_the_value_raises(settings, gorgias_app):
    wrong_key(settings)
    app = ProviderApp.objects.get()
    with pytest.raises(DecryptionError):
        app.client_secret  # noqa: B018
    (value,) = ProviderApp.objects.values_list("client_secret", flat=True)
    assert isinstance(value, Unreadable)
    assert app.client_secret_hint == UNREADABLE_LABEL
    before = raw(ProviderApp, "client_secret", app.pk)
    app.enabled = False
    app.save()  # a full save writes the stored ciphertext back untouched
    assert raw(ProviderApp, "client_secret", app.pk) == before


def test_admin_pages_render_with_a_wrong_key(
    admin_client, settings, sandbox, installed, gorgias_app
):
    installation = installed(gorgias_app)
    PendingRevocation.objects.create(app=gorgias_app, tenant="old", token="rt-pending-value-123")
    pending = PendingRevocation.objects.get()
    secrets = token_values() | {GORGIAS_SECRET}
    wrong_key(settings)
    pages = {
        reverse("admin:helpdesk_oauth_providerapp_changelist"): 1,
        reverse("admin:helpdesk_oauth_providerapp_change", args=[gorgias_app.pk]): 1,
        reverse("admin:helpdesk_oauth_providerapp_rotate", args=[gorgias_app.pk]): 1,
        reverse("admin:helpdesk_oauth_installation_changelist"): 0,
        reverse("admin:helpdesk_oauth_installation_change", args=[installation.pk]): 2,
        reverse("admin:helpdesk_oauth_pendingrevocation_changelist"): 0,
        reverse("admin:helpdesk_oauth_pendingrevocation_change", args=[pending.pk]): 0,
    }
    for url, unreadable in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert body.count(UNREADABLE_LABEL) >= unreadable, url
        for secret in secrets:
            assert secret not in body
        assert "gAAAAA" not in body  # nor the ciphertext


def test_admin_change_form_saves_without_touching_an_unreadable_secret(
    admin_client, settings, gorgias_app
):
    write_unreadable(ProviderApp, gorgias_app.pk, client_secret=GORGIAS_SECRET)
    before = raw(ProviderApp, "client_secret", gorgias_app.pk)
    url = reverse("admin:helpdesk_oauth_providerapp_change", args=[gorgias_app.pk])
    response = admin_client.post(
        url,
        {
            "name": "Renamed",
            "client_id": gorgias_app.client_id,
            "scopes": "",
            "provider_app_name": "",
        },
    )
    assert response.status_code == 302
    assert ProviderApp.objects.get().name == "Renamed"
    assert raw(ProviderApp, "client_secret", gorgias_app.pk) == before


def test_admin_replaces_an_unreadable_secret_then_installs(
    admin_client, settings, sandbox, browser, installed, gorgias_app
):
    write_unreadable(ProviderApp, gorgias_app.pk, client_secret=GORGIAS_SECRET)
    start = browser.get(
        f"{sandbox.url}/oauth/gorgias/install/", params={"account": "acme"}, allow_redirects=False
    )
    assert start.status_code == 503 and MISCONFIGURED in start.text
    change = admin_client.get(
        reverse("admin:helpdesk_oauth_providerapp_change", args=[gorgias_app.pk])
    )
    rotate_url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[gorgias_app.pk])
    assert rotate_url in change.content.decode()  # "unreadable — replace it" links the tool
    # The operator pastes the secret from the provider's portal (the same one: only our
    # copy was unreadable).
    response = admin_client.post(rotate_url, {"new_secret": GORGIAS_SECRET}, follow=True)
    assert response.status_code == 200
    assert "Client secret rotated" in response.content.decode()
    app = ProviderApp.objects.get()
    assert app.client_secret == GORGIAS_SECRET and app.previous_client_secret == ""
    installation = installed(gorgias_app)
    assert installation.api_session().get("account").status_code == 200


def test_admin_actions_report_unreadable_tokens(
    admin_client, settings, sandbox, installed, gorgias_app
):
    installation = installed(gorgias_app)
    wrong_key(settings)
    make_due()
    changelist = reverse("admin:helpdesk_oauth_installation_changelist")
    response = admin_client.post(
        changelist, {"action": "refresh_now", "_selected_action": [installation.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "1 failed" in response.content.decode()
    response = admin_client.post(
        changelist,
        {"action": "uninstall_selected", "_selected_action": [installation.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert "was not uninstalled" in response.content.decode()
    assert Installation.objects.get().status == "active"
    assert Token.objects.exists()
    assert provider_requests(sandbox, "token")[-1]["grant_type"] != "refresh_token"
    assert_no_ciphertext_sent(sandbox)


def test_install_view_with_an_unreadable_secret_is_a_503_page(
    settings, sandbox, browser, gorgias_app, kustomer_app
):
    wrong_key(settings)
    for slug, params in (
        ("gorgias", {"account": "acme"}),
        ("kustomer", {}),
        ("kustomer", {"org": "acme"}),
    ):
        response = browser.get(
            f"{sandbox.url}/oauth/{slug}/install/", params=params, allow_redirects=False
        )
        assert response.status_code == 503, (slug, params)
        assert MISCONFIGURED in response.text
        assert "Traceback" not in response.text
    assert AuthorizationRequest.objects.count() == 0
    assert sandbox.state.requests == []


def test_callback_with_an_unreadable_secret_is_a_503_page(settings, sandbox, browser, kustomer_app):
    start = browser.get(
        f"{sandbox.url}/oauth/kustomer/install/", params={"org": "acme"}, allow_redirects=False
    )
    decision = consent(browser, start, org="acme")
    write_unreadable(ProviderApp, kustomer_app.pk, client_secret=KUSTOMER_SECRET)
    response = browser.get(decision.headers["Location"], allow_redirects=False)
    assert response.status_code == 503 and MISCONFIGURED in response.text
    assert Installation.objects.count() == 0 and Token.objects.count() == 0
    assert provider_requests(sandbox, "token") == []


def test_callback_with_an_unreadable_pkce_verifier_is_a_503_page(
    settings, sandbox, browser, kustomer_app
):
    start = browser.get(
        f"{sandbox.url}/oauth/kustomer/install/", params={"org": "acme"}, allow_redirects=False
    )
    decision = consent(browser, start, org="acme")
    pending = AuthorizationRequest.objects.get()
    write_unreadable(AuthorizationRequest, pending.pk, code_verifier="v" * 64)
    response = browser.get(decision.headers["Location"], allow_redirects=False)
    assert response.status_code == 503 and MISCONFIGURED in response.text
    assert Installation.objects.count() == 0
    assert provider_requests(sandbox, "token") == []


def test_reinstall_replaces_unreadable_tokens(settings, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    write_unreadable(Token, installation.token.pk, access_token="at-x", refresh_token="rt-x")
    installed(gorgias_app)  # the callback stores new tokens over the unreadable ones
    assert installation.api_session().get("account").status_code == 200
    assert PendingRevocation.objects.count() == 0  # nothing readable to revoke
    assert_no_ciphertext_sent(sandbox)


def test_api_session_raises_the_typed_error_and_sends_nothing(
    settings, sandbox, installed, gorgias_app
):
    installation = installed(gorgias_app)
    session = installation.api_session()
    write_unreadable(Token, installation.token.pk, access_token="at-x")
    with pytest.raises(DecryptionError) as info:
        session.get("account")
    assert info.value.field == "access_token"
    assert provider_requests(sandbox, "api") == []


def test_a_due_unreadable_refresh_token_is_recorded_not_reauth(
    settings, sandbox, installed, kustomer_app
):
    installation = installed(kustomer_app)
    write_unreadable(Token, installation.token.pk, refresh_token="rt-x")
    make_due()
    with pytest.raises(DecryptionError):
        installation.api_session().get("customers")
    assert refresh_installation_token.apply(args=(installation.pk,)).get() == "failed"
    installation = Installation.objects.get()
    assert installation.status == "active"
    assert "refresh token cannot be decrypted" in installation.last_error
    assert installation.refresh_failures == 2
    assert Token.objects.get().lease_owner == ""
    assert provider_requests(sandbox, "token")[-1]["grant_type"] == "authorization_code"
    assert_no_ciphertext_sent(sandbox)


def test_a_refresh_with_an_unreadable_client_secret_is_booked_on_the_app(
    settings, sandbox, installed, kustomer_app
):
    installation = installed(kustomer_app)
    write_unreadable(ProviderApp, kustomer_app.pk, client_secret=KUSTOMER_SECRET)
    make_due()
    assert refresh_installation_token.apply(args=(installation.pk,)).get() == "failed"
    assert Installation.objects.get().status == "active"
    assert "client secret cannot be decrypted" in ProviderApp.objects.get().last_error
    assert "client secret cannot be decrypted" in Installation.objects.get().last_error
    assert provider_requests(sandbox, "token")[-1]["grant_type"] == "authorization_code"


def test_an_unreadable_previous_secret_is_no_fallback(settings, sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    ProviderApp.objects.update(secret_rotated_at=timezone.now())
    write_unreadable(ProviderApp, kustomer_app.pk, previous_client_secret="old-secret-value")
    make_due()
    assert refresh_installation_token.apply(args=(installation.pk,)).get() == "refreshed"
    sandbox.state.inject("token", status=401, body={"error": "invalid_client"})
    make_due()
    # invalid_client with an unreadable previous secret: the provider's error, not ours.
    assert refresh_installation_token.apply(args=(installation.pk,)).get() == "failed"
    assert "invalid_client" in ProviderApp.objects.get().last_error


def test_uninstall_url_with_an_unreadable_token_changes_nothing(
    settings, sandbox, installed, browser, gorgias_app, admin_client
):
    installation = installed(gorgias_app)
    write_unreadable(Token, installation.token.pk, refresh_token="rt-x")
    response = admin_client.post(reverse("helpdesk_oauth:uninstall", args=[installation.pk]))
    assert response.status_code == 503
    assert MISCONFIGURED in response.content.decode()
    assert Installation.objects.get().status == "active" and Token.objects.exists()
    assert provider_requests(sandbox, "revoke") == []


def test_a_pending_revocation_with_an_unreadable_token_backs_off(settings, sandbox, gorgias_app):
    pending = PendingRevocation.objects.create(
        app=gorgias_app, tenant="acme", token="rt-pending-value-123"
    )
    write_unreadable(PendingRevocation, pending.pk, token="rt-pending-value-123")
    assert revoke_pending_token.apply(args=(pending.pk,)).get() is False
    pending = PendingRevocation.objects.get()
    assert pending.attempts == 1 and "cannot be decrypted" in pending.last_error
    assert pending.next_attempt_at > timezone.now()
    assert provider_requests(sandbox, "revoke") == []


# --- 3. dumpdata / loaddata --------------------------------------------------------------


def dump(*labels: str, fmt: str = "json") -> str:
    out = io.StringIO()
    call_command("dumpdata", *labels, format=fmt, stdout=out)
    return out.getvalue()


def plaintexts() -> set[str]:
    values = token_values() | {GORGIAS_SECRET, KUSTOMER_SECRET}
    for app in ProviderApp.objects.all():
        values |= {app.client_secret, app.previous_client_secret}
    for pending in AuthorizationRequest.objects.all():
        values.add(pending.code_verifier)
    return {v for v in values if v}


def wipe() -> None:
    for model in (PendingRevocation, AuthorizationRequest, Token, Installation, ProviderApp):
        model.objects.all().delete()


@pytest.mark.parametrize("fmt", ["json", "xml", "jsonl"])
def test_dumpdata_writes_ciphertext_and_loaddata_reads_it_back(
    fmt, tmp_path, settings, sandbox, installed, browser, gorgias_app, kustomer_app
):
    installation = installed(kustomer_app)
    from django_helpdesk_oauth.services.secrets import set_client_secret

    set_client_secret(gorgias_app, "gorgias-second-secret-0002")  # a previous secret too
    browser.get(f"{sandbox.url}/oauth/kustomer/install/", params={"org": "beta"})  # a verifier
    secrets = plaintexts()
    assert len(secrets) >= 6
    text = dump("helpdesk_oauth", fmt=fmt)
    for secret in secrets:
        assert secret not in text
    assert "fernet:gAAAAA" in text
    fixture = tmp_path / f"dump.{fmt}"
    fixture.write_text(text)

    wipe()
    call_command("loaddata", str(fixture), stdout=io.StringIO())
    assert plaintexts() == secrets
    assert raw(Token, "access_token", installation.token.pk).startswith("gAAAAA")
    assert installation.api_session().get("customers").status_code == 200
    make_due()
    assert installation.api_session().get("customers").status_code == 200
    assert Token.objects.get().refresh_count == 1


def test_loaddata_under_a_wrong_key_fails_clearly_and_writes_nothing(
    tmp_path, settings, sandbox, installed, kustomer_app
):
    installed(kustomer_app)
    fixture = tmp_path / "dump.json"
    fixture.write_text(dump("helpdesk_oauth"))
    wipe()
    wrong_key(settings)
    with pytest.raises(Exception) as info:
        call_command("loaddata", str(fixture), stdout=io.StringIO())
    message = str(info.value)
    assert "cannot be decrypted with any configured key" in message
    assert KUSTOMER_SECRET not in message
    assert ProviderApp.objects.count() == 0 and Token.objects.count() == 0


def test_dumpdata_under_a_wrong_key_keeps_the_ciphertext(
    tmp_path, settings, sandbox, installed, kustomer_app
):
    installation = installed(kustomer_app)
    secrets = plaintexts()
    keys = settings.HELPDESK_OAUTH["ENCRYPTION_KEYS"]
    wrong_key(settings)
    text = dump("helpdesk_oauth")  # a backup still works without the key
    for secret in secrets:
        assert secret not in text
    fixture = tmp_path / "dump.json"
    fixture.write_text(text)
    wipe()
    use_keys(settings, *keys)
    call_command("loaddata", str(fixture), stdout=io.StringIO())
    assert plaintexts() == secrets
    assert installation.api_session().get("customers").status_code == 200


def test_plain_strings_stay_plaintext(tmp_path, db):
    """Old fixtures with plaintext load (and are encrypted at rest); a form value that merely
    starts with the prefix is not mistaken for ciphertext."""
    fixture = tmp_path / "plain.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "helpdesk_oauth.providerapp",
                    "pk": 7,
                    "fields": {
                        "slug": "plain",
                        "provider": "gorgias",
                        "client_id": "c",
                        "client_secret": "fernet:not-a-token",
                        "created_at": "2026-01-01T00:00:00Z",
                        "updated_at": "2026-01-01T00:00:00Z",
                    },
                }
            ]
        )
    )
    call_command("loaddata", str(fixture), stdout=io.StringIO())
    app = ProviderApp.objects.get(pk=7)
    assert app.client_secret == "fernet:not-a-token"
    assert raw(ProviderApp, "client_secret", 7).startswith("gAAAAA")
    app.full_clean()  # model validation keeps a plain value as it is
    assert app.client_secret == "fernet:not-a-token"
