"""Every command with a secret or token that no configured key decrypts: one clear line and a
non-zero exit where it cannot go on, a normal run where it can (status, replacing the secret)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.db.models import TextField, Value
from django.utils import timezone

from django_helpdesk_oauth.models import Installation, PendingRevocation, ProviderApp, Token
from tests.commands.conftest import assert_one_line_failure, manage
from tests.conftest import GORGIAS_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

UNREADABLE = "cannot be decrypted with any configured key"


def write_unreadable(model, pk, **values: str) -> None:
    """Store ``values`` encrypted under a key the settings do not hold."""
    other = Fernet(Fernet.generate_key())
    model.objects.filter(pk=pk).update(
        **{
            name: Value(other.encrypt(value.encode()).decode(), output_field=TextField())
            for name, value in values.items()
        }
    )


@pytest.fixture
def broken(sandbox, installed, gorgias_app):
    """A Gorgias installation whose tokens were written under another key."""
    installation = installed(gorgias_app)
    write_unreadable(Token, installation.token.pk, access_token="at-x", refresh_token="rt-x")
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    return installation


def test_rotate_secret_replaces_an_unreadable_secret(run, stdin, sandbox, installed, gorgias_app):
    write_unreadable(ProviderApp, gorgias_app.pk, client_secret=GORGIAS_SECRET)
    stdin(GORGIAS_SECRET + "\n")  # pasted again from the provider's portal
    output = run("helpdesk_oauth_rotate_secret", "gorgias")
    assert "could not be decrypted with any configured key; it was replaced" in output.out
    assert "No grace window" in output.out
    assert ProviderApp.objects.get().client_secret == GORGIAS_SECRET
    installation = installed(gorgias_app)  # and the app works again
    assert installation.api_session().get("account").status_code == 200


def test_status_lists_it_and_exits_zero(run, broken):
    run.error("helpdesk_oauth_refresh", "--installation", str(broken.pk))  # records why
    output = run("helpdesk_oauth_status")
    [line] = [ln for ln in output.out.splitlines() if ln.startswith(str(broken.pk))]
    assert "active" in line and "cannot be decrypted" in line


def test_refresh_fails_with_one_line_per_installation(run, sandbox, broken):
    message = run.error("helpdesk_oauth_refresh", "--installation", str(broken.pk))
    assert message == "1 of the selected refreshes failed (DecryptionError 1)."
    [line] = run.last.err.strip().splitlines()
    assert line.startswith(f"installation {broken.pk} (gorgias @ acme): failed (DecryptionError)")
    assert UNREADABLE in line
    installation = Installation.objects.get()
    assert installation.status == "active" and UNREADABLE in installation.last_error
    assert sandbox.state.matching_requests(grant_type="refresh_token") == []


def test_uninstall_refuses_and_changes_nothing_unless_no_revoke(run, sandbox, broken):
    message = run.error("helpdesk_oauth_uninstall", str(broken.pk))
    assert UNREADABLE in message and "--no-revoke" in message
    assert Installation.objects.get().status == "active" and Token.objects.exists()
    output = run("helpdesk_oauth_uninstall", str(broken.pk), "--no-revoke")
    assert "uninstalled; tokens erased; not revoked (--no-revoke)" in output.out
    assert not Token.objects.exists()
    assert sandbox.state.matching_requests(endpoint="revoke") == []


def test_rekey_names_the_row(run, broken):
    message = run.error("helpdesk_oauth_rekey")
    assert message.startswith(f"helpdesk_oauth.Token pk={broken.token.pk}: the access_token value")


def test_a_user_running_them_sees_one_line_not_a_traceback(broken):
    assert_one_line_failure(manage("helpdesk_oauth_uninstall", str(broken.pk)), UNREADABLE)
    assert_one_line_failure(manage("helpdesk_oauth_rekey"), "cannot be decrypted")
    result = manage("helpdesk_oauth_refresh", "--installation", str(broken.pk))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("CommandError: 1 of the selected")
    status = manage("helpdesk_oauth_status")
    assert status.returncode == 0 and "Traceback" not in status.stderr


def test_pending_revocations_do_not_break_the_commands(run, gorgias_app):
    pending = PendingRevocation.objects.create(app=gorgias_app, tenant="old", token="rt-old-1")
    write_unreadable(PendingRevocation, pending.pk, token="rt-old-1")
    assert "No installations." in run("helpdesk_oauth_status").out
    message = run.error("helpdesk_oauth_rekey")
    assert message.startswith(f"helpdesk_oauth.PendingRevocation pk={pending.pk}")
