"""Kustomer: the lifecycle contract, plus its own quirks (PKCE, the org form, both endpoint sets).

The contract derives the rest: body client auth, expires_in, rotating refresh tokens,
no revocation, ?org=.
"""

from __future__ import annotations

import pytest

from django_helpdesk_oauth.models import Installation
from django_helpdesk_oauth.sandbox.endpoints import provider_settings

from .contract import ProviderContract


class TestKustomer(ProviderContract):
    provider = "kustomer"

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

    def test_the_seed_global_endpoints_confirm_the_org(self, sandbox, browser, app, settings):
        settings.HELPDESK_OAUTH = {
            **settings.HELPDESK_OAUTH,
            "PROVIDERS": provider_settings(sandbox.base, kustomer="seed"),
        }
        response = self.run_install(browser, sandbox, app, org="acme")
        assert response.status_code == 302
        [check] = sandbox.state.matching_requests(endpoint="api")
        assert check["tenant"] == "acme" and check["path"].endswith("/users/current")
        assert Installation.objects.get().tenant == "acme"

    def test_the_org_form_leads_into_the_flow(self, sandbox, browser, app):
        page = browser.get(f"{sandbox.url}/oauth/{app.slug}/install/", timeout=10)
        assert page.status_code == 200 and 'name="org"' in page.text
        response = self.run_install(browser, sandbox, app, params={"org": "Acme"})
        assert response.status_code == 302
        assert Installation.objects.get().tenant == "acme"


@pytest.mark.django_db
def test_offline_access_is_a_default_scope(kustomer_app):
    assert "offline_access" in kustomer_app.scope_list()
