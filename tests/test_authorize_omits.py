"""``Provider.authorize_omits``: an authorization URL without the standard parameters the
provider does not take (Help Scout: only ``client_id`` and ``state``), over loopback HTTP.

The provider side is the sandbox's ``Profile.redirect = "registered"``: it reads only
``client_id`` and ``state`` and sends the user back to the app's registered redirect URL.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from django_helpdesk_oauth.models import Installation, ProviderApp
from django_helpdesk_oauth.providers import registry
from django_helpdesk_oauth.providers.base import Provider
from django_helpdesk_oauth.sandbox import profiles
from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.testing import consent
from tests import flows
from tests.providers.testdesk import TestdeskProvider
from tests.sandbox import profile_testdesk

KEY = "minimaldesk"


class MinimaldeskProvider(TestdeskProvider):
    """Testdesk whose authorize URL takes only client_id and state."""

    key = KEY
    name = "Minimaldesk"
    authorize_omits = frozenset({"response_type", "redirect_uri"})
    scopes_supported = False
    default_scopes = ()


@pytest.fixture
def minimal(sandbox):
    registry[KEY] = MinimaldeskProvider()
    profiles.register(
        dataclasses.replace(
            profile_testdesk.PROFILE, key=KEY, title="Minimaldesk", redirect="registered"
        )
    )
    # The sandbox fixture computed the settings before this profile existed.
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "PROVIDERS": provider_settings(sandbox.base),
    }
    yield
    profiles.unregister(KEY)
    registry.pop(KEY, None)


def make_app(sandbox, *, registered: bool) -> ProviderApp:
    app = ProviderApp.objects.create(
        slug=KEY, provider=KEY, name="Minimal", client_id="min-client", client_secret="min-secret"
    )
    callback = sandbox.url + reverse("helpdesk_oauth:callback", args=[app.slug])
    uris = [callback] if registered else []
    sandbox.state.register_client(KEY, app.client_id, app.client_secret, redirect_uris=uris)
    return app


@pytest.mark.django_db(transaction=True)
def test_the_authorize_url_carries_only_client_id_and_state(sandbox, browser, minimal):
    app = make_app(sandbox, registered=True)
    start = browser.get(
        f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
    )
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert set(query) == {"client_id", "state"}
    assert query["client_id"] == [app.client_id]
    decision = consent(browser, start, org="acme")
    assert decision.status_code == 302
    done = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
    assert done.status_code == 302, done.text
    assert Installation.objects.get().tenant == "acme"
    # The code exchange leaves redirect_uri out as well, and the provider accepted it.
    [exchange] = sandbox.state.matching_requests(endpoint="token", grant_type="authorization_code")
    assert exchange["redirect_uri"] is None and exchange["status"] == 200


@pytest.mark.django_db(transaction=True)
def test_a_standard_provider_still_sends_every_parameter(sandbox, browser, gorgias_app):
    sandbox.state.register_client("gorgias", gorgias_app.client_id, "gorgias-test-secret-0001")
    start = browser.get(
        f"{sandbox.url}/oauth/{gorgias_app.slug}/install/",
        params={"account": "acme"},
        allow_redirects=False,
        timeout=10,
    )
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert {"response_type", "redirect_uri", "client_id", "state", "scope"} <= set(query)
    response = flows.install(browser, sandbox, gorgias_app.slug, {"account": "acme"})
    assert response.status_code == 302
    exchanges = sandbox.state.matching_requests(endpoint="token", grant_type="authorization_code")
    assert exchanges[-1]["redirect_uri"].endswith(f"/oauth/{gorgias_app.slug}/callback/")


@pytest.mark.django_db(transaction=True)
def test_the_provider_refuses_an_app_without_a_registered_redirect_url(sandbox, browser, minimal):
    app = make_app(sandbox, registered=False)
    start = browser.get(f"{sandbox.url}/oauth/{app.slug}/install/", timeout=10)
    assert start.status_code == 400
    assert "no registered redirection URL" in start.text
    assert not Installation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_redirect_uri_sent_to_the_exchange_must_still_match(sandbox, browser, minimal):
    app = make_app(sandbox, registered=True)
    start = browser.get(
        f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
    )
    decision = consent(browser, start, org="acme")
    code = parse_qs(urlsplit(decision.headers["Location"]).query)["code"][0]
    token_url = MinimaldeskProvider().endpoint("token_url")
    answer = requests.post(
        token_url,
        json={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://elsewhere.example/cb",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert not Installation.objects.exists()


@pytest.mark.parametrize(
    "omits", [frozenset({"state"}), frozenset({"client_id"}), ("redirect_uri",)]
)
def test_only_response_type_and_redirect_uri_may_be_omitted(omits):
    with pytest.raises(ValueError, match="authorize_omits"):
        type("Bad", (Provider,), {"key": "bad", "authorize_omits": omits})
