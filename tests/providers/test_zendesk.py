"""Zendesk: the lifecycle contract, plus its own quirks, over loopback HTTP.

The contract derives body client auth (JSON), the JWT expiry, rotation on every
refresh, single flight, the DELETE revocation with the access token. Here: the
``expires_in`` request parameter and where the stored expiry comes from with and
without it, the 30-minute lifetime capping the refresh margin, the previous pair
deleted by each refresh, the subdomain form and bad subdomains, PKCE.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.jwt import unverified_claims
from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token
from django_helpdesk_oauth.providers import registry
from django_helpdesk_oauth.providers.zendesk import REQUESTED_LIFETIME, ZendeskProvider
from django_helpdesk_oauth.services import Outcome, refresh_installation
from django_helpdesk_oauth.timeutil import to_epoch
from tests.bad_inputs import BAD_TENANTS

from .contract import TENANT, ProviderContract

LIFETIME = timedelta(seconds=REQUESTED_LIFETIME)


class ClientConfiguredLifetime(ZendeskProvider):
    """A deployment taking the lifetime set on the OAuth client in Admin Center."""

    token_params = {}
    refresh_params = {}


@pytest.fixture
def client_configured_lifetime():
    registry["zendesk"] = ClientConfiguredLifetime()
    yield
    registry["zendesk"] = ZendeskProvider()


class TestZendesk(ProviderContract):
    provider = "zendesk"

    # -- the lifetime: asked for, stated, or read from the JWT --------------------------
    def test_the_requested_lifetime_wins_over_the_clients_default(self, sandbox, browser, app):
        # The sandbox's default lifetime is changed: only the request can make it 1800.
        sandbox.state.lifetimes[self.provider] = 7200
        assert self.run_install(browser, sandbox, app).status_code == 302
        # Whole seconds in the JWT exp (the earliest statement) vs expires_in: 1800.
        assert LIFETIME - timedelta(seconds=2) < Token.objects.get().lifetime <= LIFETIME
        Token.objects.update(expires_at=timezone.now())
        installation = Installation.objects.get()
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "refreshed"
        # Asked again on the refresh.
        assert LIFETIME - timedelta(seconds=2) < Token.objects.get().lifetime <= LIFETIME

    def test_without_the_parameter_the_jwt_exp_is_the_expiry(
        self, sandbox, browser, app, client_configured_lifetime
    ):
        sandbox.state.lifetimes[self.provider] = 7200
        assert self.run_install(browser, sandbox, app).status_code == 302
        token = Token.objects.get()
        exp = unverified_claims(token.access_token)["exp"]
        assert to_epoch(token.expires_at) == pytest.approx(exp, abs=0.001)
        assert timedelta(seconds=7190) < token.lifetime <= timedelta(seconds=7200)

    def test_an_answer_stating_nothing_readable_falls_back_to_30_minutes(
        self, sandbox, browser, app, client_configured_lifetime
    ):
        # An opaque access token and no expires_in: nothing states the lifetime.
        sandbox.state.reshape_token_response(
            lambda body: {**body, "access_token": "opaque-zendesk-token-0001"},
            provider=self.provider,
        )
        before = timezone.now()
        assert self.run_install(browser, sandbox, app).status_code == 302
        token = Token.objects.get()
        assert token.lifetime == LIFETIME
        assert before + LIFETIME <= token.expires_at <= timezone.now() + LIFETIME

    def test_the_refresh_margin_is_capped_by_the_30_minute_lifetime(self, installation):
        """Refreshed once per lifetime, at its second half: never on every call."""
        token = Token.objects.get()
        issued = token.expires_at - LIFETIME
        for minutes, due in ((0, False), (14, False), (16, True)):
            now = issued + timedelta(minutes=minutes)
            assert token.is_due(now) is due, minutes
            assert Token.objects.due(now).exists() is due, minutes
        assert refresh_installation(installation.pk) is not Outcome.REFRESHED

    # -- rotation deletes the previous pair ---------------------------------------------
    def test_a_refresh_deletes_the_previous_pair(self, sandbox, installation):
        before = Token.objects.get()
        api = before.installation.api_session()
        Token.objects.update(expires_at=timezone.now())
        assert refresh_installation(installation.pk) is Outcome.REFRESHED
        url = api.base_url + "tickets.json"
        old = requests.get(
            url, headers={"Authorization": f"Bearer {before.access_token}"}, timeout=10
        )
        assert old.status_code == 401 and old.json() == {"error": "Couldn't authenticate you"}
        # The spent refresh token is refused: a second refresh with it would lose the grant.
        assert not any(
            t.token == before.refresh_token
            for t in sandbox.state.live_refresh_tokens(self.provider, TENANT)
        )
        # A session opened before the refresh uses the stored (new) token: no 401, no refresh.
        since = len(self.api_calls(sandbox))
        assert api.get("tickets.json").status_code == 200
        assert [c["status"] for c in self.api_calls(sandbox, since)] == [200]
        assert len(self.refreshes(sandbox)) == 1

    def test_revocation_deletes_both_tokens_of_the_grant(self, sandbox, installation, admin_client):
        token = Token.objects.get()
        refresh_token = token.refresh_token
        admin_client.post(reverse("helpdesk_oauth:uninstall", args=[installation.pk]))
        [revoke] = sandbox.state.matching_requests(endpoint="revoke")
        assert revoke["path"].endswith("/zendesk/acme/api/v2/oauth/tokens/current.json")
        assert (revoke["method"], revoke["status"]) == ("DELETE", 204)
        assert not any(
            t.token == refresh_token
            for t in sandbox.state.live_refresh_tokens(self.provider, TENANT)
        )

    # -- the subdomain ------------------------------------------------------------------
    def test_the_subdomain_form_leads_into_the_flow(self, sandbox, browser, app):
        page = browser.get(f"{sandbox.url}/oauth/{app.slug}/install/", timeout=10)
        assert page.status_code == 200 and 'name="subdomain"' in page.text
        assert "zendesk.com" in page.text  # the hint
        assert not AuthorizationRequest.objects.exists()
        response = self.run_install(browser, sandbox, app, params={"subdomain": "Acme"})
        assert response.status_code == 302
        assert Installation.objects.get().tenant == "acme"

    @pytest.mark.parametrize("subdomain", BAD_TENANTS)
    def test_a_bad_subdomain_is_a_400_and_nothing_is_written(
        self, sandbox, browser, app, subdomain
    ):
        response = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/",
            params={"subdomain": subdomain},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 400
        assert not AuthorizationRequest.objects.exists() and not Installation.objects.exists()
        assert sandbox.state.requests == []  # nothing reached Zendesk

    def test_a_repeated_subdomain_is_refused(self, sandbox, browser, app):
        response = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/?subdomain=acme&subdomain=evil",
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 400
        assert not AuthorizationRequest.objects.exists()

    def test_pkce_s256_is_used(self, sandbox, browser, app):
        self.run_install(browser, sandbox, app)
        [code] = sandbox.state.codes.values()
        assert code.code_challenge and code.code_challenge_method == "S256"
        assert code.used and Installation.objects.get().status == "active"


def test_the_declared_lifetime_is_within_zendesks_documented_range():
    # More than 300 s and less than 172800 s (developer.zendesk.com grant_type_tokens).
    for params in (ZendeskProvider.token_params, ZendeskProvider.refresh_params):
        assert 300 < params["expires_in"] < 172800
        assert isinstance(params["expires_in"], int)
