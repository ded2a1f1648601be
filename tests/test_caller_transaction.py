"""A refresh is never rolled back by the caller (issue: ATOMIC_REQUESTS, atomic() blocks).

The provider spends the old refresh token the moment it answers; if the refresh's
writes joined the caller's transaction, a rollback would restore the spent token
and the next refresh would get ``invalid_grant``. These tests roll the caller back
after the refresh and check the stored refresh token is the one the sandbox still
accepts.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.services import isolation
from django_helpdesk_oauth.services.refresh import RefreshRetryLater
from django_helpdesk_oauth.tasks import refresh_installation_token

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def refreshes(sandbox):
    return sandbox.state.count(endpoint="token", grant_type="refresh_token")


def live_refresh_tokens(sandbox):
    return {t.token for t in sandbox.state.live_refresh_tokens(provider="kustomer")}


@pytest.fixture(params=["as configured", "deferred"])
def single_writer(request, monkeypatch):
    """Whether the database is SQLite (no refresh inside the caller's transaction), run on
    SQLite both with the test settings' IMMEDIATE transactions and with Django's default
    DEFERRED ones (where the caller holds the write lock only once it has written)."""
    connection.ensure_connection()
    if request.param == "deferred":
        if connection.vendor != "sqlite":
            pytest.skip("transaction modes are a SQLite setting")
        monkeypatch.setattr(connections["default"], "transaction_mode", None)
    return isolation.single_writer_database()


def due(installation):
    # Inside REFRESH_MARGIN but not yet expired: usable, and due for a refresh.
    Token.objects.filter(installation=installation).update(
        expires_at=timezone.now() + timedelta(seconds=60)
    )


def assert_still_installable(sandbox, installation):
    """The stored refresh token is the live one: a refresh from here succeeds."""
    stored = Token.objects.get(installation=installation).refresh_token
    assert stored in live_refresh_tokens(sandbox)
    Token.objects.filter(installation=installation).update(expires_at=timezone.now())
    assert refresh_installation_token.apply(args=[installation.pk]).get() == "refreshed"
    installation.refresh_from_db()
    assert installation.status == Installation.Status.ACTIVE


def test_a_rollback_after_the_refresh_keeps_the_rotated_refresh_token(
    sandbox, installed, kustomer_app, single_writer
):
    installation = installed(kustomer_app)
    before = Token.objects.get(installation=installation)
    due(installation)
    with pytest.raises(Boom), transaction.atomic():
        response = installation.api_session().get("customers")
        assert response.status_code == 200
        raise Boom
    after = Token.objects.get(installation=installation)
    if single_writer:
        # SQLite: no refresh inside the caller's transaction; nothing is sent, so nothing
        # can be spent; the still-valid token served the call.
        assert refreshes(sandbox) == 0
        assert after.refresh_token == before.refresh_token
    else:
        assert refreshes(sandbox) == 1
        assert after.refresh_count == before.refresh_count + 1
        assert after.refresh_token != before.refresh_token
    assert_still_installable(sandbox, installation)


def test_a_forced_refresh_on_401_survives_the_rollback(
    sandbox, installed, kustomer_app, single_writer
):
    installation = installed(kustomer_app)
    before = Token.objects.get(installation=installation)
    sandbox.state.revoke_token(before.access_token)  # the API now answers 401
    with pytest.raises(Boom), transaction.atomic():
        installation.api_session().get("customers")
        raise Boom
    after = Token.objects.get(installation=installation)
    if single_writer:
        assert refreshes(sandbox) == 0
    else:
        assert refreshes(sandbox) == 1
        assert after.refresh_token != before.refresh_token
    assert_still_installable(sandbox, installation)


def test_atomic_requests_view_that_fails_after_the_refresh(
    sandbox, installed, kustomer_app, monkeypatch, single_writer
):
    installation = installed(kustomer_app)
    before = Token.objects.get(installation=installation)
    due(installation)
    monkeypatch.setitem(connections["default"].settings_dict, "ATOMIC_REQUESTS", True)
    client = Client(raise_request_exception=False)
    response = client.get(f"/test/api-then-fail/{installation.pk}/")
    assert response.status_code == 500
    after = Token.objects.get(installation=installation)
    if single_writer:
        assert refreshes(sandbox) == 0
    else:
        assert refreshes(sandbox) == 1
        assert after.refresh_token != before.refresh_token
    assert_still_installable(sandbox, installation)


def test_an_expired_token_inside_a_sqlite_transaction_sends_nothing(
    sandbox, installed, kustomer_app, single_writer
):
    if not single_writer:
        pytest.skip("PostgreSQL refreshes on its own connection")
    installation = installed(kustomer_app)
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    api_calls = sandbox.state.count(endpoint="api")
    with pytest.raises(RefreshRetryLater), transaction.atomic():
        Installation.objects.filter(pk=installation.pk).update(refresh_failures=0)  # a write
        installation.api_session().get("customers")
    assert refreshes(sandbox) == 0
    assert sandbox.state.count(endpoint="api") == api_calls
    assert_still_installable(sandbox, installation)


@pytest.mark.postgres_only
def test_a_caller_holding_the_token_row_gets_a_typed_retry_later(sandbox, installed, kustomer_app):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with lock_timeout: PostgreSQL")
    installation = installed(kustomer_app)
    before = Token.objects.get(installation=installation)
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(RefreshRetryLater, match="lock"), transaction.atomic():
        list(Token.objects.select_for_update().filter(installation=installation))
        installation.api_session().get("customers")
    # The lease could not be taken: nothing was sent, the stored token is still live.
    assert refreshes(sandbox) == 0
    assert Token.objects.get(installation=installation).refresh_token == before.refresh_token
    assert_still_installable(sandbox, installation)


@pytest.mark.postgres_only
def test_a_caller_holding_the_installation_row_still_gets_the_refresh(
    sandbox, installed, kustomer_app
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with lock_timeout: PostgreSQL")
    installation = installed(kustomer_app)
    before = Token.objects.get(installation=installation)
    # A past failure, so a successful refresh wants to clear the installation's bookkeeping.
    Installation.objects.filter(pk=installation.pk).update(refresh_failures=2, last_error="x")
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with transaction.atomic():
        list(Installation.objects.select_for_update().filter(pk=installation.pk))
        response = installation.api_session().get("customers")
        assert response.status_code == 200
    after = Token.objects.get(installation=installation)
    assert refreshes(sandbox) == 1
    assert after.refresh_token != before.refresh_token  # the rotated token was saved
    assert_still_installable(sandbox, installation)


def test_only_the_callers_own_atomic_blocks_count():
    # transaction=True: no test-framework atomic block around this test.
    assert not isolation.in_caller_transaction()
    with transaction.atomic():
        assert isolation.in_caller_transaction()
    assert not isolation.in_caller_transaction()


@pytest.mark.django_db(transaction=False)
def test_a_test_cases_own_atomic_block_is_not_the_callers():
    # pytest-django's db fixture wraps the test in TestCase atomics (_from_testcase).
    assert connection.in_atomic_block
    assert not isolation.in_caller_transaction()
    with transaction.atomic():
        assert isolation.in_caller_transaction()


def test_the_own_connection_re_raises_and_closes(db):
    def fail():
        raise Boom("from the worker thread")

    with pytest.raises(Boom, match="worker thread"):
        isolation.on_own_connection(fail)
    assert isolation.on_own_connection(lambda: Installation.objects.count()) == 0
