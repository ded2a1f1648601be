"""A grant stays live at the provider after we drop our copy (reviewer C's findings).

Zendesk revokes with the access token (bearer ``DELETE``): an expired one must be
refreshed first; a refresh answer landing after the uninstall must be revoked; an
install refused after the code exchange must revoke the grant it was issued.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import services, tasks
from django_helpdesk_oauth.models import Installation, PendingRevocation, ProviderApp, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.services import refresh_installation
from django_helpdesk_oauth.services.uninstall import delete_installation
from tests import flows

pytestmark = pytest.mark.django_db(transaction=True)

TENANTS = {"zendesk": "acme", "hubspot": "2450981", "front": "cmp_acme", "zoho_desk": "20012345"}


def make_app(sandbox, provider):
    client_id, secret = f"{provider}-live-client", f"{provider}-live-secret-0001"
    slug = provider.replace("_", "-")
    callback = sandbox.url + reverse("helpdesk_oauth:callback", args=[slug])
    sandbox.state.register_client(provider, client_id, secret, "Live App", [callback])
    return ProviderApp.objects.create(
        slug=slug,
        provider=provider,
        name=f"Live {provider}",
        client_id=client_id,
        client_secret=secret,
    )


def install(browser, sandbox, app, params=None):
    spec = get_provider(app.provider)
    if params is None:
        params = (
            {} if spec.tenant_after_exchange else {spec.tenant_params[0]: TENANTS[app.provider]}
        )
    org = None if "{tenant}" in spec.endpoint_template("authorize_url") else TENANTS[app.provider]
    return flows.install(browser, sandbox, app.slug, params, consent_org=org)


def installed(browser, sandbox, provider):
    app = make_app(sandbox, provider)
    response = install(browser, sandbox, app)
    assert response.status_code == 302, response.text
    return app, Installation.objects.get(app=app)


def _expire_access_token(sandbox):
    """31 minutes later on both clocks: Zendesk's 30-minute access token has expired."""
    sandbox.state.advance(31 * 60)
    Token.objects.update(expires_at=timezone.now() - timedelta(minutes=1))


def _uninstall(inst):
    services.uninstall(inst)


def _admin_delete(inst):
    delete_installation(inst)


@pytest.mark.parametrize("drop", [_uninstall, _admin_delete], ids=["uninstall", "admin-delete"])
def test_zendesk_drop_with_an_expired_access_token_revokes_the_grant(sandbox, browser, drop):
    _app, inst = installed(browser, sandbox, "zendesk")
    assert sandbox.state.live_refresh_tokens("zendesk", "acme")
    _expire_access_token(sandbox)  # the 30-minute access token has expired
    drop(inst)
    assert not sandbox.state.live_refresh_tokens("zendesk", "acme")
    assert [r["status"] for r in sandbox.state.matching_requests(endpoint="revoke")][-1] < 300
    assert not Token.objects.exists() and not PendingRevocation.objects.exists()


def test_zendesk_reinstall_with_an_expired_access_token_revokes_the_replaced_grant(
    sandbox, browser
):
    app, inst = installed(browser, sandbox, "zendesk")
    _expire_access_token(sandbox)
    assert install(browser, sandbox, app).status_code == 302
    # The replaced grant's revocation runs in the background (the callback doesn't wait).
    pending = PendingRevocation.objects.get()
    tasks.revoke_pending_token.apply((pending.pk,))
    # Only the new grant is live: the replaced one was refreshed, then revoked.
    assert len(sandbox.state.live_refresh_tokens("zendesk", "acme")) == 1
    assert Installation.objects.get(pk=inst.pk).status == Installation.Status.ACTIVE


def test_zendesk_uninstall_when_the_refresh_first_fails_still_uninstalls(sandbox, browser, caplog):
    _app, inst = installed(browser, sandbox, "zendesk")
    _expire_access_token(sandbox)
    sandbox.state.inject("token", status=503, times=10, provider="zendesk")
    with caplog.at_level(logging.WARNING):
        result = services.uninstall(inst)
    assert result.installation.status == Installation.Status.UNINSTALLED
    assert not Token.objects.exists()
    # The stale access token was refused: logged as a failure with its reason, not "revoked".
    assert result.revoked is False
    assert "the access token was refused" in caplog.text


def test_zendesk_bearer_revocation_answered_401_is_a_logged_failure(sandbox, browser, caplog):
    _app, inst = installed(browser, sandbox, "zendesk")
    sandbox.state.inject("revoke", status=401, provider="zendesk")
    with caplog.at_level(logging.WARNING):
        result = services.uninstall(inst)
    assert result.revoked is False
    assert "abandoned" in caplog.text and "the grant may still be live" in caplog.text


def test_zendesk_uninstall_while_a_refresh_answer_is_on_the_wire(sandbox, browser):
    """The provider rotated (old pair spent) but its answer has not reached us yet."""
    _app, inst = installed(browser, sandbox, "zendesk")
    Token.objects.update(expires_at=timezone.now())
    # The normal answer, its body streamed slowly: the pair is issued before we read it.
    sandbox.state.inject("token", status=None, drip=0.01, provider="zendesk")
    out = []

    def work():
        try:
            out.append(refresh_installation(inst.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    while not [
        r
        for r in sandbox.state.matching_requests(endpoint="token")
        if r.get("status") and r.get("grant_type") == "refresh_token"
    ]:
        time.sleep(0.01)  # waits for the provider to have rotated; asserts nothing on time
    # Not due by the uninstall's own read (so it does not wait on the refresh lease; a
    # provider revoking the refresh token never does): the answer lands after the delete.
    Token.objects.update(expires_at=timezone.now() + timedelta(hours=1))
    services.uninstall(Installation.objects.get(pk=inst.pk))
    thread.join(30)
    assert out == [services.Outcome.SKIPPED]
    assert not Token.objects.exists()
    # The discarded pair is queued; the background task revokes it.
    pending = PendingRevocation.objects.get()
    assert pending.token_kind == "access_token"
    tasks.revoke_pending_token.apply((pending.pk,))
    assert not sandbox.state.live_refresh_tokens("zendesk", "acme")


@pytest.mark.parametrize(
    "provider,params",
    [
        ("hubspot", {"tenant": "7730055"}),
        ("front", {"tenant": "cmp_other"}),
        ("zoho_desk", {"tenant": "20067890"}),
    ],
)
def test_refused_after_exchange_revokes_the_fresh_grant(sandbox, browser, provider, params):
    app = make_app(sandbox, provider)
    response = install(browser, sandbox, app, params=params)
    assert response.status_code == 403
    assert not Installation.objects.exists() and not Token.objects.exists()
    live = sandbox.state.live_refresh_tokens(provider, TENANTS[provider])
    if app.provider_spec.supports_revoke:
        assert not live
    else:
        # Front documents no revocation endpoint (none configured): nothing can be done.
        assert live and not PendingRevocation.objects.exists()
