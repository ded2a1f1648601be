"""Kustomer: body client auth, offline_access, 86400 s, PKCE, org form, both endpoint sets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.sandbox.endpoints import provider_settings

from .contract import ProviderContract


class TestKustomer(ProviderContract):
    provider_key = "kustomer"
    app_fixture = "kustomer_app"
    install_params = {"org": "acme"}
    consent_org = "acme"
    client_auth = "body"
    rotates_refresh_tokens = True
    api_probe_path = "users/current"

    def test_expiry_is_expires_in_86400(self, sandbox, browser, app):
        before = timezone.now()
        self.run_install(browser, sandbox, app)
        after = timezone.now()
        expires_at = Token.objects.get().expires_at
        assert before + timedelta(seconds=86400) <= expires_at <= after + timedelta(seconds=86400)

    def test_pkce_s256_is_used(self, sandbox, browser, app):
        self.run_install(browser, sandbox, app)
        [code] = sandbox.state.codes.values()
        assert code.code_challenge and code.code_challenge_method == "S256"
        # The sandbox issues tokens for such a code only with the matching verifier.
        assert code.used and Installation.objects.get().status == "active"

    def test_per_org_endpoints(self, sandbox, browser, app, settings):
        settings.HELPDESK_OAUTH = {
            **settings.HELPDESK_OAUTH,
            "PROVIDERS": provider_settings(sandbox.base, kustomer="per_org"),
        }
        response = self.run_install(browser, sandbox, app, org=None)
        assert response.status_code == 302
        [exchange] = sandbox.state.matching_requests(endpoint="token")
        assert exchange["tenant"] == "acme" and "/kustomer/acme/api/oauth/token" in exchange["path"]
        assert Installation.objects.get().status == "active"

    def test_the_org_form_leads_into_the_flow(self, sandbox, browser, app):
        page = browser.get(f"{sandbox.url}/oauth/{app.slug}/install/", timeout=10)
        assert page.status_code == 200 and 'name="org"' in page.text
        response = self.run_install(browser, sandbox, app, params={"org": "Acme"})
        assert response.status_code == 302
        assert Installation.objects.get().tenant == "acme"


@pytest.mark.django_db
def test_offline_access_is_a_default_scope(kustomer_app):
    assert "offline_access" in kustomer_app.scope_list()
