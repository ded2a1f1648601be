"""Front runs the lifecycle contract, plus its own quirks, over loopback HTTP.

Quirks: the company (``cmp_…``) learnt after the exchange from ``GET /me``; an
absolute ``expires_at`` (no ``expires_in``) for 1-hour access tokens; "the same, or
new" refresh token (a new one only in the last day of its 6 months); no ``scope``
parameter; HTTP Basic only; only company admins may approve (a non-admin gets a 403
page saying so, nothing stored); no revocation unless a ``revoke_url`` is configured.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from django_helpdesk_oauth import signals
from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.sandbox.profiles.front import NON_ADMIN, ROTATE_AFTER
from django_helpdesk_oauth.services import Outcome, refresh_installation
from django_helpdesk_oauth.timeutil import to_epoch

from .contract import ProviderContract

COMPANY = "cmp_acme"
ADMIN_ONLY = "Only an administrator of the Front company can approve this app"


class TestFront(ProviderContract):
    provider = "front"
    tenant = COMPANY
    other_tenant = "cmp_other"

    def install(self, sandbox, browser, app):
        return self.run_install(browser, sandbox, app, params={})

    # -- the company, after the exchange --------------------------------------------------
    def test_the_company_comes_from_me_with_the_token_in_a_header(self, sandbox, browser, app):
        assert self.install(sandbox, browser, app).status_code == 302
        installation = Installation.objects.get()
        assert installation.tenant == COMPANY
        [call] = self.api_calls(sandbox)
        assert urlsplit(call["path"]).path.endswith("/front/api/me")
        assert call["status"] == 200 and call["tenant"] == COMPANY
        token = installation.token.access_token
        assert all(token not in r["path"] for r in sandbox.state.requests)

    @pytest.mark.parametrize(
        "answer",
        [
            {"id": "acme", "name": "Acme"},  # not a company id
            {"id": "cmp_acme/../x"},
            {"id": "cmp_acme\nx"},
            {"id": 42},
            {"name": "Acme"},  # no id at all
            ["cmp_acme"],
        ],
        ids=["not-cmp", "path", "newline", "number", "missing", "list"],
    )
    def test_a_me_answer_naming_no_valid_company_installs_nothing(
        self, sandbox, browser, app, answer
    ):
        sandbox.state.inject("api", status=200, body=answer, provider="front")
        response = self.install(sandbox, browser, app)
        assert response.status_code == 502
        assert not Installation.objects.exists() and not Token.objects.exists()

    @pytest.mark.parametrize("status", [401, 500, 429])
    def test_me_failing_installs_nothing(self, sandbox, browser, app, status):
        sandbox.state.inject("api", status=status, provider="front")
        assert self.install(sandbox, browser, app).status_code == 502
        assert not Installation.objects.exists() and not Token.objects.exists()

    def test_no_scope_parameter_is_sent(self, sandbox, browser, app):
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
        )
        query = parse_qs(urlsplit(start.headers["Location"]).query)
        assert "scope" not in query and query["client_id"] == [app.client_id]

    # -- expires_at -------------------------------------------------------------------------
    def test_expires_at_in_milliseconds_is_read_as_such(self, sandbox, browser, app):
        at = int((timezone.now() + timedelta(minutes=40)).timestamp())
        sandbox.state.reshape_token_response({"expires_at": at * 1000}, provider="front")
        assert self.install(sandbox, browser, app).status_code == 302
        assert to_epoch(Token.objects.get().expires_at) == pytest.approx(at, abs=1)

    @pytest.mark.parametrize(
        "expires_at", [None, "soon", 0, -5, 10**20], ids=["null", "text", "0", "past", "huge"]
    )
    def test_an_unusable_expires_at_falls_back_to_one_hour(self, sandbox, browser, app, expires_at):
        sandbox.state.reshape_token_response({"expires_at": expires_at}, provider="front")
        before = timezone.now()
        assert self.install(sandbox, browser, app).status_code == 302
        token = Token.objects.get()
        assert token.lifetime == timedelta(hours=1)
        assert before + timedelta(minutes=59) < token.expires_at < before + timedelta(minutes=61)

    # -- the same, or new, refresh token ----------------------------------------------------
    def test_the_same_refresh_token_until_its_last_day_then_a_new_one(self, sandbox, installation):
        first = Token.objects.get().refresh_token
        not_rotated: list[dict] = []
        signals.refresh_token_not_rotated.connect(lambda **kw: not_rotated.append(kw), weak=False)
        try:
            self.make_due()
            assert refresh_installation(installation.pk) is Outcome.REFRESHED
            assert Token.objects.get().refresh_token == first  # the same one back
            sandbox.state.advance(ROTATE_AFTER)  # its last 24 hours
            self.make_due()
            assert refresh_installation(installation.pk) is Outcome.REFRESHED
            second = Token.objects.get().refresh_token
            assert second != first  # the new one is stored
            self.make_due()
            assert refresh_installation(installation.pk) is Outcome.REFRESHED
        finally:
            signals.refresh_token_not_rotated.receivers.clear()
        sent = [r["refresh_token"] for r in self.refreshes(sandbox)]
        assert sent == [first, first, second]
        assert not_rotated == []  # "sometimes": keeping it is normal

    def test_a_refresh_answer_without_a_refresh_token_keeps_the_stored_one(
        self, sandbox, installation
    ):
        first = Token.objects.get().refresh_token
        sandbox.state.reshape_token_response(
            lambda body: {k: v for k, v in body.items() if k != "refresh_token"}, provider="front"
        )
        self.make_due()
        assert refresh_installation(installation.pk) is Outcome.REFRESHED
        assert Token.objects.get().refresh_token == first
        self.make_due()
        assert refresh_installation(installation.pk) is Outcome.REFRESHED

    # -- only company admins approve -----------------------------------------------------
    def test_a_non_admin_is_told_to_ask_an_admin_and_nothing_is_stored(
        self, sandbox, browser, app, caplog
    ):
        sandbox.state.consent_by_admin = False
        with caplog.at_level(logging.INFO, logger="django_helpdesk_oauth"):
            response = self.install(sandbox, browser, app)
        assert response.status_code == 403
        assert ADMIN_ONLY in response.text and "ask an administrator" in response.text
        assert NON_ADMIN not in response.text
        # Logged for the operator (the code, the provider's words cut), never a secret.
        assert "administrator" in caplog.text and app.client_secret not in caplog.text
        assert not Installation.objects.exists() and not Token.objects.exists()
        assert not AuthorizationRequest.objects.exists()
        assert sandbox.state.matching_requests(endpoint="token") == []
        # An admin of the same company then installs it.
        sandbox.state.consent_by_admin = True
        assert self.install(sandbox, browser, app).status_code == 302
        assert Installation.objects.get().tenant == COMPANY

    def test_a_non_admin_does_not_touch_an_existing_installation(
        self, sandbox, browser, app, installation
    ):
        token = Token.objects.get().access_token
        sandbox.state.consent_by_admin = False
        assert self.install(sandbox, browser, app).status_code == 403
        installation.refresh_from_db()
        assert installation.status == "active" and Token.objects.get().access_token == token

    @pytest.mark.parametrize(
        ("code", "status"),
        [("server_error", 502), ("temporarily_unavailable", 502), ("unauthorized_client", 403)],
    )
    def test_the_providers_own_failure_wins_over_the_admin_words(
        self, sandbox, browser, app, code, status
    ):
        # Front's admin rule matches its words under any code, but a server failure that
        # happens to carry them is still "try again" (502), never "ask an admin".
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
        )
        state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
        response = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/callback/",
            params={"state": state, "error": code, "error_description": NON_ADMIN},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == status
        assert ("ask an administrator" in response.text) is (status == 403)
        assert not Installation.objects.exists()

    # -- revocation ----------------------------------------------------------------------
    def test_revocation_only_once_a_revoke_url_is_configured(self, settings):
        spec = get_provider("front")
        assert not spec.supports_revoke
        settings.HELPDESK_OAUTH = {
            **settings.HELPDESK_OAUTH,
            "PROVIDERS": {"front": {"revoke_url": "https://app.frontapp.com/oauth/revoke"}},
        }
        assert spec.supports_revoke and spec.revocation.style == "rfc7009"
        assert spec.revocation.token == "refresh_token"
