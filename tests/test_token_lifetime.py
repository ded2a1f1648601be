"""Token lifetime as one concept (issue 10): the resolution order, the margin cap, and
tokens that never expire, on the public paths (callback, sweep, api_session, commands,
admin) over loopback HTTP against the sandbox. No sleeping: time passes by moving
``expires_at`` in the database (what an operator may do too).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import providers, tasks
from django_helpdesk_oauth.models import Installation, Token, is_due
from django_helpdesk_oauth.providers.kustomer import KustomerProvider
from django_helpdesk_oauth.services import Outcome, refresh_installation
from django_helpdesk_oauth.session import token_cache
from tests.commands.conftest import Runner

pytestmark = pytest.mark.django_db(transaction=True)

MARGIN = 1800  # REFRESH_MARGIN's default, which the test settings keep


def refreshes(sandbox):
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


def api_calls(sandbox):
    return sandbox.state.matching_requests(endpoint="api")


def elapse(installation, seconds):
    """``seconds`` pass for this token: its expiry comes that much closer."""
    token = Token.objects.get(installation=installation)
    Token.objects.filter(pk=token.pk).update(
        expires_at=token.expires_at - timedelta(seconds=seconds)
    )
    # An UPDATE by hand reaches this process's api_session() cache within
    # SESSION_TOKEN_TTL; the test does not wait for it.
    token_cache.forget(installation.pk)


def sweep():
    """One beat sweep, with a worker running what it dispatched; returns the ids dispatched."""
    due = list(tasks.due_installation_ids())
    for installation_id in due:
        tasks.refresh_installation_token.apply((installation_id,))
    return due


def call_api(installation, times=1):
    """``times`` calls, each on a new session (no token cached between them)."""
    for _ in range(times):
        assert installation.api_session().get("customers").status_code == 200


@pytest.fixture
def short_kustomer(sandbox, installed, kustomer_app, settings):
    """A Kustomer installation whose provider grants 900 s tokens."""
    sandbox.state.lifetimes["kustomer"] = 900
    return installed(kustomer_app)


# -- the margin cap --------------------------------------------------------------------


def test_a_900s_token_is_refreshed_once_per_lifetime_not_per_call(sandbox, short_kustomer):
    installation = short_kustomer
    token = Token.objects.get()
    assert token.lifetime == timedelta(seconds=900)
    # Fresh: inside the 30-minute margin, but the margin is capped at 450 s.
    call_api(installation, 5)
    assert sweep() == [] and sweep() == []
    assert tasks.refresh_expiring_tokens() == 0
    assert refreshes(sandbox) == []
    elapse(installation, 449)  # 451 s left: still not due
    call_api(installation, 3)
    assert sweep() == []
    assert refreshes(sandbox) == []
    elapse(installation, 2)  # 449 s left: past its half-life
    call_api(installation, 5)
    assert [r["status"] for r in refreshes(sandbox)] == [200]  # once, not five times
    assert sweep() == [] and tasks.refresh_expiring_tokens() == 0
    renewed = Token.objects.get()
    assert renewed.lifetime == timedelta(seconds=900) and renewed.refresh_count == 1
    call_api(installation, 5)
    assert len(refreshes(sandbox)) == 1
    # The next half-life: the sweep refreshes it, once, and later sweeps don't.
    elapse(installation, 451)
    assert sweep() == [installation.pk]
    assert sweep() == [] and sweep() == []
    assert [r["status"] for r in refreshes(sandbox)] == [200, 200]
    assert Token.objects.get().refresh_count == 2


def test_one_cached_session_refreshes_a_short_token_once(sandbox, short_kustomer, settings):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "SESSION_TOKEN_TTL": 0}
    session = short_kustomer.api_session()
    elapse(short_kustomer, 460)
    for _ in range(6):
        assert session.get("customers").status_code == 200
    assert len(refreshes(sandbox)) == 1


def test_a_30_minute_token_becomes_due_at_its_half_life(sandbox, installed, kustomer_app):
    sandbox.state.lifetimes["kustomer"] = 1800
    installation = installed(kustomer_app)
    token = Token.objects.get()
    assert token.lifetime == timedelta(seconds=1800)
    issued = token.expires_at - token.lifetime
    before, after = issued + timedelta(seconds=899), issued + timedelta(seconds=900)
    # The QuerySet and its in-memory twin agree on both sides of the half-life.
    assert not token.is_due(before) and not Token.objects.due(before).exists()
    assert token.is_due(after) and list(Token.objects.due(after)) == [token]
    assert sweep() == []
    elapse(installation, 901)
    assert sweep() == [installation.pk]
    assert len(refreshes(sandbox)) == 1


def test_a_24h_token_keeps_the_full_margin(sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    token = Token.objects.get()
    assert token.lifetime == timedelta(days=1)
    assert not token.is_due()
    elapse(installation, 86400 - MARGIN - 5)  # 30 min + 5 s left: not yet
    assert sweep() == []
    elapse(installation, 10)  # 29 min 55 s left: inside REFRESH_MARGIN
    assert sweep() == [installation.pk]


def test_a_token_of_unknown_lifetime_uses_the_margin(sandbox, installed, kustomer_app):
    # A row stored before lifetimes were recorded (the migration could not tell).
    sandbox.state.lifetimes["kustomer"] = 900
    installation = installed(kustomer_app)
    Token.objects.update(lifetime=None)
    assert sweep() == [installation.pk]  # 900 s left, inside 1800 s: as before


@pytest.mark.parametrize("lifetime", [None, 900, 1800, 3600, 86400])
@pytest.mark.parametrize("left", [-60, 0, 300, 449, 451, 899, 901, 1799, 1801, 90000])
def test_the_queryset_and_the_in_memory_predicate_agree(kustomer_app, lifetime, left):
    installation = Installation.objects.create(app=kustomer_app, tenant="acme")
    now = timezone.now()
    token = Token.objects.create(
        installation=installation,
        access_token="a",
        refresh_token="r",
        expires_at=now + timedelta(seconds=left),
        lifetime=None if lifetime is None else timedelta(seconds=lifetime),
    )
    margin = MARGIN if lifetime is None else min(MARGIN, lifetime / 2)
    expected = left <= margin
    assert token.is_due(now) is expected
    assert Token.objects.due(now).exists() is expected
    assert is_due(token.expires_at, token.lifetime, now) is expected


def test_a_never_expiring_row_is_never_due_whatever_its_lifetime(kustomer_app):
    installation = Installation.objects.create(app=kustomer_app, tenant="acme")
    token = Token.objects.create(
        installation=installation, access_token="a", expires_at=None, lifetime=None
    )
    assert not token.is_due() and not Token.objects.due().exists()
    assert not Token.objects.due(timezone.now() + timedelta(days=10000)).exists()


# -- an operator forcing a refresh -------------------------------------------------------


def test_an_operator_setting_expires_at_to_now_gets_a_refresh(sandbox, short_kustomer):
    Token.objects.update(expires_at=timezone.now())  # by hand, e.g. in a shell
    call_api(short_kustomer)
    assert len(refreshes(sandbox)) == 1
    Token.objects.update(expires_at=timezone.now())
    assert sweep() == [short_kustomer.pk]
    assert len(refreshes(sandbox)) == 2


def test_an_operator_moving_a_long_token_earlier_gets_a_refresh(sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    # The lifetime recorded is 24 h; the cap uses it, not the time left, so an
    # expiry moved to "in 10 minutes" is due (10 min < REFRESH_MARGIN).
    Token.objects.update(expires_at=timezone.now() + timedelta(minutes=10))
    assert sweep() == [installation.pk]
    assert len(refreshes(sandbox)) == 1


# -- the resolution order, through the callback -------------------------------------------


def lifetime_after_install(sandbox, installed, app, shape):
    sandbox.state.reshape_token_response(shape, provider=app.provider)
    installed(app)
    token = Token.objects.get()
    return token, (token.expires_at - timezone.now()).total_seconds()


@pytest.mark.parametrize(
    ("shape", "low", "high"),
    [
        # absolute expires_at, epoch seconds (Front)
        (lambda body: {**body, "expires_at": int(time.time()) + 600, "expires_in": None}, 590, 601),
        # the same in milliseconds (above 10^11)
        (
            lambda body: {
                **body,
                "expires_at": int(time.time() * 1000) + 700_000,
                "expires_in": None,
            },
            690,
            701,
        ),
        # a numeric string
        (
            lambda body: {**body, "expires_at": str(int(time.time()) + 650), "expires_in": None},
            640,
            651,
        ),
        # expires_at and expires_in both stated: the earlier wins
        (lambda body: {**body, "expires_at": int(time.time()) + 5000, "expires_in": 500}, 490, 501),
        (lambda body: {**body, "expires_at": int(time.time()) + 400, "expires_in": 5000}, 390, 401),
        # expires_at unusable (past, absurd, not a number): the next source, expires_in
        (lambda body: {**body, "expires_at": int(time.time()) - 60, "expires_in": 500}, 490, 501),
        (lambda body: {**body, "expires_at": 10**30, "expires_in": 500}, 490, 501),
        (lambda body: {**body, "expires_at": "tomorrow", "expires_in": 500}, 490, 501),
        (lambda body: {**body, "expires_at": True, "expires_in": 500}, 490, 501),
        # expires_in alone
        ({"expires_in": 500}, 490, 501),
        # nothing stated: Kustomer's documented lifetime
        ({"expires_in": None}, 86390, 86401),
        ({"expires_in": 0}, 86390, 86401),
    ],
)
def test_kustomer_expiry_source(sandbox, installed, kustomer_app, shape, low, high):
    token, left = lifetime_after_install(sandbox, installed, kustomer_app, shape)
    assert low <= left <= high
    assert low <= token.lifetime.total_seconds() <= high


def test_gorgias_jwt_exp_is_the_source(sandbox, installed, gorgias_app):
    sandbox.state.lifetimes["gorgias"] = 800  # expires_in 0, the JWT's exp in 800 s
    token, left = lifetime_after_install(sandbox, installed, gorgias_app, {})
    assert 790 <= left <= 800 and 790 <= token.lifetime.total_seconds() <= 800


def test_gorgias_expires_at_earlier_than_the_jwt_wins(sandbox, installed, gorgias_app):
    _token, left = lifetime_after_install(
        sandbox,
        installed,
        gorgias_app,
        lambda body: {**body, "expires_at": int(time.time()) + 300},
    )
    assert 290 <= left <= 301


def test_gorgias_without_any_lifetime_uses_its_documented_one(sandbox, installed, gorgias_app):
    opaque = lambda body: {**body, "access_token": "opaque-access-token-0001"}  # noqa: E731
    token, left = lifetime_after_install(sandbox, installed, gorgias_app, opaque)
    assert 86390 <= left <= 86400 and token.lifetime == timedelta(days=1)


def test_a_refresh_answer_records_its_own_lifetime(sandbox, short_kustomer):
    Token.objects.update(expires_at=timezone.now())
    sandbox.state.reshape_token_response(
        lambda body: {**body, "expires_at": int(time.time()) + 1200, "expires_in": None}
    )
    assert refresh_installation(short_kustomer.pk) is Outcome.REFRESHED
    token = Token.objects.get()
    assert 1190 <= token.lifetime.total_seconds() <= 1201
    assert not token.is_due()


def test_a_declared_never_expiring_provider_still_uses_a_stated_lifetime(
    sandbox, installed, kustomer_app, never_expiring
):
    sandbox.state.reshapes.clear()  # the fixture's "no lifetime" answers
    token, left = lifetime_after_install(sandbox, installed, kustomer_app, {"expires_in": 500})
    assert 490 <= left <= 501 and token.lifetime is not None


# -- tokens that never expire ---------------------------------------------------------------


class NeverExpiringKustomer(KustomerProvider):
    """Kustomer as a provider whose access tokens never expire (as Intercom's don't)."""

    access_tokens_expire = False


@pytest.fixture
def never_expiring(sandbox):
    """Kustomer declared never-expiring (a test-only provider under its key), answering
    with no lifetime at all; the real definition is put back afterwards."""
    original = type(providers.registry["kustomer"])
    providers.register(NeverExpiringKustomer)
    sandbox.state.reshape_token_response({"expires_in": None}, times=100, provider="kustomer")
    yield
    providers.register(original)


@pytest.fixture
def forever(sandbox, installed, kustomer_app, never_expiring):
    installation = installed(kustomer_app)
    sandbox.state.requests.clear()
    return installation


def state_of(installation):
    return tuple(Token.objects.filter(installation=installation).values().get().items())


def test_a_never_expiring_token_is_stored_with_no_expiry(forever):
    token = Token.objects.get()
    assert token.expires_at is None and token.lifetime is None and token.never_expires
    assert not token.is_due()


def test_the_sweep_never_dispatches_it(sandbox, forever):
    before = state_of(forever)
    assert list(tasks.due_installation_ids()) == []
    assert tasks.refresh_expiring_tokens() == 0
    assert tasks.refresh_installation_token.apply((forever.pk,)).get() == "fresh"
    assert refreshes(sandbox) == [] and state_of(forever) == before


def test_asking_to_refresh_it_is_a_no_op(sandbox, forever):
    before = state_of(forever)
    version = Token.objects.get().refresh_count
    assert refresh_installation(forever.pk) is Outcome.FRESH
    assert refresh_installation(forever.pk, if_version=version) is Outcome.FRESH  # forced
    assert refreshes(sandbox) == [] and state_of(forever) == before


def test_api_session_never_refreshes_it(sandbox, forever):
    call_api(forever, 5)
    assert refreshes(sandbox) == [] and len(api_calls(sandbox)) == 5


def test_a_401_on_a_never_expiring_token_is_returned_without_a_refresh(sandbox, forever):
    before = state_of(forever)
    sandbox.state.revoke_token(Token.objects.get().access_token)
    response = forever.api_session().get("customers")
    assert response.status_code == 401
    assert refreshes(sandbox) == [] and len(api_calls(sandbox)) == 1
    assert state_of(forever) == before
    assert Installation.objects.get().status == "active"


def test_an_operator_can_still_force_its_refresh(sandbox, forever):
    Token.objects.update(expires_at=timezone.now())
    call_api(forever)
    assert len(refreshes(sandbox)) == 1
    assert Token.objects.get().expires_at is None  # the new answer states no lifetime either


def test_the_status_command_shows_never_expires(forever, kustomer_app):
    run = Runner()
    line = run("helpdesk_oauth_status").out.splitlines()[1]
    assert "never expires" in line
    [row] = json.loads(run("helpdesk_oauth_status", "--json").out)
    assert row["expires_at"] is None and row["expires_in_seconds"] is None
    assert row["never_expires"] is True and row["due"] is False


def test_the_refresh_command_skips_it(sandbox, forever):
    before = state_of(forever)
    run = Runner()
    out = run("helpdesk_oauth_refresh", "--installation", str(forever.pk), verbosity=2).out
    assert "skipped (never expires)" in out and "refreshed 0" in out
    assert (
        "refreshed 0, fresh 0, skipped 0"
        in run("helpdesk_oauth_refresh", "--all", "--due-only").out
    )
    assert refreshes(sandbox) == [] and state_of(forever) == before


def test_the_admin_shows_never_expires_and_its_action_skips_it(admin_client, sandbox, forever):
    before = state_of(forever)
    changelist = reverse("admin:helpdesk_oauth_installation_changelist")
    assert "never expires" in admin_client.get(changelist).content.decode()
    response = admin_client.post(
        changelist, {"action": "refresh_now", "_selected_action": [forever.pk]}, follow=True
    )
    assert "0 tokens refreshed" in response.content.decode()
    assert refreshes(sandbox) == [] and state_of(forever) == before


# -- existing rows --------------------------------------------------------------------------


def test_the_migration_records_the_lifetime_of_existing_rows(kustomer_app):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("django_helpdesk_oauth.migrations.0004_token_lifetime")
    now = timezone.now()
    rows = []
    for tenant, issued, expires in (
        ("a", now, now + timedelta(seconds=900)),
        ("b", now - timedelta(hours=1), now + timedelta(hours=23)),
        ("c", now, now),  # a salvaged install, due now: unknown
    ):
        installation = Installation.objects.create(app=kustomer_app, tenant=tenant)
        rows.append(
            Token.objects.create(
                installation=installation, access_token="a", issued_at=issued, expires_at=expires
            )
        )
    migration.record_granted_lifetimes(apps, SimpleNamespace(connection=connection))
    lifetimes = [Token.objects.get(pk=row.pk).lifetime for row in rows]
    assert lifetimes == [timedelta(seconds=900), timedelta(days=1), None]


def test_status_json_due_follows_the_sweep(sandbox, installed, kustomer_app, gorgias_app):
    due, parked = installed(kustomer_app), installed(gorgias_app)
    Token.objects.update(expires_at=timezone.now())
    Installation.objects.filter(pk=parked.pk).update(status="needs_reauth")
    rows = {row["id"]: row for row in json.loads(Runner()("helpdesk_oauth_status", "--json").out)}
    assert rows[due.pk]["due"] is True and rows[parked.pk]["due"] is False
    assert list(tasks.due_installation_ids()) == [due.pk]
