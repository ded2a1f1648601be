"""helpdesk_oauth_rekey: every encrypted column moves to the first key; unknown keys fail
loudly; the move from the SECRET_KEY-derived key to ENCRYPTION_KEYS, end to end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core import checks
from django.db import connection
from django.utils import timezone

from django_helpdesk_oauth import crypto
from django_helpdesk_oauth.exceptions import DecryptionError
from django_helpdesk_oauth.models import (
    AuthorizationRequest,
    Installation,
    PendingRevocation,
    ProviderApp,
    Token,
)
from django_helpdesk_oauth.services.rekey import encrypted_models
from django_helpdesk_oauth.services.secrets import set_client_secret
from tests.commands.conftest import assert_one_line_failure, manage

CMD = "helpdesk_oauth_rekey"
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()
COLUMNS = {
    ProviderApp: ("client_secret", "previous_client_secret"),
    Token: ("access_token", "refresh_token"),
    PendingRevocation: ("token",),
    AuthorizationRequest: ("code_verifier",),
}


def use_keys(settings, *keys):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "ENCRYPTION_KEYS": list(keys)}


def raw_values():
    """Every non-empty stored ciphertext, straight from the tables."""
    values = []
    with connection.cursor() as cursor:
        for model, fields in COLUMNS.items():
            columns = ", ".join(model._meta.get_field(f).column for f in fields)
            cursor.execute(f"SELECT {columns} FROM {model._meta.db_table}")
            values += [v for row in cursor.fetchall() for v in row if v]
    return values


def opens_with(key, ciphertext):
    try:
        Fernet(key).decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def plaintexts():
    return {
        model.__name__: sorted(tuple(row) for row in model.objects.values_list("pk", *fields))
        for model, fields in COLUMNS.items()
    }


@pytest.fixture
def key_a(settings):
    return settings.HELPDESK_OAUTH["ENCRYPTION_KEYS"][0]


@pytest.fixture
def data(key_a, gorgias_app, kustomer_app):
    """Rows with every encrypted column filled, written under key A."""
    set_client_secret(gorgias_app, "gorgias-rotated-secret-0002")
    now = timezone.now()
    for n, app in enumerate((gorgias_app, kustomer_app)):
        installation = Installation.objects.create(app=app, tenant=f"tenant{n}")
        Token.objects.create(
            installation=installation,
            access_token=f"access-token-value-{n}-xxxxxxxx",
            refresh_token=f"refresh-token-value-{n}-yyyyyyyy",
            expires_at=now + timedelta(hours=1),
        )
    PendingRevocation.objects.create(app=gorgias_app, tenant="gone", token="pending-revoke-zzzz")
    AuthorizationRequest.objects.create(
        state_hash="0" * 64,
        app=kustomer_app,
        tenant="acme",
        browser_binding="1" * 64,
        code_verifier="pkce-verifier-value-wwwwwwww",
        redirect_uri="https://example.com/cb",
        scopes="offline_access",
        expires_at=now,
    )
    assert all(opens_with(key_a, value) for value in raw_values())
    return plaintexts()


def test_discovers_every_encrypted_column():
    found = {model: fields for model, fields in encrypted_models()}
    assert found == COLUMNS


@pytest.mark.django_db
def test_rekey_moves_everything_to_the_new_key(run, settings, key_a, data):
    run.remember(*(v for rows in data.values() for row in rows for v in row[1:] if v))
    use_keys(settings, KEY_B, key_a)
    output = run(CMD, "--batch-size", "1")
    values = raw_values()
    assert len(values) == 9  # 2 + 1 secrets, 4 tokens, 1 pending revocation, 1 verifier
    assert all(opens_with(KEY_B, v) and not opens_with(key_a, v) for v in values)
    lines = output.out.splitlines()
    assert lines[0].split() == ["MODEL", "FIELDS", "ROWS", "REWRITTEN", "VALUES"]
    token_line = next(line for line in lines if line.startswith("helpdesk_oauth.Token "))
    assert token_line.split()[-3:] == ["2", "2", "4"]  # rows, rows rewritten, values
    assert lines[-1] == "Re-encrypted 9 values with the first key."
    # The old key can go: everything still reads back.
    use_keys(settings, KEY_B)
    assert plaintexts() == data
    # Running it again is a no-op.
    assert run(CMD).out.splitlines()[-1] == "Re-encrypted 0 values with the first key."
    assert raw_values() == values


@pytest.mark.django_db
def test_a_value_under_an_unknown_key_fails_clearly(run, settings, key_a, data):
    use_keys(settings, KEY_C)
    stray = PendingRevocation.objects.create(
        app_id=ProviderApp.objects.values_list("pk", flat=True).first(),
        tenant="stray",
        token="written-under-key-c-0000",
    )
    run.remember("written-under-key-c-0000", *raw_values())
    use_keys(settings, KEY_B, key_a)
    message = run.error(CMD)
    assert message.startswith(f"helpdesk_oauth.PendingRevocation pk={stray.pk}: the token value")
    assert "cannot be decrypted with any key" in message
    # That row is untouched, and reading it still raises rather than returning ciphertext.
    use_keys(settings, KEY_C)
    assert PendingRevocation.objects.get(pk=stray.pk).token == "written-under-key-c-0000"


@pytest.mark.django_db
def test_one_model_from_a_primary_key(run, settings, key_a, data):
    first, second = Token.objects.order_by("pk").values_list("pk", flat=True)
    use_keys(settings, KEY_B, key_a)
    output = run(CMD, "--model", "helpdesk_oauth.token", "--start-after", str(first))
    assert output.out.splitlines()[-1] == "Re-encrypted 2 values with the first key."
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, access_token FROM helpdesk_oauth_token ORDER BY id")
        (pk1, v1), (pk2, v2) = cursor.fetchall()
    assert (pk1, pk2) == (first, second)
    assert opens_with(key_a, v1) and opens_with(KEY_B, v2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM helpdesk_oauth_providerapp")
        assert all(opens_with(key_a, v) for (v,) in cursor.fetchall())  # other models untouched


@pytest.mark.django_db
def test_bad_options(run):
    assert "is not one of: helpdesk_oauth.ProviderApp" in run.error(CMD, "--model", "auth.User")
    assert "--start-after needs --model" in run.error(CMD, "--start-after", "3")
    assert "invalid positive_int value" in run.error(CMD, "--batch-size", "0")


@pytest.mark.django_db
def test_progress(run, data):
    output = run(CMD, "--progress")
    assert "rekey [" in output.err and "] 6/6" in output.err


@pytest.mark.django_db(transaction=True)
def test_bad_input_exits_non_zero_with_one_line():
    assert_one_line_failure(
        manage(CMD, "--model", "nope.Nope"), "--model 'nope.Nope' is not one of"
    )


# --- From the key derived from SECRET_KEY to ENCRYPTION_KEYS (docs/security.md) ----------

OLD_SECRET_KEY = "django-secret-key-old-" + "o" * 40
NEW_SECRET_KEY = "django-secret-key-new-" + "n" * 40
DERIVED = (crypto.derived_key(NEW_SECRET_KEY), crypto.derived_key(OLD_SECRET_KEY))


def without_encryption_keys(settings, secret_key, fallbacks=()):
    use_keys(settings)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = secret_key, list(fallbacks)


def decrypt_with_secret_key(settings, value):
    options = {**settings.HELPDESK_OAUTH, "DECRYPT_WITH_SECRET_KEY": value}
    if value is None:
        del options["DECRYPT_WITH_SECRET_KEY"]
    settings.HELPDESK_OAUTH = options


def write_every_column():
    """One value in every encrypted column (9 values), under whatever keys are configured."""
    gorgias = ProviderApp.objects.create(
        slug="g", provider="gorgias", client_id="g", client_secret="gorgias-first-secret-0001"
    )
    kustomer = ProviderApp.objects.create(
        slug="k", provider="kustomer", client_id="k", client_secret="kustomer-secret-value-0001"
    )
    set_client_secret(gorgias, "gorgias-second-secret-0002")  # the first becomes previous
    now = timezone.now()
    for n, app in enumerate((gorgias, kustomer)):
        Token.objects.create(
            installation=Installation.objects.create(app=app, tenant=f"t{n}"),
            access_token=f"derived-access-token-{n}-xxxxxxxx",
            refresh_token=f"derived-refresh-token-{n}-yyyyyyy",
            expires_at=now + timedelta(hours=1),
        )
    PendingRevocation.objects.create(app=gorgias, tenant="gone", token="derived-revoke-zzzz")
    AuthorizationRequest.objects.create(
        state_hash="2" * 64,
        app=kustomer,
        tenant="acme",
        browser_binding="3" * 64,
        code_verifier="derived-pkce-verifier-wwwwwwww",
        redirect_uri="https://example.com/cb",
        scopes="",
        expires_at=now,
    )
    return gorgias


@pytest.mark.django_db
def test_from_secret_key_to_encryption_keys(run, settings):
    # Written with no ENCRYPTION_KEYS: some rows under a SECRET_KEY since rotated the
    # Django way (now in SECRET_KEY_FALLBACKS), the rest under the current SECRET_KEY.
    without_encryption_keys(settings, OLD_SECRET_KEY)
    gorgias = write_every_column()
    without_encryption_keys(settings, NEW_SECRET_KEY, [OLD_SECRET_KEY])
    Token.objects.filter(installation__app=gorgias).update(access_token="rewritten-under-new")
    expected = plaintexts()
    run.remember(*(v for rows in expected.values() for row in rows for v in row[1:] if v))
    values = raw_values()
    assert len(values) == 9
    assert {DERIVED.index(next(k for k in DERIVED if opens_with(k, v))) for v in values} == {0, 1}

    # 1. ENCRYPTION_KEYS alone: nothing written before reads, and the error names the fix.
    use_keys(settings, KEY_B)
    with pytest.raises(DecryptionError) as info:
        ProviderApp.objects.get(pk=gorgias.pk).client_secret  # noqa: B018
    assert "derived from SECRET_KEY" in str(info.value)
    assert 'HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"] = True' in str(info.value)
    assert "'From SECRET_KEY to ENCRYPTION_KEYS'" in str(info.value)
    message = run.error(CMD)
    assert "pk=" in message and "DECRYPT_WITH_SECRET_KEY" in message
    assert raw_values() == values  # the failed run changed nothing

    # 2. DECRYPT_WITH_SECRET_KEY = True: every value reads; new values go under KEY_B.
    decrypt_with_secret_key(settings, True)
    assert plaintexts() == expected
    assert "helpdesk_oauth.W020" in [m.id for m in checks.run_checks()]
    PendingRevocation.objects.create(app=gorgias, tenant="new", token="written-during-move")
    expected = plaintexts()

    # 3. The re-key moves everything to ENCRYPTION_KEYS[0] and says what comes next.
    lines = run(CMD).out.splitlines()
    assert lines[-2] == "Re-encrypted 9 values with the first key."
    assert 'remove HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"]' in lines[-1]

    # 4. The setting removed: everything reads back equal, under KEY_B and no derived key.
    decrypt_with_secret_key(settings, None)
    assert "helpdesk_oauth.W020" not in [m.id for m in checks.run_checks()]
    assert plaintexts() == expected
    values = raw_values()
    assert len(values) == 10
    assert all(opens_with(KEY_B, v) for v in values)
    assert not any(opens_with(k, v) for k in DERIVED for v in values)
    assert run(CMD).out.splitlines()[-1] == "Re-encrypted 0 values with the first key."


@pytest.mark.django_db
def test_an_unknown_key_gets_no_secret_key_hint(run, settings, key_a, data):
    use_keys(settings, KEY_B)
    decrypt_with_secret_key(settings, False)
    message = run.error(CMD)
    assert "Add the key it was written with" in message
    assert "SECRET_KEY" not in message
