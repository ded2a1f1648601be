"""Zoho Desk runs the lifecycle contract, plus its own quirks.

The contract derives the rest: body client auth, ``expires_in: 3600``, refresh tokens
that never rotate, RFC 7009-style revocation of the refresh token, the organization
learnt after the exchange. The quirks: the callback's ``accounts-server`` picks the data
centre (validated against the declared ones before anything is sent), the token
answer's ``api_domain`` must be that data centre's, ``access_type=offline`` +
``prompt=consent``, comma-separated scopes, ``Zoho-oauthtoken`` + the ``orgId`` header.
"""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services import Outcome, refresh_installation, uninstall

from .contract import ProviderContract

ORG = "20012345"


class TestZohoDesk(ProviderContract):
    provider = "zoho_desk"
    tenant = ORG
    other_tenant = "20067890"

    # -- data centres -------------------------------------------------------------------
    def _to_callback(self, browser, sandbox, app, params=None, home=None):
        """Install → consent (the org's home data centre ``home``); the provider's 302."""
        if home:
            sandbox.state.home_regions[(self.provider, ORG)] = home
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/",
            params=params or {},
            allow_redirects=False,
            timeout=10,
        )
        assert start.status_code == 302, start.text
        return start, consent(browser, start, org=ORG)

    def test_the_callbacks_accounts_server_picks_every_host(self, sandbox, browser, app):
        _, decision = self._to_callback(browser, sandbox, app, home="eu")
        callback = parse_qs(urlsplit(decision.headers["Location"]).query)
        assert callback["location"] == ["eu"]
        assert callback["accounts-server"] == ["https://accounts.zoho.eu"]
        response = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        installation = Installation.objects.get()
        assert (installation.tenant, installation.connection_config) == (ORG, {"region": "eu"})
        assert installation.api_session().get("tickets").status_code == 200
        self.make_due()
        assert refresh_installation(installation.pk) == Outcome.REFRESHED
        assert uninstall(installation).revoked
        paths = [r["path"] for r in sandbox.state.matching_requests(provider=self.provider)]
        after_consent = [p for p in paths if "/oauth/v2/auth" not in p]
        # exchange, organizations, tickets, refresh, revoke: all at the EU data centre.
        assert len(after_consent) == 5
        assert all("/zoho_desk/eu/" in p for p in after_consent), after_consent

    @pytest.mark.parametrize(
        "forged",
        [
            "https://evil.example",
            "https://accounts.zoho.eu.evil.example",
            "https://accounts.zoho.eu/",  # not the exact declared value
            "http://accounts.zoho.eu",
            "HTTPS://ACCOUNTS.ZOHO.EU",
            "",
            "https://accounts.zoho.eu\r\nX: y",
            "{accounts_server}",
        ],
    )
    def test_a_callback_naming_another_host_is_refused_before_anything_is_sent(
        self, sandbox, browser, app, forged
    ):
        _, decision = self._to_callback(browser, sandbox, app)
        location = _replace(decision.headers["Location"], "accounts-server", [forged])
        response = browser.get(location, allow_redirects=False, timeout=10)
        assert response.status_code == 400, response.text
        assert "token" not in {r["endpoint"] for r in sandbox.state.requests}
        assert not Installation.objects.exists() and not Token.objects.exists()

    def test_a_repeated_accounts_server_is_refused(self, sandbox, browser, app):
        _, decision = self._to_callback(browser, sandbox, app, home="eu")
        twice = ["https://accounts.zoho.eu", "https://accounts.zoho.com"]
        location = _replace(decision.headers["Location"], "accounts-server", twice)
        assert browser.get(location, allow_redirects=False, timeout=10).status_code == 400
        assert sandbox.state.matching_requests(endpoint="token") == []
        assert not Installation.objects.exists()

    def test_another_declared_data_centre_is_where_the_code_goes(self, sandbox, browser, app):
        # A declared data centre is allowed (the client secret goes only to Zoho's hosts).
        _, decision = self._to_callback(browser, sandbox, app, home="eu")
        location = _replace(
            decision.headers["Location"], "accounts-server", ["https://accounts.zoho.in"]
        )
        response = browser.get(location, allow_redirects=False, timeout=10)
        assert response.status_code == 302
        [exchange] = sandbox.state.matching_requests(endpoint="token")
        assert "/zoho_desk/in/oauth/v2/token" in exchange["path"]
        assert Installation.objects.get().connection_config == {"region": "in"}

    def test_no_accounts_server_keeps_the_install_region(self, sandbox, browser, app):
        _, decision = self._to_callback(browser, sandbox, app)
        location = _replace(decision.headers["Location"], "accounts-server", None)
        assert browser.get(location, allow_redirects=False, timeout=10).status_code == 302
        assert Installation.objects.get().connection_config == {"region": "us"}

    @pytest.mark.parametrize(
        "api_domain", ["https://www.zohoapis.eu", "https://evil.example", 42, ""]
    )
    def test_an_api_domain_of_another_data_centre_refuses_the_install(
        self, sandbox, browser, app, api_domain
    ):
        # The user lives in the US; the answer names another (or no) API domain.
        sandbox.state.reshape_token_response({"api_domain": api_domain}, provider=self.provider)
        _, decision = self._to_callback(browser, sandbox, app)
        response = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert response.status_code == 502, response.text
        assert not Installation.objects.exists() and not Token.objects.exists()
        # Not even the organizations call: nothing reached the API host.
        assert sandbox.state.matching_requests(endpoint="api") == []

    def test_china_starts_at_its_own_accounts_server(self, sandbox, browser, app):
        start, decision = self._to_callback(
            browser, sandbox, app, params={"region": "cn"}, home="cn"
        )
        assert "/zoho_desk/cn/oauth/v2/auth" in start.headers["Location"]
        response = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert response.status_code == 302
        assert Installation.objects.get().connection_config == {"region": "cn"}

    def test_an_unknown_install_region_is_refused(self, sandbox, browser, app):
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/",
            params={"region": "mars"},
            allow_redirects=False,
            timeout=10,
        )
        assert start.status_code == 400
        assert sandbox.state.requests == []

    # -- the authorization request ---------------------------------------------------------
    def test_offline_access_consent_and_comma_scopes(self, sandbox, browser, app):
        start, _ = self._to_callback(browser, sandbox, app)
        query = parse_qs(urlsplit(start.headers["Location"]).query)
        assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
        assert query["scope"] == ["Desk.tickets.READ,Desk.basic.READ"]
        assert "/zoho_desk/us/oauth/v2/auth" in start.headers["Location"]

    def test_every_reinstall_gets_a_refresh_token_and_updates_the_org(self, sandbox, browser, app):
        for _ in range(2):
            assert self.run_install(browser, sandbox, app).status_code == 302
        installation = Installation.objects.get()
        assert installation.tenant == ORG and Token.objects.get().refresh_token

    # -- the API -----------------------------------------------------------------------
    def test_api_calls_carry_the_scheme_and_the_org_id(self, sandbox, installation):
        response = installation.api_session().get("tickets")
        assert response.status_code == 200 and response.json()["data"]
        [identity, tickets] = sandbox.state.matching_requests(endpoint="api")
        # The organizations call (the tenant not known yet) has no orgId; every other has.
        assert identity["path"].endswith("/api/v1/organizations")
        assert tickets["tenant"] == ORG

    def test_the_caller_cannot_point_the_org_id_elsewhere_silently(self, installation):
        # A caller's own header wins (documented): the sandbox then refuses another org.
        response = installation.api_session().get("tickets", headers={"orgId": "999"})
        assert response.status_code == 403
        assert response.json()["errorCode"] == "FORBIDDEN"

    def test_revocation_sends_the_token_in_a_form_body_not_the_url(self, sandbox, installation):
        refresh_token = Token.objects.get().refresh_token
        assert uninstall(installation).revoked
        [revoke] = sandbox.state.matching_requests(endpoint="revoke")
        assert refresh_token not in revoke["path"] and "?" not in revoke["path"]
        assert revoke["token"] == refresh_token


def _replace(url: str, name: str, values: list[str] | None) -> str:
    """``url`` with query parameter ``name`` set to ``values`` (``None``: removed)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query += [(name, value) for value in values or []]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.parametrize(
    ("body", "org"),
    [
        ({"data": [{"id": "7", "isDefault": False}]}, "7"),
        ({"data": [{"id": "7"}, {"id": "8", "isDefault": True}]}, "8"),
        ({"data": [{"id": "7"}, {"id": "8"}]}, None),
        ({"data": [{"id": "7", "isDefault": True}, {"id": "8", "isDefault": True}]}, None),
        ({"data": []}, None),
        ({"data": "7"}, None),
        ([], None),
    ],
)
def test_the_organization_is_the_only_or_the_default_one(body, org):
    assert get_provider("zoho_desk").tenant_from_identity(body) == org
