"""The lifecycle contract every provider meets: a test module declares its key, nothing else.

::

    class TestZendesk(ProviderContract):
        provider = "zendesk"

Everything else is derived, over real loopback HTTP against the sandbox:

- from the **provider definition** (``get_provider(key)``, the client side): the
  install parameter (the first of ``tenant_params``, or none for a provider that
  learns the tenant after the exchange), the client authentication to expect and
  the one to violate, the token body format, which token a revocation sends;
- from the **sandbox profile** (``sandbox.profiles.get(key)``, how the provider
  behaves): the access-token lifetime and the field stating it (hence the expiry
  source), whether a refresh token is issued and whether it rotates, the
  revocation strategy, the API path to call, the provider's own ``invalid_grant``
  document, the deauthorize webhook's signature.

A provider defined only in a test suite registers both in an autouse fixture
named ``registered`` (see ``tests/providers/test_testdesk.py``). A case that does
not apply to a provider (no refresh token, no deauthorize webhook) is skipped with
the reason, never silently passed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from django_helpdesk_oauth import signals, tasks
from django_helpdesk_oauth.exceptions import InvalidTenant
from django_helpdesk_oauth.jwt import unverified_claims
from django_helpdesk_oauth.models import (
    AuthorizationRequest,
    Installation,
    PendingRevocation,
    ProviderApp,
    Token,
)
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.providers.base import Provider
from django_helpdesk_oauth.sandbox import profiles
from django_helpdesk_oauth.sandbox.profile import Profile
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services import (
    Outcome,
    RefreshFailed,
    RefreshRetryLater,
    refresh_installation,
)
from django_helpdesk_oauth.timeutil import to_epoch
from tests import flows
from tests.bad_inputs import BAD_TENANTS
from tests.test_concurrency import ON_POSTGRES, WORKERS, run_processes, run_threads

TENANT = "acme"
#: How the sandbox's request log names each RFC 7591 client authentication.
LOGGED_AUTH = {"client_secret_basic": "basic", "client_secret_post": "body"}
#: A lifetime no provider's profile uses, so the stored expiry can only come from the answer.
PROBE_LIFETIME = 7200


def raw(table: str, column: str, pk: int) -> str:
    """The column as stored (what a database dump shows), bypassing the encrypted field."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def tenant_after_exchange(spec: Provider) -> bool:
    """Whether the definition declares that the tenant is learnt after the code exchange
    (no tenant on the install URL)."""
    return bool(getattr(spec, "tenant_after_exchange", False))


def deauthorize_url(slug: str) -> str | None:
    try:
        return reverse("helpdesk_oauth:deauthorize", args=[slug])
    except NoReverseMatch:
        return None


@pytest.mark.django_db(transaction=True)
class ProviderContract:
    """Set ``provider`` (a registry key); override a derived value only where it cannot be
    derived: ``tenant`` / ``other_tenant`` where the provider's tenants are not DNS labels."""

    provider: ClassVar[str]
    #: The tenant the sandbox consent page picks (the contract's one account). A provider
    #: whose tenants have another shape sets a valid one (HubSpot hub ids are digits).
    tenant: ClassVar[str] = TENANT
    #: A second valid tenant, never the one installed (a mismatch on the install URL).
    other_tenant: ClassVar[str] = "other"

    # -- what is derived ----------------------------------------------------------------
    @property
    def spec(self) -> Provider:
        return get_provider(self.provider)

    @property
    def profile(self) -> Profile:
        profile = profiles.get(self.provider)
        assert profile is not None, f"no sandbox profile serves {self.provider!r}"
        return profile

    @property
    def install_params(self) -> dict[str, str]:
        if tenant_after_exchange(self.spec):
            return {}
        return {self.spec.tenant_params[0]: self.tenant}

    @property
    def consent_org(self) -> str | None:
        # A global authorize host (no {tenant} in the configured URL) asks on its consent page.
        return None if "{tenant}" in self.spec.endpoint_template("authorize_url") else self.tenant

    @property
    def issues_refresh_tokens(self) -> bool:
        return self.profile.refresh.issue != "never"

    def require_refresh_tokens(self) -> None:
        if not self.issues_refresh_tokens:
            pytest.skip(f"{self.profile.title} issues no refresh token: nothing to refresh")

    @property
    def api_path(self) -> str:
        """A read the token unlocks: a named API route, else the identity call."""
        api = self.profile.api
        if api.named:
            return api.named[0][1]
        assert self.profile.identity is not None, "the profile has no API path to call"
        return self.profile.identity.path

    # -- fixtures -----------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def registered(self):
        """Override to register a provider defined in the test suite (definition + profile)."""
        yield

    @pytest.fixture
    def app(self, sandbox) -> ProviderApp:
        client_id, secret = f"{self.provider}-contract-client", f"{self.provider}-secret-0001"
        sandbox.state.register_client(self.provider, client_id, secret, title="Contract App")
        return ProviderApp.objects.create(
            slug=self.provider.replace("_", "-"),
            provider=self.provider,
            name=f"Contract {self.provider}",
            client_id=client_id,
            client_secret=secret,
        )

    @pytest.fixture
    def installation(self, sandbox, browser, app) -> Installation:
        response = self.run_install(browser, sandbox, app)
        assert response.status_code == 302, response.text
        return Installation.objects.get(app=app)

    def run_install(self, browser, sandbox, app, **kwargs) -> requests.Response:
        params = kwargs.pop("params", self.install_params)
        org = kwargs.pop("org", self.consent_org)
        return flows.install(browser, sandbox, app.slug, params, consent_org=org, **kwargs)

    def make_due(self) -> None:
        Token.objects.update(expires_at=timezone.now())

    def api_calls(self, sandbox, since: int = 0) -> list[dict[str, Any]]:
        """API requests the sandbox logged, from the ``since``-th on (an identity call
        during the install is one)."""
        return sandbox.state.matching_requests(endpoint="api")[since:]

    def refreshes(self, sandbox) -> list[dict[str, Any]]:
        return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")

    # -- the definition -----------------------------------------------------------------
    def test_registered_with_a_complete_definition(self):
        spec = self.spec
        assert spec.key == self.provider and spec.name
        assert spec.client_auth in LOGGED_AUTH
        assert bool(spec.default_scopes) is spec.scopes_supported
        if spec.access_tokens_expire:
            assert spec.fallback_lifetime > 0
        for name in ("authorize_url", "token_url", "api_base_url"):
            url = spec.endpoint(name, self.tenant)
            assert url.startswith(("https://", "http://127.0.0.1")) and "{" not in url

    def test_settings_override_an_endpoint(self, settings):
        settings.HELPDESK_OAUTH = {
            **settings.HELPDESK_OAUTH,
            "PROVIDERS": {self.provider: {"token_url": "https://{tenant}.example.test/t"}},
        }
        assert (
            self.spec.endpoint("token_url", self.tenant) == f"https://{self.tenant}.example.test/t"
        )

    @pytest.mark.parametrize("tenant", BAD_TENANTS)
    def test_invalid_tenant_never_reaches_a_url(self, tenant):
        with pytest.raises(InvalidTenant):
            self.spec.validate_tenant(tenant)
        for name in ("authorize_url", "token_url", "api_base_url"):
            if "{tenant}" in self.spec.endpoint_template(name):
                with pytest.raises(InvalidTenant):
                    self.spec.endpoint(name, tenant)

    # -- install over loopback HTTP -----------------------------------------------------
    def test_full_install(self, sandbox, browser, app):
        response = self.run_install(browser, sandbox, app)
        assert response.status_code == 302
        assert response.headers["Location"] == "/"
        installation = Installation.objects.get()
        assert (installation.app, installation.tenant, installation.status) == (
            app,
            self.tenant,
            "active",
        )
        token = installation.token
        assert token.access_token
        assert bool(token.refresh_token) is self.issues_refresh_tokens
        exchange = sandbox.state.matching_requests(
            endpoint="token", grant_type="authorization_code"
        )
        assert [r["client_auth"] for r in exchange] == [LOGGED_AUTH[self.spec.client_auth]]
        assert [r["status"] for r in exchange] == [200]
        assert not AuthorizationRequest.objects.exists()  # the state is spent

    def test_install_without_a_tenant_learns_it_after_the_exchange(self, sandbox, browser, app):
        if not tenant_after_exchange(self.spec):
            pytest.skip(f"{self.provider}: the tenant is known before the exchange")
        response = self.run_install(browser, sandbox, app, params={})
        assert response.status_code == 302, response.text
        assert Installation.objects.get().tenant == self.tenant
        # Re-installing the same tenant updates it, never duplicates.
        assert self.run_install(browser, sandbox, app, params={}).status_code == 302
        assert Installation.objects.count() == 1 and Token.objects.count() == 1
        # A tenant named on the install URL must be the one learnt: another is refused.
        token = Token.objects.get().access_token
        refused = self.run_install(browser, sandbox, app, params={"tenant": self.other_tenant})
        assert refused.status_code == 403
        assert Installation.objects.count() == 1 and Token.objects.get().access_token == token

    def test_the_sandbox_rejects_the_other_client_auth_method(self, sandbox, app):
        token_url = self.spec.endpoint("token_url", self.tenant)
        fields = {"grant_type": "refresh_token", "refresh_token": "x"}
        credentials = {"client_id": app.client_id, "client_secret": app.client_secret}
        body = "json" if self.spec.token_request_format == "json" else "data"
        if self.spec.client_auth == "client_secret_basic":
            wrong = {body: {**fields, **credentials}}
        else:
            wrong = {body: fields, "auth": (app.client_id, app.client_secret)}
        response = requests.post(token_url, timeout=10, **wrong)  # type: ignore[arg-type]
        assert response.status_code in (400, 401)
        assert response.json()["error"] == "invalid_client"

    def test_tokens_are_ciphertext_in_the_database(self, installation, app):
        token = Token.objects.get()
        for column in ("access_token", "refresh_token"):
            value = getattr(token, column)
            stored = raw("helpdesk_oauth_token", column, token.pk)
            if value:
                assert value not in stored and value[-12:] not in stored
                assert stored.startswith("gAAAA")
        secret = raw("helpdesk_oauth_providerapp", "client_secret", app.pk)
        assert app.client_secret not in secret and secret.startswith("gAAAA")

    def test_reinstall_updates_the_installation(self, sandbox, browser, app, installation):
        first = Token.objects.get().access_token
        Installation.objects.update(status="needs_reauth", last_error="invalid_grant")
        assert self.run_install(browser, sandbox, app).status_code == 302
        installation.refresh_from_db()
        assert installation.status == "active" and installation.last_error == ""
        assert Token.objects.count() == 1
        assert Token.objects.get().access_token != first

    def test_replayed_callback_is_refused(self, sandbox, browser, app):
        response = self.run_install(browser, sandbox, app)
        token = Token.objects.get()
        replay = browser.get(response.request.url, allow_redirects=False, timeout=10)
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
        decision = consent(browser, start, org=self.consent_org)
        with requests.Session() as attacker:
            stolen = attacker.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert stolen.status_code == 400
        assert not Installation.objects.exists()
        own = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert own.status_code == 302 and Installation.objects.count() == 1

    def test_iss_is_checked_when_the_provider_sends_it(self, sandbox, browser, app):
        sandbox.state.send_iss = True
        response = self.run_install(browser, sandbox, app)
        assert response.status_code == 302
        assert "iss=" in urlsplit(response.request.url).query
        assert Installation.objects.count() == 1

    # -- expiry source ------------------------------------------------------------------
    def test_the_expiry_comes_from_the_source_the_provider_states(self, sandbox, browser, app):
        access = self.profile.access
        if access.lifetime is not None:
            sandbox.state.lifetimes[self.provider] = PROBE_LIFETIME
        before = timezone.now()
        assert self.run_install(browser, sandbox, app).status_code == 302
        after = timezone.now()
        token = Token.objects.get()
        if access.lifetime is None:
            # Never expires: no stated lifetime, and the definition must not invent one.
            assert (token.expires_at, token.lifetime) == (None, None)
            assert not Token.objects.due().exists()
            assert refresh_installation(token.installation_id) is not Outcome.REFRESHED
            assert self.refreshes(sandbox) == []
        elif access.lifetime_field in ("expires_in_zero", "absent"):
            # Only the JWT's exp states it: the stored instant is that exp.
            exp = unverified_claims(token.access_token)["exp"]
            assert to_epoch(token.expires_at) == pytest.approx(exp, abs=0.001)
        else:
            lifetime = timedelta(seconds=PROBE_LIFETIME)
            slack = timedelta(seconds=1)  # epoch-second expires_at
            assert before + lifetime - slack <= token.expires_at <= after + lifetime + slack

    # -- refresh: keep or rotate, single flight -----------------------------------------
    def test_refresh_keeps_or_rotates_the_refresh_token(self, sandbox, installation):
        self.require_refresh_tokens()
        first = Token.objects.get()
        self.make_due()
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "refreshed"
        second = Token.objects.get()
        assert second.access_token != first.access_token
        if self.profile.refresh.rotation == "always":
            assert second.refresh_token != first.refresh_token
        elif self.profile.refresh.rotation == "never":
            assert second.refresh_token == first.refresh_token
        # Twice in a row: the stored refresh token is the live one.
        self.make_due()
        assert refresh_installation(installation.pk) is Outcome.REFRESHED
        refreshes = self.refreshes(sandbox)
        assert [r["status"] for r in refreshes] == [200, 200]
        assert [r["refresh_token"] for r in refreshes] == [
            first.refresh_token,
            second.refresh_token,
        ]
        assert {r["client_auth"] for r in refreshes} == {LOGGED_AUTH[self.spec.client_auth]}
        assert Token.objects.get().refresh_count == 2
        installation.refresh_from_db()
        assert installation.status == "active"

    def test_a_fresh_token_is_not_refreshed(self, sandbox, installation):
        assert refresh_installation(installation.pk) is not Outcome.REFRESHED
        assert self.refreshes(sandbox) == []

    @pytest.mark.parametrize(
        "runner",
        [
            pytest.param(run_threads, id="threads"),
            pytest.param(
                run_processes,
                id="processes",
                marks=pytest.mark.skipif(
                    not ON_POSTGRES, reason="separate processes are exercised on PostgreSQL"
                ),
            ),
        ],
    )
    def test_concurrent_refreshes_make_exactly_one_provider_call(
        self, sandbox, installation, runner
    ):
        self.require_refresh_tokens()
        self.make_due()
        sandbox.state.token_delay = 0.3  # the first refresh stays in flight while others come
        outcomes = runner(installation.pk)
        assert sorted(outcomes) == sorted(["refreshed"] + ["fresh"] * (WORKERS - 1)), outcomes
        assert [r["status"] for r in self.refreshes(sandbox)] == [200]
        token = Token.objects.get()
        assert token.refresh_count == 1 and token.lease_owner == ""
        sandbox.state.token_delay = 0
        self.make_due()
        assert refresh_installation(installation.pk) is Outcome.REFRESHED

    # -- failures ----------------------------------------------------------------------
    def snapshot(self) -> tuple:
        token = Token.objects.get()
        return (token.access_token, token.refresh_token, token.expires_at, token.refresh_count)

    @pytest.mark.parametrize("shape", ["revoked_grant", "provider_document"])
    def test_invalid_grant_marks_needs_reauth_and_keeps_the_rows(
        self, sandbox, installation, shape
    ):
        self.require_refresh_tokens()
        self.make_due()
        if shape == "revoked_grant":
            # The customer uninstalled on the provider's side.
            sandbox.state.revoke_all(self.tenant, self.provider)
        else:
            # The provider's own invalid_grant document (its profile's error body).
            body = self.profile.oauth_error_body("invalid_grant", "The refresh token is invalid.")
            sandbox.state.inject("token", status=400, body=body, provider=self.provider)
        before = self.snapshot()
        events: list[dict] = []
        signals.installation_needs_reauth.connect(lambda **kw: events.append(kw), weak=False)
        try:
            with pytest.raises(RefreshFailed):
                refresh_installation(installation.pk)
        finally:
            signals.installation_needs_reauth.receivers.clear()
        installation.refresh_from_db()
        assert installation.status == "needs_reauth"
        assert "invalid_grant" in installation.last_error
        assert self.snapshot() == before  # nothing deleted
        assert [e["installation"].pk for e in events] == [installation.pk]
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() == "skipped"

    @pytest.mark.parametrize(
        "fault",
        [{"status": 503}, {"status": 429, "headers": {"Retry-After": "120"}}],
        ids=["503", "429"],
    )
    def test_transient_failures_leave_the_token_untouched(self, sandbox, installation, fault):
        self.require_refresh_tokens()
        self.make_due()
        before = self.snapshot()
        sandbox.state.inject("token", provider=self.provider, **fault)
        with pytest.raises(RefreshRetryLater) as excinfo:
            refresh_installation(installation.pk)
        assert self.snapshot() == before
        installation.refresh_from_db()
        assert installation.status == "active" and installation.refresh_failures == 1
        if fault["status"] == 429:
            assert excinfo.value.retry_after == 120
        assert refresh_installation(installation.pk) is Outcome.REFRESHED

    # -- uninstall and revocation --------------------------------------------------------
    def test_uninstall_revokes_by_the_declared_strategy_and_erases(
        self, sandbox, installation, admin_client
    ):
        token = Token.objects.get()
        access, refresh_token = token.access_token, token.refresh_token
        url = reverse("helpdesk_oauth:uninstall", args=[installation.pk])
        assert admin_client.post(url).status_code == 302
        installation.refresh_from_db()
        assert installation.status == "uninstalled" and installation.uninstalled_at
        assert not Token.objects.exists() and not PendingRevocation.objects.exists()
        revokes = sandbox.state.matching_requests(endpoint="revoke")
        strategy = self.profile.revocation
        if strategy.kind == "none":
            assert revokes == [] and not self.spec.supports_revoke
        elif strategy.kind == "rfc7009":
            sent = access if self.spec.revocation.token == "access_token" else refresh_token
            [revoke] = revokes
            assert (revoke["client_auth"], revoke["token"], revoke["status"]) == (
                LOGGED_AUTH[self.spec.client_auth],
                sent,
                strategy.status,
            )
            if sent == refresh_token:
                assert not sandbox.state.live_refresh_tokens(self.provider, self.tenant)
        else:  # the access token in the Authorization header
            [revoke] = revokes
            assert (revoke["method"], revoke["token"], revoke["status"]) == (
                strategy.method,
                access,
                strategy.status,
            )
            assert sandbox.state.find_access_token(access) is None
        # Again: nothing more happens.
        assert admin_client.post(url).status_code == 302
        assert len(sandbox.state.matching_requests(endpoint="revoke")) == len(revokes)

    # -- api_session() -------------------------------------------------------------------
    def test_api_session_calls_the_tenants_api(self, sandbox, installation):
        since = len(self.api_calls(sandbox))
        response = installation.api_session().get(self.api_path)
        assert response.status_code == 200, response.text
        assert self.tenant in response.text
        [call] = self.api_calls(sandbox, since)
        assert call["tenant"] == self.tenant

    def test_a_401_refreshes_once_and_retries_once(self, sandbox, installation):
        # The provider stops accepting the access token before its stated expiry.
        sandbox.state.revoke_token(Token.objects.get().access_token)
        since = len(self.api_calls(sandbox))
        response = installation.api_session().get(self.api_path)
        statuses = [r["status"] for r in self.api_calls(sandbox, since)]
        if self.issues_refresh_tokens:
            assert response.status_code == 200
            assert statuses == [401, 200] and len(self.refreshes(sandbox)) == 1
        else:
            # Nothing to refresh with: the provider's 401 is returned as is, once.
            assert response.status_code == 401
            assert statuses == [401] and self.refreshes(sandbox) == []

    def test_a_second_401_is_returned_not_looped(self, sandbox, installation):
        self.require_refresh_tokens()
        sandbox.state.inject("api", status=401, times=5)
        since = len(self.api_calls(sandbox))
        response = installation.api_session().get(self.api_path)
        assert response.status_code == 401
        assert len(self.api_calls(sandbox, since)) == 2
        assert len(self.refreshes(sandbox)) == 1

    # -- provider-initiated uninstall ------------------------------------------------------
    def test_deauthorize_is_verified_then_uninstalls(self, sandbox, installation, app):
        webhook = self.profile.deauthorize
        url = deauthorize_url(app.slug)
        if webhook is None or getattr(self.spec, "deauthorize", None) is None:
            pytest.skip(f"{self.provider} sends no provider-initiated uninstall")
        if url is None:
            pytest.skip("helpdesk_oauth:deauthorize is not routed yet")
        body = json.dumps(webhook.payload(self.tenant)).encode()
        target = f"{sandbox.url}{url}"
        forged = requests.post(
            target,
            data=body,
            headers={"Content-Type": "application/json", webhook.header: webhook.prefix + "0"},
            timeout=10,
        )
        assert forged.status_code == 401
        installation.refresh_from_db()
        assert installation.status == "active" and Token.objects.exists()
        # The provider side (the sandbox) signs with the client secret it holds.
        signed = sandbox.state.send_deauthorize(
            self.provider, self.tenant, target, client_id=app.client_id
        )
        assert signed.status_code == 200
        installation.refresh_from_db()
        assert installation.status == "uninstalled" and not Token.objects.exists()
        assert sandbox.state.matching_requests(endpoint="revoke") == []  # nothing to revoke
