"""Every contract signal fires once, with the documented keyword arguments."""

from __future__ import annotations

import pytest
from django.utils import timezone

from django_helpdesk_oauth import signals
from django_helpdesk_oauth.models import Token
from django_helpdesk_oauth.services import refresh_installation, uninstall
from django_helpdesk_oauth.services.secrets import set_client_secret

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received():
    events: list[tuple[str, dict]] = []
    names = [
        "installation_completed",
        "token_refreshed",
        "token_refresh_failed",
        "installation_needs_reauth",
        "installation_uninstalled",
        "client_secret_rotated",
    ]
    handlers = {}
    for name in names:

        def handler(sender, signal=None, _name=name, **kwargs):
            events.append((_name, kwargs))

        handlers[name] = handler
        getattr(signals, name).connect(handler)
    yield events
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def names(events):
    return [name for name, _ in events]


def test_the_lifecycle_signals(sandbox, installed, gorgias_app, received):
    installation = installed(gorgias_app)
    installed(gorgias_app)  # re-install
    assert [(n, kw["created"]) for n, kw in received] == [
        ("installation_completed", True),
        ("installation_completed", False),
    ]
    assert received[0][1]["installation"].pk == installation.pk
    received.clear()

    Token.objects.update(expires_at=timezone.now())
    refresh_installation(installation.pk)
    assert names(received) == ["token_refreshed"]
    received.clear()

    set_client_secret(gorgias_app, "a-brand-new-secret-value")
    assert names(received) == ["client_secret_rotated"]
    assert received[0][1]["app"].pk == gorgias_app.pk
    received.clear()

    uninstall(installation)
    assert names(received) == ["installation_uninstalled"]
    assert received[0][1]["revoked"] is True
    received.clear()
    uninstall(installation)  # idempotent: no second signal
    assert received == []


def test_failure_signals(sandbox, installed, kustomer_app, received):
    installation = installed(kustomer_app)
    received.clear()
    Token.objects.update(expires_at=timezone.now())
    sandbox.state.revoke_all("acme")
    with pytest.raises(Exception):  # noqa: B017 (RefreshFailed; the signals are the point)
        refresh_installation(installation.pk)
    assert names(received) == ["installation_needs_reauth", "token_refresh_failed"]
    assert received[1][1]["will_retry"] is False
    assert received[1][1]["error"].error == "invalid_grant"


def test_installed_by_is_the_signed_in_user(sandbox, browser, gorgias_app, django_user_model):
    from tests import flows

    # Staff only so that the admin login page can sign them in.
    user = django_user_model.objects.create_user("owner", password="pw-owner-1", is_staff=True)
    login = f"{sandbox.url}/admin/login/"
    browser.get(login, timeout=10)
    browser.post(
        login,
        data={
            "username": "owner",
            "password": "pw-owner-1",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": login},
        timeout=10,
    )
    flows.install(browser, sandbox, "gorgias", {"account": "acme"})
    from django_helpdesk_oauth.models import Installation

    assert Installation.objects.get().installed_by == user


def test_client_secret_rejected(sandbox, installed, gorgias_app):
    """Sent when the provider rejects the current secret: with the grace window's end
    while the previous secret stands in, ``None`` once no secret works."""
    from datetime import timedelta

    from django_helpdesk_oauth.models import ProviderApp
    from django_helpdesk_oauth.services import RefreshFailed

    events = []

    def handler(sender, app, fallback_until, **kwargs):
        events.append((sender, app.pk, fallback_until))

    signals.client_secret_rejected.connect(handler)
    try:
        installation = installed(gorgias_app)
        app = set_client_secret(gorgias_app, "unknown-to-the-provider-5555")
        Token.objects.update(expires_at=timezone.now())
        refresh_installation(installation.pk)
        assert events == [(ProviderApp, app.pk, app.secret_rotated_at + timedelta(days=1))]
        events.clear()
        ProviderApp.objects.update(secret_rotated_at=timezone.now() - timedelta(days=2))
        Token.objects.update(expires_at=timezone.now())
        with pytest.raises(RefreshFailed):
            refresh_installation(installation.pk)
        assert events == [(ProviderApp, app.pk, None)]
        events.clear()
        # Accepted again (the provider got the new secret): nothing sent, error cleared.
        sandbox.state.set_client_secret("gorgias", app.client_id, "unknown-to-the-provider-5555")
        Token.objects.update(expires_at=timezone.now())
        refresh_installation(installation.pk)
        assert events == []
        assert ProviderApp.objects.get().last_error == ""
    finally:
        signals.client_secret_rejected.disconnect(handler)
