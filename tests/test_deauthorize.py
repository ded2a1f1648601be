"""Provider-initiated uninstall (issue 10): ``POST <slug>/deauthorize/``.

The sandbox acts as the provider (``state.send_deauthorize``: its tokens for the tenant
stop working, then it POSTs the signed webhook over loopback HTTP). The signature is
checked before the body is read; a good one uninstalls (tokens erased, no revoke call,
``installation_uninstalled`` sent); a bad or missing one is 401 and changes nothing; an
unknown, already uninstalled or replayed tenant is 200 and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth.conf import app_settings
from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.signals import installation_uninstalled
from tests import flows
from tests.conftest import GORGIAS_SECRET
from tests.regiondesk import SECRET, registered

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def regiondesk(sandbox, settings):
    with registered(sandbox, settings, "regiondesk") as app:
        yield app


@pytest.fixture
def installation(sandbox, browser, regiondesk):
    response = flows.install(browser, sandbox, regiondesk.slug, {}, consent_org="ws-42")
    assert response.status_code == 302, response.text
    return Installation.objects.get(tenant="ws-42")


@pytest.fixture
def uninstalled_signals():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    installation_uninstalled.connect(receiver)
    yield received
    installation_uninstalled.disconnect(receiver)


def _url(sandbox, slug="regiondesk"):
    return sandbox.url + reverse("helpdesk_oauth:deauthorize", args=[slug])


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def _post(sandbox, body: bytes, signature: str | None, slug="regiondesk") -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    return requests.post(_url(sandbox, slug), data=body, headers=headers, timeout=10)


def _unchanged(installation) -> None:
    installation.refresh_from_db()
    assert installation.status == "active" and installation.uninstalled_at is None
    assert Token.objects.filter(installation=installation).exists()


def test_a_signed_webhook_uninstalls_and_erases_without_a_revoke_call(
    sandbox, installation, uninstalled_signals
):
    response = sandbox.state.send_deauthorize("regiondesk", "ws-42", _url(sandbox))
    assert response.status_code == 200
    installation.refresh_from_db()
    assert installation.status == "uninstalled" and installation.uninstalled_at is not None
    assert not Token.objects.exists()
    assert sandbox.state.count(provider="regiondesk", endpoint="revoke") == 0
    assert [s["installation"].pk for s in uninstalled_signals] == [installation.pk]
    assert uninstalled_signals[0]["revoked"] is False
    assert sandbox.state.count(endpoint="deauthorize", status=200) == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha1=",
        "sha1=" + "0" * 40,
        "SIGNED",  # replaced by the right hex without its prefix
        "UPPER",  # the right signature, upper-cased hex
        "WRONG_SECRET",
        "OTHER_BODY",
        "sha256=" + "0" * 64,
    ],
)
def test_a_missing_or_bad_signature_is_401_and_changes_nothing(
    sandbox, installation, uninstalled_signals, signature
):
    body = json.dumps({"type": "app_uninstalled", "app_id": "ws-42"}).encode()
    good = _sign(body)
    signature = {
        "SIGNED": good.removeprefix("sha1="),
        "UPPER": "sha1=" + good.removeprefix("sha1=").upper(),
        "WRONG_SECRET": _sign(body, "another-secret"),
        "OTHER_BODY": _sign(b'{"app_id": "ws-7"}'),
    }.get(signature or "", signature)
    response = _post(sandbox, body, signature)
    assert response.status_code == 401
    _unchanged(installation)
    assert uninstalled_signals == []


def test_the_signature_is_checked_before_the_body_is_parsed(sandbox, installation, caplog):
    caplog.set_level(logging.INFO, logger="django_helpdesk_oauth")
    response = _post(sandbox, b"not json {", "sha1=" + "0" * 40)
    assert response.status_code == 401  # not 400: the body was never read
    assert "not JSON" not in caplog.text
    _unchanged(installation)


def test_an_unknown_tenant_is_200_and_changes_nothing(sandbox, installation, uninstalled_signals):
    body = json.dumps({"app_id": "ws-999"}).encode()
    response = _post(sandbox, body, _sign(body))
    assert response.status_code == 200
    _unchanged(installation)
    assert uninstalled_signals == [] and Installation.objects.count() == 1


def test_an_already_uninstalled_tenant_and_a_replay_are_200_and_change_nothing(
    sandbox, installation, uninstalled_signals
):
    body = json.dumps({"type": "app_uninstalled", "app_id": "ws-42"}).encode()
    first = _post(sandbox, body, _sign(body))
    assert first.status_code == 200
    installation.refresh_from_db()
    when = installation.uninstalled_at
    replay = _post(sandbox, body, _sign(body))
    assert replay.status_code == 200
    installation.refresh_from_db()
    assert installation.status == "uninstalled" and installation.uninstalled_at == when
    assert len(uninstalled_signals) == 1


def test_the_previous_secret_works_inside_the_grace_window_only(sandbox, installation, regiondesk):
    body = json.dumps({"app_id": "ws-42"}).encode()
    regiondesk.previous_client_secret = SECRET
    regiondesk.client_secret = "regiondesk-rotated-0002"
    regiondesk.secret_rotated_at = timezone.now() - timedelta(
        seconds=app_settings.SECRET_GRACE_PERIOD + 60
    )
    regiondesk.save()
    assert _post(sandbox, body, _sign(body)).status_code == 401  # window closed
    _unchanged(installation)
    regiondesk.secret_rotated_at = timezone.now()
    regiondesk.save()
    assert _post(sandbox, body, _sign(body)).status_code == 200
    installation.refresh_from_db()
    assert installation.status == "uninstalled"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"app_id": null}',
        b'{"app_id": "evil.com/x"}',
        b'{"app_id": "ws-42\\nFORGED"}',
        b'{"app_id": ["ws-42"]}',
    ],
)
def test_a_signed_body_naming_no_valid_tenant_is_400(sandbox, installation, caplog, payload):
    caplog.set_level(logging.INFO, logger="django_helpdesk_oauth")
    response = _post(sandbox, payload, _sign(payload))
    assert response.status_code == 400
    _unchanged(installation)
    assert "\nFORGED" not in caplog.text  # untrusted values are logged as a repr


def test_a_body_above_the_limit_is_413(sandbox, installation):
    body = json.dumps({"app_id": "ws-42", "pad": "x" * 70_000}).encode()
    assert _post(sandbox, body, _sign(body)).status_code == 413
    _unchanged(installation)


def test_it_is_csrf_exempt(installation):
    body = json.dumps({"app_id": "ws-42"}).encode()
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("helpdesk_oauth:deauthorize", args=["regiondesk"]),
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE=_sign(body),
    )
    assert response.status_code == 200
    installation.refresh_from_db()
    assert installation.status == "uninstalled"


def test_get_is_405(sandbox, installation):
    assert requests.get(_url(sandbox), timeout=10).status_code == 405


def test_providers_without_a_scheme_and_unknown_apps_are_404(sandbox, gorgias_app, regiondesk):
    body = json.dumps({"app_id": "acme"}).encode()
    assert _post(sandbox, body, _sign(body, GORGIAS_SECRET), slug="gorgias").status_code == 404
    assert _post(sandbox, body, _sign(body), slug="no-such-app").status_code == 404


def test_the_sandbox_drops_the_tenants_tokens_when_it_sends_it(sandbox, installation):
    access_token = installation.token.access_token
    url = installation.api_base_url + "tickets"
    header = {"Authorization": f"Token {access_token}"}
    assert requests.get(url, headers=header, timeout=10).status_code == 200
    sandbox.state.send_deauthorize("regiondesk", "ws-42", _url(sandbox))
    # The provider's side: the token no longer works.
    assert requests.get(url, headers=header, timeout=10).status_code == 401


def test_the_sandbox_refuses_to_send_what_a_profile_does_not(sandbox, gorgias_app):
    with pytest.raises(ValueError):
        sandbox.state.send_deauthorize("gorgias", "acme", _url(sandbox, "gorgias"))


def test_its_error_reports_use_the_oauth_filter(installation):
    from django.test import RequestFactory

    from django_helpdesk_oauth.reporting import OAuthExceptionReporterFilter
    from django_helpdesk_oauth.views import deauthorize

    body = json.dumps({"app_id": "ws-999"}).encode()
    request = RequestFactory().post(
        "/", data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE=_sign(body)
    )
    assert deauthorize(request, "regiondesk").status_code == 200
    assert isinstance(request.exception_reporter_filter, OAuthExceptionReporterFilter)
