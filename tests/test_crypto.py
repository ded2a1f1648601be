"""Encryption at rest: raw columns hold no plaintext, keys rotate, a wrong key raises."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.db import connection

from django_helpdesk_oauth import crypto
from django_helpdesk_oauth.conf import app_settings
from django_helpdesk_oauth.exceptions import ConfigurationError, DecryptionError
from django_helpdesk_oauth.models import ProviderApp

SECRET = "very-secret-client-value-123456"


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def with_keys(settings, keys):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "ENCRYPTION_KEYS": keys}


def test_client_secret_is_ciphertext_in_the_database(db):
    app = ProviderApp.objects.create(
        slug="a", provider="gorgias", client_id="c", client_secret=SECRET
    )
    raw = raw_column("helpdesk_oauth_providerapp", "client_secret", app.pk)
    assert SECRET not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    assert ProviderApp.objects.get(pk=app.pk).client_secret == SECRET


def test_old_keys_still_decrypt_after_a_new_key_is_prepended(db, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with_keys(settings, [old])
    app = ProviderApp.objects.create(
        slug="a", provider="gorgias", client_id="c", client_secret=SECRET
    )
    with_keys(settings, [new, old])
    assert ProviderApp.objects.get(pk=app.pk).client_secret == SECRET
    rotated = crypto.rotate(raw_column("helpdesk_oauth_providerapp", "client_secret", app.pk))
    with_keys(settings, [new])
    assert crypto.decrypt(rotated) == SECRET


def test_a_value_under_an_unknown_key_raises_instead_of_returning_ciphertext(db, settings):
    app = ProviderApp.objects.create(
        slug="a", provider="gorgias", client_id="c", client_secret=SECRET
    )
    with_keys(settings, [Fernet.generate_key().decode()])
    loaded = ProviderApp.objects.get(pk=app.pk)  # the row loads (lists and pages work)…
    with pytest.raises(DecryptionError) as excinfo:
        loaded.client_secret  # noqa: B018  (…reading the secret raises)
    assert SECRET not in str(excinfo.value)
    assert excinfo.value.field == "client_secret" and excinfo.value.pk == app.pk


def test_fallback_key_is_derived_from_secret_key_with_a_warning(settings):
    with_keys(settings, [])
    assert crypto.decrypt(crypto.encrypt("x")) == "x"
    assert "helpdesk_oauth.W001" in [m.id for m in checks.run_checks()]


def test_malformed_key_is_a_configuration_error(settings):
    with_keys(settings, ["not-a-key"])
    with pytest.raises(ConfigurationError):
        crypto.encrypt("x")
    assert "helpdesk_oauth.E001" in [m.id for m in checks.run_checks()]


def test_unknown_provider_in_settings_fails_the_checks(settings):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {"nosuchdesk": {}}}
    assert "helpdesk_oauth.E002" in [m.id for m in checks.run_checks()]


def test_mask_shows_at_most_four_characters():
    assert crypto.mask(SECRET) == "••••3456"
    assert crypto.mask("short") == "••••"
    assert crypto.mask("") == ""


def test_secret_key_values_name_the_fix_and_decrypt_while_the_setting_is_on(settings):
    with_keys(settings, [])
    written = crypto.encrypt("written-before-keys")
    stray = Fernet(Fernet.generate_key()).encrypt(b"under-an-unknown-key").decode()
    key = Fernet.generate_key().decode()
    with_keys(settings, [key])
    with pytest.raises(DecryptionError) as info:
        crypto.decrypt(written)
    assert "derived from SECRET_KEY" in str(info.value)
    assert "DECRYPT_WITH_SECRET_KEY" in str(info.value)
    with pytest.raises(DecryptionError) as info:
        crypto.decrypt(stray)
    assert "SECRET_KEY" not in str(info.value)  # no hint for a key we do not know

    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "DECRYPT_WITH_SECRET_KEY": True}
    assert crypto.decrypt(written) == "written-before-keys"
    assert crypto.configured_keys() == (key, crypto.derived_key())
    assert Fernet(key).decrypt(crypto.rotate(written).encode()) == b"written-before-keys"
    assert Fernet(key).decrypt(crypto.encrypt("new").encode()) == b"new"  # the first key writes
    assert "helpdesk_oauth.W020" in [m.id for m in checks.run_checks()]


@pytest.mark.parametrize("value", ["True", "false", 1, None])
def test_decrypt_with_secret_key_must_be_a_boolean(settings, value):
    with_keys(settings, [Fernet.generate_key().decode()])
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "DECRYPT_WITH_SECRET_KEY": value}
    assert crypto.configured_keys() == tuple(settings.HELPDESK_OAUTH["ENCRYPTION_KEYS"])
    messages = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E020"]
    assert len(messages) == 1 and repr(value) in messages[0].msg


def test_decrypt_with_secret_key_is_quiet_without_encryption_keys(settings):
    with_keys(settings, [])
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "DECRYPT_WITH_SECRET_KEY": True}
    ids = [m.id for m in checks.run_checks()]
    assert "helpdesk_oauth.W001" in ids and "helpdesk_oauth.W020" not in ids
    assert "DECRYPT_WITH_SECRET_KEY" not in " ".join(app_settings.unknown_names())


# -- Stored values readable with the configured keys (database check E022 / W021) ------


def stored_app(**fields) -> ProviderApp:
    return ProviderApp.objects.create(
        slug="readable", provider="gorgias", client_id="id", client_secret=SECRET, **fields
    )


def database_check_ids(**kwargs) -> list[str]:
    return [
        m.id
        for m in checks.run_checks(**kwargs)
        if m.id in ("helpdesk_oauth.E022", "helpdesk_oauth.W021")
    ]


def test_values_left_under_the_secret_key_fail_the_database_check(db, settings):
    with_keys(settings, [])
    stored_app()
    with_keys(settings, [Fernet.generate_key().decode()])
    assert database_check_ids(databases=["default"]) == ["helpdesk_oauth.E022"]
    [message] = [m for m in checks.run_checks(databases=["default"]) if m.id.endswith("E022")]
    assert "DECRYPT_WITH_SECRET_KEY" in message.hint and SECRET not in message.msg
    # Only as a database check (migrate, check --database): plain `check` reads no rows.
    assert database_check_ids() == []
    # The migration's first step makes them readable.
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "DECRYPT_WITH_SECRET_KEY": True}
    assert database_check_ids(databases=["default"]) == []


def test_values_under_a_removed_key_warn_in_the_database_check(db, settings):
    removed = Fernet.generate_key().decode()
    with_keys(settings, [removed])
    stored_app()
    with_keys(settings, [Fernet.generate_key().decode()])
    assert database_check_ids(databases=["default"]) == ["helpdesk_oauth.W021"]
    with_keys(settings, [Fernet.generate_key().decode(), removed])
    assert database_check_ids(databases=["default"]) == []


def test_the_check_command_with_database_names_the_fix(db, settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with_keys(settings, [])
    stored_app()
    with_keys(settings, [Fernet.generate_key().decode()])
    with pytest.raises(SystemCheckError) as info:
        call_command("check", "--database", "default")
    assert "helpdesk_oauth.E022" in str(info.value) and SECRET not in str(info.value)
