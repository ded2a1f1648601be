"""The contract every provider meets, run once per provider module.

A new provider's test module subclasses :class:`ProviderContract`, sets the
class attributes, and adds tests for its own quirks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.utils import timezone

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, ProviderApp, Token
from django_helpdesk_oauth.providers import get_provider
from tests import flows
from tests.bad_inputs import BAD_TENANTS


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
class ProviderContract:
    """Subclass and set these."""

    provider_key: ClassVar[str]
    app_fixture: ClassVar[str]
    #: Query of the install URL, e.g. {"account": "acme"}.
    install_params: ClassVar[dict[str, str]]
    #: What the consent page needs typed in (Kustomer's global endpoint asks the org).
    consent_org: ClassVar[str | None] = None
    client_auth: ClassVar[str]
    rotates_refresh_tokens: ClassVar[bool]

    @pytest.fixture
    def app(self, request) -> ProviderApp:
        return request.getfixturevalue(self.app_fixture)

    def run_install(self, browser, sandbox, app, **kwargs) -> requests.Response:
        params = kwargs.pop("params", self.install_params)
        org = kwargs.pop("org", self.consent_org)
        return flows.install(browser, sandbox, app.slug, params, consent_org=org, **kwargs)

    # -- the definition ---------------------------------------------------------
    def test_registered_with_a_complete_definition(self):
        provider = get_provider(self.provider_key)
        # The provider class normalizes the old names to RFC 7591's; the sandbox logs the old.
        rfc7591 = {"basic": "client_secret_basic", "body": "client_secret_post"}
        assert provider.client_auth == rfc7591[self.client_auth]
        assert provider.rotates_refresh_tokens is self.rotates_refresh_tokens
        assert provider.default_scopes
        assert provider.fallback_lifetime > 0
        for name in ("authorize_url", "token_url", "api_base_url"):
            url = provider.endpoint(name, "acme")
            assert url.startswith("https://") and "{tenant}" not in url

    def test_settings_override_an_endpoint(self, settings):
        settings.HELPDESK_OAUTH = {
            **settings.HELPDESK_OAUTH,
            "PROVIDERS": {self.provider_key: {"token_url": "https://{tenant}.example.test/t"}},
        }
        assert get_provider(self.provider_key).endpoint("token_url", "acme") == (
            "https://acme.example.test/t"
        )

    @pytest.mark.parametrize("tenant", BAD_TENANTS)
    def test_invalid_tenant_never_reaches_a_url(self, tenant):
        from django_helpdesk_oauth.exceptions import InvalidTenant

        with pytest.raises(InvalidTenant):
            get_provider(self.provider_key).endpoint("api_base_url", tenant)

    # -- the flow over real HTTP ----------------------------------------------------
    def test_full_install(self, sandbox, browser, app):
        before = timezone.now()
        response = self.run_install(browser, sandbox, app)
        assert response.status_code == 302
        assert response.headers["Location"] == "/"
        installation = Installation.objects.get()
        assert (installation.app, installation.tenant, installation.status) == (
            app,
            "acme",
            "active",
        )
        token = installation.token
        assert token.access_token and token.refresh_token
        assert token.expires_at > before + timedelta(hours=23)
        exchange = sandbox.state.matching_requests(
            endpoint="token", grant_type="authorization_code"
        )
        assert [r["client_auth"] for r in exchange] == [self.client_auth]
        assert [r["status"] for r in exchange] == [200]
        assert not AuthorizationRequest.objects.exists()  # the state is spent

    def test_the_sandbox_rejects_the_other_client_auth_method(self, sandbox, app):
        token_url = app.provider_spec.endpoint("token_url", "acme")
        form = {"grant_type": "refresh_token", "refresh_token": "x"}
        if self.client_auth == "basic":
            response = requests.post(
                token_url,
                data={**form, "client_id": app.client_id, "client_secret": app.client_secret},
                timeout=10,
            )
        else:
            response = requests.post(
                token_url, data=form, auth=(app.client_id, app.client_secret), timeout=10
            )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_client"

    def test_tokens_are_ciphertext_in_the_database(self, sandbox, browser, app):
        self.run_install(browser, sandbox, app)
        token = Token.objects.get()
        for column, value in (
            ("access_token", token.access_token),
            ("refresh_token", token.refresh_token),
        ):
            stored = raw("helpdesk_oauth_token", column, token.pk)
            assert value not in stored and value[-12:] not in stored
            assert stored.startswith("gAAAA")
        secret = raw("helpdesk_oauth_providerapp", "client_secret", app.pk)
        assert app.client_secret not in secret

    def test_reinstall_updates_the_installation(self, sandbox, browser, app):
        self.run_install(browser, sandbox, app)
        first = Token.objects.get().access_token
        Installation.objects.update(status="needs_reauth", last_error="invalid_grant")
        assert self.run_install(browser, sandbox, app).status_code == 302
        installation = Installation.objects.get()
        assert installation.status == "active" and installation.last_error == ""
        assert Token.objects.count() == 1
        assert Token.objects.get().access_token != first

    def test_replayed_callback_is_refused(self, sandbox, browser, app):
        response = self.run_install(browser, sandbox, app)
        callback_url = response.request.url
        token = Token.objects.get()
        replay = browser.get(callback_url, allow_redirects=False, timeout=10)
        assert replay.status_code == 400
        assert Token.objects.get().access_token == token.access_token

    def test_deny_creates_nothing(self, sandbox, browser, app):
        response = self.run_install(browser, sandbox, app, allow=False)
        assert response.status_code == 403
        assert "access was not granted" in response.text
        assert not Installation.objects.exists() and not Token.objects.exists()

    def test_a_code_is_bound_to_its_browser(self, sandbox, browser, app):
        """The callback URL (code + state) opened in another browser is refused."""
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/",
            params=self.install_params,
            allow_redirects=False,
            timeout=10,
        )
        from django_helpdesk_oauth.sandbox.testing import consent

        decision = consent(browser, start, org=self.consent_org)
        with requests.Session() as attacker:
            stolen = attacker.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert stolen.status_code == 400
        assert not Installation.objects.exists()
        # The real browser still completes.
        own = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert own.status_code == 302 and Installation.objects.count() == 1

    def test_iss_is_checked_when_the_provider_sends_it(self, sandbox, browser, app):
        sandbox.state.send_iss = True
        response = self.run_install(browser, sandbox, app)
        assert response.status_code == 302
        assert "iss=" in urlsplit(response.request.url).query
        assert Installation.objects.count() == 1

    def test_api_session_calls_the_tenants_api(self, sandbox, browser, app):
        self.run_install(browser, sandbox, app)
        session = Installation.objects.get().api_session()
        response = session.get(self.api_probe_path)
        assert response.status_code == 200
        assert "acme" in response.text

    api_probe_path: ClassVar[str]
