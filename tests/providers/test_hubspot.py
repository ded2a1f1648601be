"""HubSpot runs the lifecycle contract, plus its own quirks, over loopback HTTP.

Quirks: the hub id (digits) learnt after the exchange from the token response's
``hub_id``, else from ``GET account-info/v3/details`` with the token in a header
(never in a URL); 30-minute access tokens refreshed once per lifetime; refresh
tokens that never rotate; error answers naming the dead grant by RFC 6749 ``error``
and/or HubSpot's legacy ``status: BAD_REFRESH_TOKEN``; RFC 7009 revocation of the
refresh token on the 2026-03 endpoint, everything in the body.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.providers.hubspot import V1_SUNSET
from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.profiles.hubspot import v1_oauth_error
from django_helpdesk_oauth.services import RefreshFailed

from .contract import ProviderContract

HUB = "2450981"


class TestHubSpot(ProviderContract):
    provider = "hubspot"
    tenant = HUB
    other_tenant = "7730055"

    # -- the hub id, after the exchange -------------------------------------------------
    def test_the_hub_id_comes_from_the_token_response_without_an_identity_call(
        self, sandbox, browser, app
    ):
        assert self.run_install(browser, sandbox, app, params={}).status_code == 302
        assert Installation.objects.get().tenant == HUB
        assert self.api_calls(sandbox) == []

    @pytest.mark.parametrize("hub_id", [None, True, 2.5], ids=["null", "boolean", "float"])
    def test_without_a_hub_id_the_account_info_call_names_it(self, sandbox, browser, app, hub_id):
        sandbox.state.reshape_token_response({"hub_id": hub_id}, provider="hubspot")
        assert self.run_install(browser, sandbox, app, params={}).status_code == 302
        installation = Installation.objects.get()
        assert installation.tenant == HUB
        [call] = self.api_calls(sandbox)
        assert urlsplit(call["path"]).path.endswith("/account-info/v3/details")
        assert call["status"] == 200
        # The token went in the Authorization header: no URL we built carries it.
        token = installation.token.access_token
        assert all(token not in r["path"] for r in sandbox.state.requests)

    @pytest.mark.parametrize("hub_id", ["acme", "-2450981", "02450981", "2450981/../x", "1" * 21])
    def test_a_hub_id_that_is_not_one_installs_nothing(self, sandbox, browser, app, hub_id, caplog):
        sandbox.state.reshape_token_response({"hub_id": hub_id}, provider="hubspot")
        with caplog.at_level(logging.WARNING):
            response = self.run_install(browser, sandbox, app, params={})
        assert response.status_code == 502
        assert not Installation.objects.exists() and not Token.objects.exists()

    def test_a_string_hub_id_is_read_like_the_integer(self, sandbox, browser, app):
        sandbox.state.reshape_token_response({"hub_id": HUB}, provider="hubspot")
        assert self.run_install(browser, sandbox, app, params={}).status_code == 302
        assert Installation.objects.get().tenant == HUB

    def test_two_hubs_are_two_installations(self, sandbox, browser, app):
        assert self.run_install(browser, sandbox, app, params={}).status_code == 302
        other = self.run_install(browser, sandbox, app, params={}, org=self.other_tenant)
        assert other.status_code == 302
        assert sorted(Installation.objects.values_list("tenant", flat=True)) == sorted(
            [HUB, self.other_tenant]
        )

    # -- 30-minute tokens -----------------------------------------------------------------
    def test_a_30_minute_token_is_refreshed_once_per_lifetime(self, sandbox, installation):
        token = Token.objects.get()
        assert token.lifetime == timedelta(seconds=1800)
        # REFRESH_MARGIN (1800 s) is capped at half the lifetime: not due at once...
        assert not Token.objects.due().exists()
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "fresh"
        # ...due in its second half.
        Token.objects.update(expires_at=timezone.now() + timedelta(seconds=899))
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "refreshed"
        assert [r["status"] for r in self.refreshes(sandbox)] == [200]
        assert not Token.objects.due().exists()

    # -- the legacy error shape -------------------------------------------------------------
    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(
                v1_oauth_error("BAD_REFRESH_TOKEN", "missing or invalid refresh token"),
                id="v1-status-only",
            ),
            pytest.param(
                {"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"},
                id="v1-without-correlation-id",
            ),
        ],
    )
    def test_a_legacy_bad_refresh_token_marks_needs_reauth(self, sandbox, installation, body):
        self.make_due()
        before = self.snapshot()
        sandbox.state.inject("token", status=400, body=body, provider="hubspot")
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "failed"
        installation.refresh_from_db()
        assert installation.status == "needs_reauth"
        assert "invalid_grant" in installation.last_error
        assert self.snapshot() == before

    def test_a_legacy_bad_client_id_is_not_the_tenants_problem(self, sandbox, installation):
        self.make_due()
        body = v1_oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        sandbox.state.inject("token", status=400, body=body, provider="hubspot")
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "failed"
        installation.refresh_from_db()
        assert installation.status == "active"

    @pytest.mark.parametrize("status", [500, 503])
    def test_a_legacy_body_on_a_5xx_is_transient(self, sandbox, installation, status):
        self.make_due()
        before = self.snapshot()
        body = v1_oauth_error("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
        sandbox.state.inject("token", status=status, body=body, provider="hubspot")
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "retry-later"
        installation.refresh_from_db()
        assert installation.status == "active" and self.snapshot() == before

    def test_a_revoked_grant_is_needs_reauth_through_api_session(self, sandbox, installation):
        # The customer uninstalled the app in HubSpot: its refresh tokens die with it.
        sandbox.state.revoke_all(HUB, "hubspot")
        self.make_due()
        with pytest.raises(RefreshFailed):
            installation.api_session().get("crm/v3/objects/tickets")
        installation.refresh_from_db()
        assert installation.status == "needs_reauth"
        assert Token.objects.exists()

    # -- uninstall ---------------------------------------------------------------------------
    def test_uninstall_revokes_the_refresh_token_in_the_body_never_the_url(
        self, sandbox, installation, admin_client
    ):
        refresh_token = Token.objects.get().refresh_token
        url = reverse("helpdesk_oauth:uninstall", args=[installation.pk])
        assert admin_client.post(url).status_code == 302
        [revoke] = sandbox.state.matching_requests(endpoint="revoke")
        assert urlsplit(revoke["path"]).path.endswith("/oauth/2026-03/token/revoke")
        assert refresh_token not in revoke["path"]
        assert (revoke["client_auth"], revoke["token"]) == ("body", refresh_token)
        assert not sandbox.state.live_refresh_tokens("hubspot", HUB)

    # -- the API -----------------------------------------------------------------------------
    def test_api_session_reads_tickets_with_cursor_paging(self, sandbox, installation):
        session = installation.api_session()
        first = session.get("crm/v3/objects/tickets", params={"limit": 2})
        assert first.status_code == 200
        after = first.json()["paging"]["next"]["after"]
        second = session.get("crm/v3/objects/tickets", params={"limit": 2, "after": after})
        assert [t["id"] for t in first.json()["results"]] != [
            t["id"] for t in second.json()["results"]
        ]
        missing = session.get("crm/v3/objects/tickets/1")
        assert missing.status_code == 404
        assert missing.json()["category"] == "OBJECT_NOT_FOUND"

    # -- endpoints ------------------------------------------------------------------------------
    def test_the_versioned_endpoints_are_the_default_and_v1_is_a_setting(
        self, sandbox, browser, app, settings
    ):
        spec = get_provider("hubspot")
        assert spec.endpoints["token_url"].endswith("/oauth/2026-03/token")
        assert "{token}" not in spec.endpoints["revoke_url"]
        assert V1_SUNSET.isoformat() == "2027-02-16"
        # Until the sunset an operator may point token_url at v1: the same form body works.
        v1 = provider_settings(sandbox.base, hubspot="v1")["hubspot"]
        assert v1["token_url"].endswith("/oauth/v1/token")
        settings.HELPDESK_OAUTH = {
            **settings.HELPDESK_OAUTH,
            "PROVIDERS": {
                **settings.HELPDESK_OAUTH["PROVIDERS"],
                "hubspot": {**settings.HELPDESK_OAUTH["PROVIDERS"]["hubspot"], **v1},
            },
        }
        assert self.run_install(browser, sandbox, app, params={}).status_code == 302
        [exchange] = sandbox.state.matching_requests(endpoint="token")
        assert urlsplit(exchange["path"]).path.endswith("/oauth/v1/token")
        assert Installation.objects.get().tenant == HUB
