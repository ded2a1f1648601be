"""Help Scout: the lifecycle contract, plus its own quirks.

The contract derives the rest: body client auth, ``expires_in`` (2 days), rotating
refresh tokens, no revocation, the account learnt after the exchange. Here: the
authorize URL carries only ``client_id`` and ``state`` (and the exchange no
``redirect_uri``), the account is ``/v2/users/me``'s ``companyId`` (an integer in the
real API), a users/me answer naming no usable account stores nothing, the API's
HAL+JSON and vnd.error shapes reach the caller as they are.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, ProviderApp, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.services import Outcome, refresh_installation

from .contract import TENANT, ProviderContract

HELPSCOUT_API = "https://api.helpscout.net/v2/"


class TestHelpScout(ProviderContract):
    provider = "helpscout"

    @pytest.fixture
    def app(self, sandbox) -> ProviderApp:
        """Help Scout sends the user back to the Redirection URL registered in My Apps
        (the authorize URL names none): the sandbox app registers the callback."""
        app = ProviderApp.objects.create(
            slug="helpscout",
            provider="helpscout",
            name="Contract helpscout",
            client_id="helpscout-contract-client",
            client_secret="helpscout-secret-0001",
        )
        callback = sandbox.url + reverse("helpdesk_oauth:callback", args=[app.slug])
        sandbox.state.register_client(
            "helpscout", app.client_id, app.client_secret, "Contract App", [callback]
        )
        return app

    # -- the definition -----------------------------------------------------------------
    def test_the_documented_endpoints(self):
        spec = get_provider("helpscout")
        assert spec.endpoint("authorize_url") == (
            "https://secure.helpscout.net/authentication/authorizeClientApplication"
        )
        assert spec.endpoint("token_url") == "https://api.helpscout.net/v2/oauth2/token"
        assert spec.endpoint("identity_url") == HELPSCOUT_API + "users/me"
        assert not spec.supports_revoke and spec.deauthorize is None
        assert spec.scopes("mailbox.read") == []  # no scopes, whatever the app says

    # -- the minimal authorize URL ------------------------------------------------------
    def test_the_authorize_url_carries_only_client_id_and_state(self, sandbox, browser, app):
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
        )
        assert start.status_code == 302
        location = start.headers["Location"]
        assert location.startswith(f"{sandbox.base}/helpscout/authentication/")
        query = parse_qs(urlsplit(location).query)
        assert set(query) == {"client_id", "state"}
        assert query["client_id"] == [app.client_id]
        # Scopes configured on the app are not sent either.
        ProviderApp.objects.filter(pk=app.pk).update(scopes="mailbox.read")
        again = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
        )
        assert set(parse_qs(urlsplit(again.headers["Location"]).query)) == {"client_id", "state"}

    def test_the_code_exchange_sends_no_redirect_uri(self, sandbox, installation):
        [exchange] = sandbox.state.matching_requests(
            endpoint="token", grant_type="authorization_code"
        )
        assert exchange["redirect_uri"] is None and exchange["status"] == 200

    def test_an_app_without_a_registered_redirect_url_is_refused_by_help_scout(
        self, sandbox, browser
    ):
        app = ProviderApp.objects.create(
            slug="hs-unregistered",
            provider="helpscout",
            name="No redirect",
            client_id="hs-no-redirect",
            client_secret="hs-secret-0002",
        )
        sandbox.state.register_client("helpscout", app.client_id, app.client_secret)
        page = browser.get(f"{sandbox.url}/oauth/{app.slug}/install/", timeout=10)
        assert page.status_code == 400
        assert not Installation.objects.exists() and not Token.objects.exists()

    # -- the account after the exchange -------------------------------------------------
    def test_the_account_comes_from_users_me(self, sandbox, installation):
        [identity] = [
            r for r in sandbox.state.matching_requests(endpoint="api") if "users/me" in r["path"]
        ]
        assert identity["status"] == 200 and identity["tenant"] == TENANT
        assert installation.tenant == TENANT

    @pytest.mark.parametrize(
        ("answer", "tenant"),
        [
            ({"id": 4, "companyId": 1}, "1"),
            ({"id": 4, "companyId": 123456789}, "123456789"),
            ({"id": 4, "companyId": "42"}, "42"),
            ({"id": 4, "companyId": True}, None),
            ({"id": 4, "companyId": None}, None),
            ({"id": 4, "companyId": ""}, None),
            ({"id": 4}, None),
            ([{"companyId": 1}], None),
            ("companyId", None),
        ],
    )
    def test_the_company_id_read_from_users_me(self, answer, tenant):
        assert get_provider("helpscout").tenant_from_identity(answer) == tenant

    @pytest.mark.parametrize(
        "body",
        [
            {"id": 4, "email": "bear@acme.com"},  # no companyId
            {"id": 4, "companyId": "evil.com/x"},  # not an account id
            {"id": 4, "companyId": True},
        ],
        ids=["missing", "not-an-id", "bool"],
    )
    def test_users_me_naming_no_usable_account_stores_nothing(self, sandbox, browser, app, body):
        sandbox.state.inject("api", status=200, body=body, provider="helpscout")
        response = self.run_install(browser, sandbox, app, params={})
        assert response.status_code == 502
        assert not Installation.objects.exists() and not Token.objects.exists()
        assert not AuthorizationRequest.objects.exists()

    def test_users_me_refusing_the_new_token_stores_nothing(self, sandbox, browser, app):
        # "All credentials must be associated with an active, invited user … a 401 error."
        sandbox.state.inject("api", status=401, provider="helpscout")
        response = self.run_install(browser, sandbox, app, params={})
        assert response.status_code == 502, response.status_code
        assert not Installation.objects.exists() and not Token.objects.exists()

    # -- lifetime and rotation -----------------------------------------------------------
    def test_access_tokens_live_two_days(self, sandbox, browser, app):
        before = timezone.now()
        assert self.run_install(browser, sandbox, app).status_code == 302
        token = Token.objects.get()
        assert token.lifetime == timedelta(days=2)
        assert before + timedelta(days=2) - timedelta(seconds=1) <= token.expires_at

    def test_the_spent_refresh_token_is_refused_after_rotation(self, sandbox, installation):
        first = Token.objects.get().refresh_token
        self.make_due()
        assert refresh_installation(installation.pk) is Outcome.REFRESHED
        assert Token.objects.get().refresh_token != first
        assert first not in sandbox.state.live_refresh_tokens("helpscout", TENANT)

    # -- the API -------------------------------------------------------------------------
    def test_api_lists_are_hal_pages(self, installation):
        response = installation.api_session().get("conversations")
        assert response.status_code == 200
        body = response.json()
        assert [c["number"] for c in body["_embedded"]["conversations"]] == [1, 2, 3]
        assert body["page"] == {"size": 50, "totalElements": 3, "totalPages": 1, "number": 1}

    def test_api_errors_are_vnd_error_documents(self, installation):
        response = installation.api_session().get("conversations", params={"page": "0"})
        assert response.status_code == 400
        error = response.json()
        assert error["logRef"] and error["message"]
        assert error["_embedded"]["errors"][0]["path"] == "page"
