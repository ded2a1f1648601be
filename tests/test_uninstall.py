"""Uninstall: revoke (Gorgias, Basic auth, the refresh token), erase, idempotent, protected."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.models import Installation, PendingRevocation, Token
from django_helpdesk_oauth.services import uninstall

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(browser, sandbox):
    """Log the browser in as a staff user allowed to uninstall, through the admin login page."""
    user = get_user_model().objects.create_user("staff", password="pw-staff-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="delete_installation"))
    login = f"{sandbox.url}/admin/login/"
    browser.get(login, timeout=10)
    response = browser.post(
        login,
        data={
            "username": "staff",
            "password": "pw-staff-1",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    return user


def post_uninstall(browser, sandbox, installation):
    url = f"{sandbox.url}/oauth/{installation.pk}/uninstall/"
    return browser.post(
        url,
        data={"csrfmiddlewaretoken": browser.cookies.get("csrftoken", "")},
        headers={"Referer": url},
        allow_redirects=False,
        timeout=10,
    )


def revokes(sandbox):
    return sandbox.state.matching_requests(endpoint="revoke")


def test_uninstall_revokes_erases_and_is_idempotent(
    sandbox, browser, installed, gorgias_app, staff
):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    response = post_uninstall(browser, sandbox, installation)
    assert response.status_code == 302
    [revoke] = revokes(sandbox)
    assert (revoke["client_auth"], revoke["token"], revoke["status"]) == (
        "basic",
        refresh_token,
        200,
    )
    assert not Token.objects.exists()
    installation.refresh_from_db()
    assert installation.status == "uninstalled" and installation.uninstalled_at
    assert not PendingRevocation.objects.exists()
    # The refresh token no longer works at the provider.
    assert not sandbox.state.live_refresh_tokens(tenant="acme")
    # Again: nothing more happens.
    assert post_uninstall(browser, sandbox, installation).status_code == 302
    assert len(revokes(sandbox)) == 1


def test_kustomer_has_no_revoke_endpoint_uninstall_deletes_locally(
    sandbox, installed, kustomer_app
):
    installation = installed(kustomer_app)
    result = uninstall(installation)
    assert result.revoked is False and result.pending is None
    assert revokes(sandbox) == []
    assert not Token.objects.exists()
    assert Installation.objects.get().status == "uninstalled"


def test_a_transient_revoke_failure_is_retried_in_the_background(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    sandbox.state.inject("revoke", status=503, headers={"Retry-After": "1"})
    result = uninstall(installation)
    # The user's uninstall is complete already.
    assert result.revoked is False and result.pending is not None
    assert Installation.objects.get().status == "uninstalled" and not Token.objects.exists()
    pending = PendingRevocation.objects.get()
    assert pending.token == refresh_token and pending.attempts == 1
    PendingRevocation.objects.update(next_attempt_at=pending.created_at)  # due now
    assert tasks.revoke_pending_token.apply((pending.pk,)).get() is True
    assert [r["status"] for r in revokes(sandbox)] == [503, 200]
    assert not PendingRevocation.objects.exists()
    assert not sandbox.state.live_refresh_tokens(tenant="acme")


def test_get_is_not_allowed(sandbox, browser, installed, gorgias_app, staff):
    installation = installed(gorgias_app)
    response = browser.get(f"{sandbox.url}/oauth/{installation.pk}/uninstall/", timeout=10)
    assert response.status_code == 405
    assert Installation.objects.get().status == "active"


def test_anonymous_post_changes_nothing(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    import requests

    with requests.Session() as anonymous:
        response = post_uninstall(anonymous, sandbox, installation)
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
    assert Installation.objects.get().status == "active" and Token.objects.exists()
    assert revokes(sandbox) == []


@pytest.mark.parametrize(
    ("next_page", "back_to"),
    [("/integrations/", "/integrations/"), ("https://evil.example/", "/"), ("", "/")],
)
def test_anonymous_post_goes_to_login_then_back_to_the_page_not_the_post_url(
    client, settings, installed, gorgias_app, next_page, back_to
):
    """The uninstall URL is POST-only: sent back to it after logging in, the browser would
    GET it (405). The login redirect names the page the form was on (or SUCCESS_URL)."""
    settings.LOGIN_URL = "/accounts/login/"
    installation = installed(gorgias_app)
    response = client.post(
        reverse("helpdesk_oauth:uninstall", args=[installation.pk]), {"next": next_page}
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/accounts/login/"
    assert parse_qs(location.query)["next"] == [back_to]
    assert Installation.objects.get().status == "active" and Token.objects.exists()


def test_a_non_staff_user_is_refused(sandbox, browser, installed, gorgias_app, client):
    installation = installed(gorgias_app)
    user = get_user_model().objects.create_user("someone", password="pw")
    client.force_login(user)
    response = client.post(f"/oauth/{installation.pk}/uninstall/")
    assert response.status_code == 403
    assert Installation.objects.get().status == "active"


def test_missing_csrf_token_is_refused(sandbox, installed, gorgias_app, client):
    from django.test import Client

    installation = installed(gorgias_app)
    user = get_user_model().objects.create_user("boss", password="pw", is_staff=True)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    response = csrf_client.post(f"/oauth/{installation.pk}/uninstall/")
    assert response.status_code == 403
    assert Installation.objects.get().status == "active"


def test_unknown_installation_is_404(sandbox, client):
    user = get_user_model().objects.create_user("boss", password="pw", is_staff=True)
    client.force_login(user)
    assert client.post("/oauth/999999/uninstall/").status_code == 404


def test_the_sweep_requeues_only_revocations_their_retry_missed(
    sandbox, installed, gorgias_app, celery_app
):
    from datetime import timedelta

    from django.utils import timezone

    installation = installed(gorgias_app)
    sandbox.state.inject("revoke", status=503)
    uninstall(installation)
    pending = PendingRevocation.objects.get()
    celery_app.conf.task_always_eager = True
    try:
        # Just due: its own scheduled retry is about to run; the sweep leaves it.
        PendingRevocation.objects.update(next_attempt_at=timezone.now())
        tasks.refresh_expiring_tokens()
        assert len(revokes(sandbox)) == 1
        # Long overdue (the retry's message was lost): the sweep re-queues it.
        PendingRevocation.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))
        tasks.refresh_expiring_tokens()
    finally:
        celery_app.conf.task_always_eager = False
    assert [r["status"] for r in revokes(sandbox)] == [503, 200]
    assert not PendingRevocation.objects.filter(pk=pending.pk).exists()
