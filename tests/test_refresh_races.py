"""Races around the read-first refresh (issue 13) that a version guard alone misses.

Each race is pinned by holding one caller's lease UPDATE (a database execute wrapper,
not a patch of our code) until another caller has finished, over loopback HTTP
against the sandbox.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.models import Installation, PendingRevocation, Token
from django_helpdesk_oauth.services import Outcome, refresh_installation
from django_helpdesk_oauth.services.refresh import RefreshFailed

pytestmark = pytest.mark.django_db(transaction=True)


def refreshes(sandbox):
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


class HeldAtLease:
    """Runs ``call()`` in a thread whose first lease UPDATE waits until :meth:`release`:
    its read (the snapshot) is done, its lease not yet taken."""

    def __init__(self, call):
        self.at_lease, self._go = threading.Event(), threading.Event()
        self.outcome: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(call,))

    def _hold(self, execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "lease_owner" in sql and not self._go.is_set():
            self.at_lease.set()
            self._go.wait(30)
        return execute(sql, params, many, context)

    def _run(self, call):
        try:
            with connection.execute_wrapper(self._hold):
                self.outcome.append(str(call()))
        except Exception as exc:  # reported through .outcome
            self.outcome.append(type(exc).__name__)
        finally:
            connection.close()

    def start(self):
        self._thread.start()
        assert self.at_lease.wait(30), "the held caller never reached its lease"
        return self

    def release(self):
        self._go.set()
        self._thread.join(30)
        return self.outcome


@pytest.mark.parametrize("via", ["service", "task"])
def test_a_read_before_another_workers_invalid_grant_sends_no_second_refresh(
    sandbox, installed, kustomer_app, via
):
    """B reads the due token; A refreshes, gets invalid_grant and marks the installation
    needs_reauth (the token's version does not move); B's lease must not be taken: B
    would send the refused refresh token again, for an installation needing re-auth."""
    installation = installed(kustomer_app)
    Token.objects.update(expires_at=timezone.now())
    sandbox.state.revoke_all("acme")  # the customer revoked the grant at the provider

    def call():
        if via == "task":
            return tasks.refresh_installation_token.apply(args=[installation.pk]).get()
        return refresh_installation(installation.pk, wait=5)

    held = HeldAtLease(call).start()
    with pytest.raises(RefreshFailed):
        refresh_installation(installation.pk)
    assert Installation.objects.get().status == "needs_reauth"
    outcome = held.release()
    assert [r["status"] for r in refreshes(sandbox)] == [400]  # one refresh, not two
    assert outcome == ["skipped"]
    token = Token.objects.get()
    assert token.lease_owner == "" and token.refresh_count == 0


def test_an_installation_needing_reauth_is_skipped_without_a_lease(
    sandbox, installed, kustomer_app
):
    installation = installed(kustomer_app)
    Token.objects.update(expires_at=timezone.now())
    Installation.objects.update(status="needs_reauth")
    before = Token.objects.values("lease_owner", "refresh_count").get()
    assert refresh_installation(installation.pk) is Outcome.SKIPPED
    assert refresh_installation(installation.pk, if_version=0) is Outcome.SKIPPED
    assert refreshes(sandbox) == []
    assert Token.objects.values("lease_owner", "refresh_count").get() == before


def test_a_reinstall_while_a_refresh_answer_is_on_the_wire_revokes_the_discarded_pair(
    sandbox, browser
):
    """The provider has rotated the old grant's pair, then the customer installs again
    before the answer reaches us: the answer is discarded (the re-install's token stands)
    and the pair it carried, which nothing of ours holds, is revoked, not left live."""
    from tests.test_grants_left_live import install, installed

    app, inst = installed(browser, sandbox, "zendesk")
    Token.objects.update(expires_at=timezone.now())
    # The normal answer, its body streamed slowly: the pair is issued before we read it.
    sandbox.state.inject("token", status=None, drip=0.01, provider="zendesk")
    out: list[object] = []

    def work():
        try:
            out.append(refresh_installation(inst.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    while not [r for r in refreshes(sandbox) if r.get("status")]:
        time.sleep(0.01)  # waits for the provider to have rotated; asserts nothing on time
    # Not due by the re-install's own read, so it does not wait on the refresh lease.
    Token.objects.update(expires_at=timezone.now() + timedelta(hours=1))
    assert install(browser, sandbox, app).status_code == 302
    installed_token = Token.objects.get().access_token
    thread.join(30)
    assert out == [Outcome.FRESH]
    assert Token.objects.get().access_token == installed_token  # the re-install's stands
    for pending in PendingRevocation.objects.all():
        tasks.revoke_pending_token.apply((pending.pk,))
    live = sandbox.state.live_refresh_tokens("zendesk", "acme")
    assert [t.token for t in live] == [Token.objects.get().refresh_token]  # ours only
