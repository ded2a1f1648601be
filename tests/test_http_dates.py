"""Retry-After in every form, with USE_TZ on or off: the parser, then every public path.

Each HTTP-date form (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime; RFC 5322's
``-0000`` / ``+0000``), delta-seconds, garbage, empty and a far-future date, sent by
the sandbox on a 429/503, reach: the refresh task, ``api_session()``, the uninstall
URL, the admin action, the command and the background revocation. The parser tests
run with ``USE_TZ`` on and off here; the lifecycle tests run again under
``tests.settings_naive`` (``USE_TZ=False``, ``TIME_ZONE="America/New_York"``) in the
third pass of ``scripts/test``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import client, tasks
from django_helpdesk_oauth.exceptions import ProviderError
from django_helpdesk_oauth.models import Installation, PendingRevocation, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.services import uninstall
from django_helpdesk_oauth.services.uninstall import MAX_REVOKE_ATTEMPTS
from django_helpdesk_oauth.timeutil import (
    MAX_RETRY_AFTER,
    from_epoch,
    http_date_epoch,
    retry_after_seconds,
    to_epoch,
)
from tests.workers import run_as_worker

# -- the parser ---------------------------------------------------------------------------

#: Mon, 30 Nov 2026 09:43:57 GMT as epoch seconds; every date below is relative to it.
NOW = 1_796_031_837.0


@pytest.fixture(params=[True, False], ids=["USE_TZ", "naive"])
def use_tz(request, settings):
    """Both time-zone modes; a zone far from UTC catches local/UTC mix-ups."""
    settings.USE_TZ = request.param
    settings.TIME_ZONE = "America/New_York"
    return request.param


PARSED = [
    ("imf-fixdate", "Mon, 30 Nov 2026 09:53:57 GMT", 600),
    ("rfc850", "Monday, 30-Nov-26 09:53:57 GMT", 600),
    ("asctime", "Mon Nov 30 09:53:57 2026", 600),
    ("asctime-space-padded-day", "Tue Dec  1 09:43:57 2026", MAX_RETRY_AFTER),
    ("minus-0000", "Mon, 30 Nov 2026 09:53:57 -0000", 600),
    ("plus-0000", "Mon, 30 Nov 2026 09:53:57 +0000", 600),
    ("plus-0200", "Mon, 30 Nov 2026 11:53:57 +0200", 600),
    ("minus-0500", "Mon, 30 Nov 2026 04:53:57 -0500", 600),
    ("no-weekday", "30 Nov 2026 09:53:57 +0000", 600),
    ("no-zone-is-utc-like-asctime", "Mon, 30 Nov 2026 09:53:57", 600),
    ("delta", "120", 120),
    ("delta-padded", "  120 ", 120),
    ("delta-zero", "0", 0),
    ("delta-decimal", "3.5", 3.5),
    ("delta-huge", "99999999999999999999", MAX_RETRY_AFTER),
    ("past-date", "Mon, 30 Nov 2026 09:33:57 GMT", 0),
    ("epoch-start", "Thu, 01 Jan 1970 00:00:00 GMT", 0),
    ("far-future", "Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
]


@pytest.mark.parametrize(("value", "expected"), [p[1:] for p in PARSED], ids=[p[0] for p in PARSED])
def test_every_form_becomes_seconds_from_now(use_tz, value, expected):
    assert retry_after_seconds(value, now=NOW) == expected


UNUSABLE = [
    None,
    "",
    "   ",
    "garbage",
    "-5",
    "+5",
    "1e3",
    "inf",
    "nan",
    "0x10",
    "\uff11\uff12\uff10",  # full-width digits: int() and float() would read them
    "Mon, 32 Nov 2026 09:53:57 GMT",
    "Mon, 30 Nov 2026 25:00:00 GMT",
    "Mon, 30 Foo 2026 09:53:57 GMT",
    "x" * 10_000,
    "1" * 10_000,
    120,
    b"120",
]


@pytest.mark.parametrize("value", UNUSABLE, ids=lambda v: repr(v)[:30])
def test_an_unusable_value_is_ignored_never_raised(use_tz, value):
    assert retry_after_seconds(value, now=NOW) is None


def test_the_three_rfc_9110_forms_and_the_numeric_zones_name_the_same_instant(use_tz):
    forms = [
        "Mon, 30 Nov 2026 09:43:57 GMT",
        "Monday, 30-Nov-26 09:43:57 GMT",
        "Mon Nov 30 09:43:57 2026",
        "Mon, 30 Nov 2026 09:43:57 -0000",
        "Mon, 30 Nov 2026 09:43:57 +0000",
        "Mon, 30 Nov 2026 04:43:57 -0500",
    ]
    assert {http_date_epoch(form) for form in forms} == {NOW}


def test_the_default_clock_is_the_real_one(use_tz):
    value = formatdate(time.time() + 600, usegmt=True)
    seconds = retry_after_seconds(value)
    assert seconds is not None and 0 < seconds <= 600


def test_epoch_conversions_follow_use_tz(use_tz):
    moment = from_epoch(NOW)
    if use_tz:
        assert moment == datetime(2026, 11, 30, 9, 43, 57, tzinfo=UTC)
    else:
        # Django's naive datetimes are local time in TIME_ZONE.
        assert moment == datetime(2026, 11, 30, 4, 43, 57) and moment.tzinfo is None
    assert to_epoch(moment) == NOW
    assert to_epoch(datetime(2026, 11, 30, 9, 43, 57, tzinfo=UTC)) == NOW


# -- the public paths -----------------------------------------------------------------------

#: The wait the provider asks for, in seconds: above every first backoff of ours.
WAIT = 600


def retry_after_header(form: str) -> tuple[str, float | None]:
    """A ``Retry-After`` value of ``form`` asking for about ``WAIT`` seconds from now, and
    the earliest epoch second at which honouring it allows a retry (``None``: ignored;
    ``inf``: capped at ``MAX_RETRY_AFTER``)."""
    now = time.time()
    when = int(now) + WAIT  # dates have whole seconds
    gmt = time.gmtime(when)
    if form == "delta":
        return str(WAIT), now + WAIT
    if form == "imf-fixdate":
        return formatdate(when, usegmt=True), when
    if form == "rfc850":
        return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", gmt), when
    if form == "asctime":
        return time.asctime(gmt), when
    if form == "minus-0000":
        return formatdate(when), when  # formatdate's default zone is "-0000"
    if form == "plus-0000":
        return formatdate(when).replace("-0000", "+0000"), when
    if form == "far-future":
        return formatdate(when + 10 * 365 * 86400, usegmt=True), float("inf")
    if form == "garbage":
        return "soon, maybe", None
    if form == "empty":
        return "", None
    raise AssertionError(form)


FORMS = [
    "imf-fixdate",
    "rfc850",
    "asctime",
    "minus-0000",
    "plus-0000",
    "delta",
    "garbage",
    "empty",
    "far-future",
]


def honours(earliest: float | None, start: float, retry_at: float) -> bool:
    """Whether a retry at epoch ``retry_at`` respects the provider's ``Retry-After``
    (``earliest`` from :func:`retry_after_header`; ``start`` taken before the call)."""
    if earliest is None:
        return True
    if earliest == float("inf"):
        return retry_at >= start + MAX_RETRY_AFTER
    return retry_at >= earliest


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", FORMS)
def test_a_provider_error_carries_retry_after(use_tz, status, form):
    header, earliest = retry_after_header(form)
    response = requests.Response()
    response.status_code = status
    response.headers["Retry-After"] = header
    response._content = b'{"error": "temporarily_unavailable"}'
    start = time.time()
    with pytest.raises(ProviderError) as excinfo:
        client.raise_for_oauth_error(get_provider("gorgias"), response, "token refresh")
    assert excinfo.value.transient
    retry_after = excinfo.value.retry_after
    if earliest is None:
        assert retry_after is None
    else:
        assert retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER
        # The value was read between start and now: the retry comes at or after the date.
        assert honours(earliest, start, time.time() + retry_after)


def make_due(installation):
    Token.objects.filter(installation=installation).update(expires_at=timezone.now())


def token_row(installation):
    token = Token.objects.get(installation=installation)
    return (token.access_token, token.refresh_token, token.expires_at, token.refresh_count)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", FORMS)
def test_refresh_task_retries_honouring_retry_after(sandbox, installed, kustomer_app, form, status):
    installation = installed(kustomer_app)
    make_due(installation)
    before = token_row(installation)
    header, earliest = retry_after_header(form)
    sandbox.state.inject("token", status=status, headers={"Retry-After": header})
    start = time.time()
    countdown = run_as_worker(installation.pk).when
    if earliest is None:
        assert 0 < countdown <= 5 * 1.5  # our own first backoff
    elif earliest == float("inf"):
        assert countdown == MAX_RETRY_AFTER
    else:
        assert countdown <= MAX_RETRY_AFTER
        # The header was read between start and now: now + countdown is no earlier
        # than the retry Celery will make, which must not precede the date.
        assert honours(earliest, start, time.time() + countdown)
    # Recorded, and the token (a rotating Kustomer one) untouched.
    installation.refresh_from_db()
    assert installation.status == "active"
    assert installation.refresh_failures == 1
    assert f"HTTP {status}" in installation.last_error and installation.last_error_at
    assert token_row(installation) == before
    assert [r["status"] for r in sandbox.state.matching_requests(endpoint="token")][-1] == status
    # Run eagerly (.apply(), CELERY_TASK_ALWAYS_EAGER) Celery would retry at once,
    # ignoring Retry-After: the task says "retry-later" after one call instead.
    sandbox.state.inject("token", status=status, headers={"Retry-After": header})
    calls = sandbox.state.count(endpoint="token")
    result = tasks.refresh_installation_token.apply(args=[installation.pk])
    assert (result.state, result.result) == ("SUCCESS", "retry-later")
    assert sandbox.state.count(endpoint="token") == calls + 1
    # The next run (the sweep's) refreshes.
    result = tasks.refresh_installation_token.apply(args=[installation.pk])
    assert (result.state, result.result) == ("SUCCESS", "refreshed")
    statuses = [r["status"] for r in sandbox.state.matching_requests(endpoint="token")]
    assert statuses[-2:] == [status, 200]
    installation.refresh_from_db()
    assert installation.last_error == "" and installation.refresh_failures == 0
    assert token_row(installation)[1] != before[1]  # Kustomer rotated the refresh token


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", FORMS)
def test_api_session_answers_while_the_due_token_is_valid(
    sandbox, installed, kustomer_app, form, status
):
    installation = installed(kustomer_app)
    # Due (inside REFRESH_MARGIN) but still valid for ten minutes.
    Token.objects.update(expires_at=timezone.now() + timedelta(minutes=10))
    before = token_row(installation)
    header, _earliest = retry_after_header(form)
    sandbox.state.inject("token", status=status, headers={"Retry-After": header})
    response = installation.api_session().get("users/current")
    assert response.status_code == 200
    assert token_row(installation) == before
    installation.refresh_from_db()
    assert installation.status == "active" and f"HTTP {status}" in installation.last_error


def pending_revocation():
    return PendingRevocation.objects.get()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", FORMS)
def test_uninstall_url_never_500s_and_schedules_the_retry(
    sandbox, installed, gorgias_app, admin_client, form, status
):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    header, earliest = retry_after_header(form)
    sandbox.state.inject("revoke", status=status, headers={"Retry-After": header})
    start = time.time()
    response = admin_client.post(reverse("helpdesk_oauth:uninstall", args=[installation.pk]))
    assert response.status_code == 302
    installation.refresh_from_db()
    assert installation.status == "uninstalled" and not Token.objects.exists()
    pending = pending_revocation()
    assert pending.token == refresh_token and pending.attempts == 1
    assert f"HTTP {status}" in pending.last_error
    retry_at = to_epoch(pending.next_attempt_at)
    assert honours(earliest, start, retry_at)
    assert retry_at - start >= 30 * 0.8  # never sooner than our own first backoff


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("form", ["asctime", "rfc850", "minus-0000", "garbage"])
def test_admin_action_and_command_never_fail_after_committing(
    sandbox, installed, gorgias_app, kustomer_app, admin_client, form
):
    header, _earliest = retry_after_header(form)
    gorgias = installed(gorgias_app)
    sandbox.state.inject("revoke", status=503, headers={"Retry-After": header})
    changelist = reverse("admin:helpdesk_oauth_installation_changelist")
    response = admin_client.post(
        changelist,
        {"action": "uninstall_selected", "_selected_action": [gorgias.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 installation uninstalled (0 revoked at the provider)." in response.content.decode()
    assert pending_revocation().attempts == 1
    PendingRevocation.objects.all().delete()
    # The same tenant again, uninstalled by the command.
    again = installed(gorgias_app)
    sandbox.state.inject("revoke", status=429, headers={"Retry-After": header})
    out = StringIO()
    call_command("helpdesk_oauth_uninstall", str(again.pk), stdout=out)
    assert "revocation pending" in out.getvalue()
    assert pending_revocation().attempts == 1


def run_background_revocation_until_abandoned(sandbox, earliest=None):
    """Make the pending revocation due and run its task until it is gone; return the
    (attempts, delay) seen after each run."""
    seen = []
    for _ in range(MAX_REVOKE_ATTEMPTS + 2):
        if not PendingRevocation.objects.exists():
            break
        PendingRevocation.objects.update(next_attempt_at=timezone.now())  # due now
        start = time.time()
        assert tasks.revoke_pending_token.apply(args=[pending_revocation().pk]).get() is False
        pending = PendingRevocation.objects.first()
        if pending is not None:
            retry_at = to_epoch(pending.next_attempt_at)
            assert honours(earliest, start, retry_at)
            seen.append((pending.attempts, retry_at - start))
    return seen


def assert_backs_off_then_gives_up(seen):
    attempts = [a for a, _delay in seen]
    # Attempt 1 was the uninstall's own; each run adds one, the last one abandons.
    assert attempts == list(range(2, MAX_REVOKE_ATTEMPTS))
    for count, delay in seen:
        assert delay >= min(3600.0, 30.0 * 2 ** (count - 1)) * 0.8
    assert not PendingRevocation.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", FORMS)
def test_background_revocation_backs_off_and_gives_up(
    sandbox, installed, gorgias_app, form, status
):
    installation = installed(gorgias_app)
    header, earliest = retry_after_header(form)
    sandbox.state.inject(
        "revoke", status=status, headers={"Retry-After": header}, times=MAX_REVOKE_ATTEMPTS
    )
    result = uninstall(installation)
    assert result.pending is not None and pending_revocation().attempts == 1
    assert_backs_off_then_gives_up(run_background_revocation_until_abandoned(sandbox, earliest))
    assert len(sandbox.state.matching_requests(endpoint="revoke")) == MAX_REVOKE_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_background_revocation_that_succeeds_later_is_done(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    sandbox.state.inject(
        "revoke", status=503, headers={"Retry-After": time.asctime(time.gmtime())}, times=3
    )
    uninstall(installation)
    for expected_attempts in (2, 3):
        PendingRevocation.objects.update(next_attempt_at=timezone.now())
        assert tasks.revoke_pending_token.apply(args=[pending_revocation().pk]).get() is False
        assert pending_revocation().attempts == expected_attempts
    PendingRevocation.objects.update(next_attempt_at=timezone.now())
    assert tasks.revoke_pending_token.apply(args=[pending_revocation().pk]).get() is True
    assert not PendingRevocation.objects.exists()
    assert not sandbox.state.live_refresh_tokens(tenant="acme")


@pytest.mark.django_db(transaction=True)
def test_a_misconfigured_revoke_endpoint_counts_as_attempts_not_500s(
    sandbox, installed, gorgias_app, admin_client, settings
):
    # Not a provider answer at all: the client refuses a plain-HTTP, non-loopback URL.
    installation = installed(gorgias_app)
    providers = {**settings.HELPDESK_OAUTH["PROVIDERS"]}
    providers["gorgias"] = {
        **providers["gorgias"],
        "revoke_url": "http://revoke.example.invalid/{tenant}/oauth/revoke",
    }
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": providers}
    response = admin_client.post(reverse("helpdesk_oauth:uninstall", args=[installation.pk]))
    assert response.status_code == 302
    assert Installation.objects.get().status == "uninstalled" and not Token.objects.exists()
    pending = pending_revocation()
    assert pending.attempts == 1 and "HTTPS" in pending.last_error
    assert_backs_off_then_gives_up(run_background_revocation_until_abandoned(sandbox))
    assert sandbox.state.matching_requests(endpoint="revoke") == []


@pytest.mark.django_db(transaction=True)
def test_an_unreadable_pending_revocation_counts_as_attempts(
    sandbox, installed, gorgias_app, settings
):
    from cryptography.fernet import Fernet

    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    sandbox.state.inject("revoke", status=503, headers={"Retry-After": "1"})
    uninstall(installation)
    assert pending_revocation().attempts == 1
    # The encryption key changes without the old one kept: the row cannot be read.
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    seen = []
    for _ in range(MAX_REVOKE_ATTEMPTS + 2):
        row = PendingRevocation.objects.values("pk", "attempts", "last_error").first()
        if row is None:
            break
        PendingRevocation.objects.update(next_attempt_at=timezone.now())
        assert tasks.revoke_pending_token.apply(args=[row["pk"]]).get() is False
        after = PendingRevocation.objects.values("attempts", "last_error").first()
        if after is not None:
            assert after["last_error"] and refresh_token not in after["last_error"]
            seen.append(after["attempts"])
    assert seen == list(range(2, MAX_REVOKE_ATTEMPTS))
    assert not PendingRevocation.objects.exists()
    assert len(sandbox.state.matching_requests(endpoint="revoke")) == 1


# -- what people read: the status command and the admin, with USE_TZ on or off ----------------


@pytest.mark.django_db(transaction=True)
def test_status_command_and_admin_show_the_true_expiry(
    sandbox, installed, kustomer_app, admin_client
):
    # Kustomer tokens live 86400 s; a local/UTC mix-up under USE_TZ=False with
    # TIME_ZONE="America/New_York" (tests.settings_naive) would show 5 hours off.
    installation = installed(kustomer_app)
    expires_at = to_epoch(Token.objects.get().expires_at)
    assert 86400 - 60 < expires_at - time.time() <= 86400
    out = StringIO()
    call_command("helpdesk_oauth_status", stdout=out)
    _header, line = out.getvalue().splitlines()
    assert line.split()[:6] == [str(installation.pk), "kustomer", "acme", "active", "23h", "59m"]
    out = StringIO()
    call_command("helpdesk_oauth_status", "--json", stdout=out)
    [row] = json.loads(out.getvalue())
    # An instant a script can place: an offset is always there.
    reported = datetime.fromisoformat(row["expires_at"])
    assert reported.tzinfo is not None and reported.timestamp() == pytest.approx(expires_at)
    assert datetime.fromisoformat(row["installed_at"]).tzinfo is not None
    assert 86400 - 60 < row["expires_in_seconds"] <= 86400
    changelist = admin_client.get(reverse("admin:helpdesk_oauth_installation_changelist"))
    assert "in 23h 59m" in changelist.content.decode()
