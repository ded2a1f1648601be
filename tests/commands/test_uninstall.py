"""helpdesk_oauth_uninstall: revoked, --no-revoke, pending, already uninstalled, unknown id."""

from __future__ import annotations

import pytest

from django_helpdesk_oauth.models import Installation, PendingRevocation, Token
from tests.commands.conftest import assert_one_line_failure, manage

CMD = "helpdesk_oauth_uninstall"
pytestmark = pytest.mark.django_db(transaction=True)


def revokes(sandbox):
    return sandbox.state.matching_requests(endpoint="revoke")


def test_gorgias_is_revoked(run, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    output = run(CMD, str(installation.pk))
    assert output.out == (
        f"Installation {installation.pk} (gorgias @ acme) uninstalled; tokens erased; "
        "revoked at the provider.\n"
    )
    [revoke] = revokes(sandbox)
    assert (revoke["token"], revoke["status"]) == (refresh_token, 200)
    assert Installation.objects.get().status == "uninstalled" and not Token.objects.exists()
    # Again: nothing happens.
    again = run(CMD, str(installation.pk))
    assert "was already uninstalled; nothing to do." in again.out
    assert len(revokes(sandbox)) == 1


def test_no_revoke(run, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    output = run(CMD, str(installation.pk), "--no-revoke")
    assert "not revoked (--no-revoke)" in output.out
    assert revokes(sandbox) == [] and not PendingRevocation.objects.exists()
    assert not Token.objects.exists()
    assert sandbox.state.live_refresh_tokens(tenant="acme")  # still live at the provider


def test_transient_revoke_failure_is_pending(run, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    sandbox.state.inject("revoke", status=503)
    output = run(CMD, str(installation.pk))
    assert "revocation pending" in output.out
    assert PendingRevocation.objects.count() == 1 and not Token.objects.exists()


def test_kustomer_has_no_revoke_endpoint(run, sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    output = run(CMD, str(installation.pk))
    assert "not revoked (Kustomer has no revoke endpoint)" in output.out
    assert Installation.objects.get().status == "uninstalled"


def test_unknown_id(run):
    assert run.error(CMD, "999999") == "No installation with id 999999."
    assert "invalid int value" in run.error(CMD, "abc")


def test_bad_input_exits_non_zero_with_one_line():
    assert_one_line_failure(manage(CMD, "999999"), "No installation with id 999999.")
