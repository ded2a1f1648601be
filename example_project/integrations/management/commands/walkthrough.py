"""``manage.py walkthrough``: the whole OAuth lifecycle against the sandbox providers.

Non-interactive: it plays the browser with a ``requests.Session`` against this
project served on a loopback port (the sandbox included), and prints what
happens at each step. Tokens and secrets never appear: at most their last four
characters, through :func:`django_helpdesk_oauth.crypto.mask`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.crypto import mask
from django_helpdesk_oauth.jwt import unverified_claims
from django_helpdesk_oauth.models import Installation, ProviderApp, Token
from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.server import SandboxServer
from django_helpdesk_oauth.sandbox.state import state as sandbox
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services import uninstall
from django_helpdesk_oauth.services.secrets import rotate_via_provider

TENANT = "acme"
GORGIAS_SLUG = "gorgias-sandbox"
KUSTOMER_SLUG = "kustomer-sandbox"
TIMEOUT = 10

#: Step 7, in this order: provider → (app slug, the account picked on the consent page
#: where the provider asks there, a read through ``api_session()``). Tenants have each
#: provider's own shape (HubSpot hub ids and Zoho org ids are digits, Front's cmp_…).
EVERY_PROVIDER = {
    "gorgias": ("gorgias-sandbox", TENANT, "account"),
    "kustomer": ("kustomer-sandbox", TENANT, "users/current"),
    "zendesk": ("zendesk-sandbox", TENANT, "users/me.json"),
    "hubspot": ("hubspot-sandbox", "2450981", "account-info/v3/details"),
    "intercom": ("intercom-sandbox", TENANT, "me"),
    "front": ("front-sandbox", "cmp_acme", "me"),
    "helpscout": ("helpscout-sandbox", TENANT, "users/me"),
    "zoho_desk": ("zoho-desk-sandbox", "20012345", "tickets"),
}
#: The region picked on the install URL where the provider takes one there (Intercom).
DEMO_REGION = "eu"


class StepFailed(Exception):
    """A check of the walkthrough did not hold."""


def expect(condition: object, message: str) -> None:
    """Fail the current step with ``message`` unless ``condition`` holds."""
    if not condition:
        raise StepFailed(message)


def path_of(url: str) -> str:
    """The path of ``url`` without its query: state, code and nonce stay off the screen."""
    return urlsplit(url).path


def safe_reason(exc: BaseException) -> str:
    """A one-line reason for ``exc`` with URL queries removed (they can hold codes)."""
    text = re.sub(r"\?[^\s'\"()]*", "?…", str(exc)).replace("\n", " ")
    if isinstance(exc, StepFailed):
        return text
    return f"{type(exc).__name__}: {text}"[:300]


def on_this_server(client: dict[str, Any], base: str) -> dict[str, Any]:
    """``client`` with its registered redirect URIs moved to ``base`` (this run's server):
    Help Scout sends the user back to the registered URL, not to one the request names."""
    if not client.get("redirect_uris"):
        return client
    moved = [base + urlsplit(uri).path for uri in client["redirect_uris"]]
    return {**client, "redirect_uris": moved}


def duration(delta: timedelta) -> str:
    """``23 h 59 min`` for a timedelta."""
    minutes = max(0, round(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Command(BaseCommand):
    """Run install → consent → callback → API call → refresh → uninstall for Gorgias and
    Kustomer against the built-in sandbox providers, and print each step; then the same
    lifecycle for every provider of :data:`EVERY_PROVIDER`, one line each.

    Needs ``migrate`` to have run. Seeds the sandbox apps (``seed_sandbox_apps``),
    serves this project on an ephemeral loopback port with the package pointed at
    it, and runs Celery tasks eagerly so no worker is needed. Exits non-zero with
    a one-line message if any step fails.
    """

    help = (
        "Non-interactive demo: install Gorgias and Kustomer from the built-in sandbox "
        "providers, call their APIs, refresh through Celery (eagerly), and uninstall; then "
        "the same for all eight providers, one line each."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        self.done: list[str] = []
        self._check_migrated()
        with self._environment():
            # The package logs each install and refresh at INFO; the steps say it better.
            # Set here, not earlier: starting the server (django.setup()) reapplies LOGGING.
            package_logger = logging.getLogger("django_helpdesk_oauth")
            previous_level = package_logger.level
            if self.verbosity < 2:
                package_logger.setLevel(logging.WARNING)
            try:
                self._run()
            finally:
                package_logger.setLevel(previous_level)

    # -- setup ------------------------------------------------------------------------

    def _check_migrated(self) -> None:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError(
                "The database has unapplied migrations: run "
                "`python example_project/manage.py migrate` first."
            )

    @contextlib.contextmanager
    def _environment(self) -> Iterator[None]:
        """Sandbox server up, settings pointed at it, Celery eager; all undone on exit.

        The apps are seeded for this run's own sandbox, and on exit again for
        ``runserver``'s (its settings and ``STATE_FILE``), so clicking through right
        after works (the Kustomer secret rotated in step 5 lived only in this run).
        """
        celery_conf = tasks.refresh_expiring_tokens.app.conf
        eager = (celery_conf.task_always_eager, celery_conf.task_eager_propagates)
        # Eager: .delay()/.apply_async() run the task in this process, so no worker is needed.
        celery_conf.task_always_eager = celery_conf.task_eager_propagates = True
        try:
            with SandboxServer() as server:
                self.base = server.url
                self.sandbox_base = f"{server.url}/sandbox"
                self.kustomer_endpoints = getattr(settings, "SANDBOX_KUSTOMER_ENDPOINTS", "per_org")
                overrides = {
                    "HELPDESK_OAUTH": {
                        **settings.HELPDESK_OAUTH,
                        # Kustomer: per_org unless SANDBOX_KUSTOMER_ENDPOINTS=seed.
                        "PROVIDERS": provider_settings(
                            self.sandbox_base, kustomer=self.kustomer_endpoints
                        ),
                    },
                    # The server answers on 127.0.0.1 whatever ALLOWED_HOSTS the env set.
                    "ALLOWED_HOSTS": [*settings.ALLOWED_HOSTS, "127.0.0.1"],
                    # This run's sandbox is its own: neither read nor write runserver's file.
                    "HELPDESK_OAUTH_SANDBOX": {
                        **settings.HELPDESK_OAUTH_SANDBOX,
                        "STATE_FILE": None,
                        "CLIENTS": [
                            on_this_server(client, server.url)
                            for client in settings.HELPDESK_OAUTH_SANDBOX.get("CLIENTS", ())
                        ],
                    },
                }
                with override_settings(**overrides), requests.Session() as browser:
                    # Fresh provider state (clients re-read from the settings above).
                    sandbox.reset()
                    call_command("seed_sandbox_apps", stdout=self.stdout)
                    self.browser = browser
                    self.stdout.write(
                        f"\nSandbox providers served by this project at {self.sandbox_base}; "
                        "Celery runs tasks eagerly (in this process, no worker needed).\n"
                    )
                    yield
        finally:
            celery_conf.task_always_eager, celery_conf.task_eager_propagates = eager
            sandbox.reset()  # runserver's sandbox again: settings and STATE_FILE
            call_command("seed_sandbox_apps", stdout=io.StringIO())
            self.stdout.write(
                "\nThe sandbox apps match runserver's sandbox again (seed_sandbox_apps): "
                "`python example_project/manage.py runserver` to click through."
            )

    # -- output -------------------------------------------------------------------------

    @contextlib.contextmanager
    def step(self, number: int, title: str) -> Iterator[None]:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n{number}. {title}"))
        try:
            yield
        except CommandError:
            raise
        except Exception as exc:
            raise CommandError(f"Step {number} ({title}) failed: {safe_reason(exc)}") from None
        self.stdout.write(self.style.SUCCESS(f"   ✓ step {number} succeeded"))
        self.done.append(f"{number}. {title}")

    def say(self, line: str) -> None:
        self.stdout.write(f"   {line}")

    # -- the browser ----------------------------------------------------------------------

    def install_url(self, slug: str) -> str:
        return self.base + reverse("helpdesk_oauth:install", args=[slug])

    def get(self, url: str, **params: str) -> requests.Response:
        return self.browser.get(url, params=params, allow_redirects=False, timeout=TIMEOUT)

    def browser_install(
        self,
        app: ProviderApp,
        params: dict[str, str],
        consent_org: str | None = None,
        tenant: str = TENANT,
        verbose: bool = True,
    ) -> Installation:
        """install URL → consent page → Allow → callback, checking each hop; the
        installation of ``tenant`` (typed, or learnt after the exchange)."""
        say = self.say if verbose else (lambda line: None)
        start = self.get(self.install_url(app.slug), **params)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        expect(start.status_code == 302, f"install answered {start.status_code}, not 302")
        authorize = start.headers["Location"]
        expect(
            authorize.startswith(self.sandbox_base),
            "the install did not redirect to the sandbox provider",
        )
        say(
            f"GET {path_of(start.url)}?{query} → 302 to the {app.provider_spec.name} consent "
            f"page {path_of(authorize)}"
        )
        decision = consent(self.browser, start, org=consent_org, timeout=TIMEOUT)
        expect(decision.status_code == 302, f"consent answered {decision.status_code}, not 302")
        callback = urljoin(decision.url, decision.headers["Location"])
        expect(
            path_of(callback) == reverse("helpdesk_oauth:callback", args=[app.slug]),
            "the provider did not redirect back to our callback",
        )
        typed = f" (typed organization {consent_org!r})" if consent_org else ""
        say(f"clicked Allow{typed} → 302 back to {path_of(callback)} with code and state")
        done = self.get(callback)
        expect(done.status_code == 302, f"callback answered {done.status_code}, not 302")
        say(
            f"callback exchanged the code ({self._client_auth(app)}) → 302 to "
            f"{done.headers['Location']}"
        )
        installation = Installation.objects.select_related("app", "token").get(
            app=app, tenant=tenant
        )
        expect(installation.status == Installation.Status.ACTIVE, "installation is not active")
        return installation

    def _client_auth(self, app: ProviderApp) -> str:
        exchanges = sandbox.matching_requests(
            endpoint="token", provider=app.provider, grant_type="authorization_code"
        )
        expect(exchanges and exchanges[-1]["status"] == 200, "the sandbox saw no code exchange")
        kind = exchanges[-1]["client_auth"]
        return {"basic": "HTTP Basic client auth", "body": "client credentials in the body"}.get(
            kind, kind
        )

    def show_token(self, installation: Installation) -> Token:
        token = Token.objects.get(installation=installation)
        self.say(
            f"installation #{installation.pk} {installation.app.slug} @ {installation.tenant}: "
            f"{installation.status}; access token {mask(token.access_token)}, "
            f"refresh token {mask(token.refresh_token)}"
        )
        return token

    def lifecycle(self, app: ProviderApp, tenant: str, api_path: str) -> str:
        """One provider's whole lifecycle through the public paths; its one-line account.

        Install parameters are derived from the definition: the tenant where the install
        URL takes it, a region where the install URL picks the hosts, else nothing (the
        tenant is learnt after the exchange); the consent page asks for the account where
        the authorize host is global.
        """
        spec = app.provider_spec
        name = spec.name
        after_exchange = bool(getattr(spec, "tenant_after_exchange", False))
        params = {} if after_exchange else {spec.tenant_params[0]: tenant}
        if spec.regions and not spec.callback_region and DEMO_REGION in spec.regions:
            params[spec.region_param] = DEMO_REGION
        asks = "{tenant}" not in spec.endpoint_template("authorize_url")
        installation = self.browser_install(
            app, params, consent_org=tenant if asks else None, tenant=tenant, verbose=False
        )
        how = "learnt after the exchange" if after_exchange else f"?{spec.tenant_params[0]}="
        region = (installation.connection_config or {}).get("region")
        if region:
            # Zoho Desk: the data centre named by the callback's accounts-server.
            how += f", region {region}" + (" from the callback" if spec.callback_region else "")
        installed = f"installed @ {tenant} ({how})"

        with installation.api_session() as api:
            response = api.get(api_path)
        expect(response.status_code == 200, f"{name} API answered {response.status_code}")
        called = f"GET {api_path} → 200"

        before = Token.objects.get(installation=installation)
        if before.expires_at is None:
            expect(not before.refresh_token, f"{name}: a never-expiring token with a refresh token")
            expect(
                installation.pk not in set(tasks.due_installation_ids()),
                f"{name}: a never-expiring token is due for refresh",
            )
            refreshed = "never expires (no refresh token, never swept)"
        else:
            Token.objects.filter(pk=before.pk).update(expires_at=timezone.now())
            tasks.refresh_installation_token.delay(installation.pk).get()
            after = Token.objects.get(installation=installation)
            expect(after.refresh_count == before.refresh_count + 1, f"{name} was not refreshed")
            expect(after.access_token != before.access_token, f"{name}: same access token")
            expect(after.expires_at > timezone.now(), f"{name}: expiry not renewed")
            rotated = after.refresh_token != before.refresh_token
            refreshed = (
                f"refreshed, expires in {duration(after.expires_at - timezone.now())}, "
                f"refresh token {'rotated' if rotated else 'kept'}"
            )

        result = uninstall(installation)
        installation.refresh_from_db()
        expect(
            installation.status == Installation.Status.UNINSTALLED
            and not Token.objects.filter(installation=installation).exists(),
            f"{name} is not uninstalled or still has tokens",
        )
        if result.revoked:
            uninstalled = "uninstalled, revoked at the provider"
        elif result.pending is not None:
            uninstalled = "uninstalled, revocation queued"
        else:
            uninstalled = "uninstalled, nothing to revoke (tokens erased)"
        return f"{name + ':':<11} {installed} · {called} · {refreshed} · {uninstalled}"

    # -- the steps ------------------------------------------------------------------------

    def _run(self) -> None:
        gorgias_app = ProviderApp.objects.get(slug=GORGIAS_SLUG)
        kustomer_app = ProviderApp.objects.get(slug=KUSTOMER_SLUG)

        with self.step(1, "Gorgias install (the marketplace sends ?account=acme)"):
            gorgias = self.browser_install(gorgias_app, {"account": TENANT})
            token = self.show_token(gorgias)
            claims = unverified_claims(token.access_token) or {}
            expect("exp" in claims, "the Gorgias access token is not a JWT with exp")
            exp = datetime.fromtimestamp(claims["exp"], tz=UTC)
            expect(
                abs((token.expires_at - exp).total_seconds()) < 1,
                "expires_at does not come from the JWT exp",
            )
            expect(token.expires_at > timezone.now() + timedelta(hours=23), "expiry is not ~24 h")
            self.say(
                f"expires at {token.expires_at:%Y-%m-%d %H:%M} UTC, in "
                f"{duration(token.expires_at - timezone.now())}: taken from the access token's "
                "JWT exp claim (Gorgias answers expires_in: 0)"
            )

        with self.step(2, "Kustomer install (the org is asked before the flow)"):
            form = self.get(self.install_url(kustomer_app.slug))
            expect(
                form.status_code == 200 and 'name="org"' in form.text,
                "the install URL without ?org= did not show the organization form",
            )
            self.say(
                f"GET {path_of(form.url)} without ?org= → 200, the package's form asking the "
                "Kustomer organization name"
            )
            # Per-org endpoints: the consent page is the org's own. With the seed's global
            # set it asks for the org, which is confirmed on its API host after the exchange.
            seed = self.kustomer_endpoints == "seed"
            kustomer = self.browser_install(
                kustomer_app, {"org": TENANT}, consent_org=TENANT if seed else None
            )
            token = self.show_token(kustomer)
            lifetime = token.expires_at - token.issued_at
            expect(abs(lifetime.total_seconds() - 86400) < 5, "expiry is not expires_in (24 h)")
            self.say(
                f"expires at {token.expires_at:%Y-%m-%d %H:%M} UTC, in "
                f"{duration(token.expires_at - timezone.now())} (expires_in: 86400)"
            )
            page = self.get(self.base + reverse("integrations"))
            expect(
                page.status_code == 200 and page.text.count("badge active") >= 2,
                "the integrations page does not list both installations as active",
            )
            self.say("the integrations page (/) lists both installations as active")

        with self.step(3, "API calls through installation.api_session()"):
            with gorgias.api_session() as api:
                response = api.get("account")
                expect(response.status_code == 200, f"Gorgias API answered {response.status_code}")
                account = response.json()
            self.say(
                f"Gorgias GET {path_of(response.url)} → 200: domain={account['domain']!r}, "
                f"status={account['status']!r}"
            )
            with kustomer.api_session() as api:
                response = api.get("users/current")
                expect(response.status_code == 200, f"Kustomer API answered {response.status_code}")
                user = response.json()["data"]["attributes"]
            self.say(
                f"Kustomer GET {path_of(response.url)} → 200: email={user['email']!r}, "
                f"org={user['org']!r}"
            )

        with self.step(4, "Refresh through Celery (refresh_expiring_tokens)"):
            ours = [gorgias.pk, kustomer.pk]
            before = {t.installation_id: t for t in Token.objects.filter(installation__in=ours)}
            # Make both tokens due now, as if 24 h had passed.
            Token.objects.filter(installation__in=ours).update(expires_at=timezone.now())
            others = set(tasks.due_installation_ids()) - set(ours)
            if others:
                # The sweep would send their refresh tokens to this run's temporary sandbox,
                # which never issued them: it would answer invalid_grant and they would be
                # marked needs_reauth. Refresh only ours, through the same per-installation task.
                self.say(
                    f"marked both tokens as expiring now; {len(others)} other installation(s) "
                    "in this database are due too, so instead of the beat sweep only ours run"
                )
                for pk in ours:
                    tasks.refresh_installation_token.delay(pk).get()
                self.say("refresh_installation_token ran for both, eagerly")
            else:
                self.say("marked both tokens as expiring now; running the beat task")
                dispatched = tasks.refresh_expiring_tokens.delay().get()
                self.say(
                    f"refresh_expiring_tokens dispatched {dispatched} refresh_installation_token "
                    "task(s), run eagerly"
                )
            after = {t.installation_id: t for t in Token.objects.filter(installation__in=ours)}
            for pk in ours:
                old, new = before[pk], after[pk]
                expect(
                    new.refresh_count == old.refresh_count + 1, f"installation {pk} not refreshed"
                )
                expect(new.access_token != old.access_token, "the access token did not change")
                expect(new.expires_at > timezone.now() + timedelta(hours=23), "expiry not renewed")
            g_old, g_new = before[gorgias.pk], after[gorgias.pk]
            k_old, k_new = before[kustomer.pk], after[kustomer.pk]
            expect(g_new.refresh_token == g_old.refresh_token, "Gorgias refresh token changed")
            self.say(
                f"Gorgias: new access token {mask(g_old.access_token)} → "
                f"{mask(g_new.access_token)}; kept its refresh token "
                f"{mask(g_new.refresh_token)} (Gorgias does not rotate)"
            )
            expect(k_new.refresh_token != k_old.refresh_token, "Kustomer refresh token not rotated")
            spent = sandbox.refresh_tokens.get(k_old.refresh_token)
            expect(spent is not None and spent.spent, "the sandbox did not spend the old token")
            self.say(
                f"Kustomer: new access token {mask(k_old.access_token)} → "
                f"{mask(k_new.access_token)}; refresh token rotated "
                f"{mask(k_old.refresh_token)} → {mask(k_new.refresh_token)} "
                "(the sandbox now refuses the old one)"
            )
            refreshes = {
                r["provider"]: r["client_auth"]
                for r in sandbox.matching_requests(endpoint="token", grant_type="refresh_token")
                if r["status"] == 200
            }
            expect(
                refreshes == {"gorgias": "basic", "kustomer": "body"},
                f"unexpected refresh requests at the sandbox: {refreshes}",
            )
            self.say(
                "the sandbox saw one refresh_token grant each (Gorgias: HTTP Basic, "
                "Kustomer: body credentials)"
            )

        with self.step(5, "Operations: rotate the Kustomer client secret, check health"):
            app = ProviderApp.objects.get(pk=kustomer.app_id)
            old_secret = app.client_secret
            api_key = next(iter(settings.HELPDESK_OAUTH_SANDBOX["API_KEYS"]))
            # What the admin's "Rotate client secret" form and
            # `helpdesk_oauth_rotate_secret kustomer-sandbox --api-key-file F` both call.
            app = rotate_via_provider(app, api_key, actor="walkthrough")
            expect(app.client_secret != old_secret, "the secret did not change")
            self.say(
                f"POST /v1/apps/available/{app.provider_app_name}/secret with an admin API key "
                f"(used once, not stored) → new secret {mask(app.client_secret)}; the previous "
                f"one ({mask(old_secret)}) is kept encrypted for the grace window"
            )
            Token.objects.filter(installation=kustomer).update(expires_at=timezone.now())
            tasks.refresh_installation_token.delay(kustomer.pk).get()
            last = sandbox.matching_requests(endpoint="token", grant_type="refresh_token")[-1]
            expect(last["status"] == 200, "the refresh with the new secret was refused")
            self.say("the next Kustomer refresh authenticated with the new secret → 200")
            status = io.StringIO()
            call_command("helpdesk_oauth_status", stdout=status)
            self.say("helpdesk_oauth_status (what staff see; never a token):")
            for line in status.getvalue().splitlines():
                self.say(f"  {line}")

        with self.step(6, "Uninstall through django_helpdesk_oauth.services.uninstall"):
            gorgias_refresh = Token.objects.get(installation=gorgias).refresh_token
            result = uninstall(gorgias)
            revokes = sandbox.matching_requests(
                endpoint="revoke", provider="gorgias", tenant=TENANT
            )
            expect(result.revoked and revokes, "Gorgias did not confirm the revocation")
            last = revokes[-1]
            expect(
                last["client_auth"] == "basic" and last["status"] == 200,
                "the revoke request did not use HTTP Basic or was refused",
            )
            expect(last["token"] == gorgias_refresh, "the revoke did not send the refresh token")
            expect(sandbox.refresh_tokens[gorgias_refresh].revoked, "token not revoked")
            self.say(
                f"Gorgias: POST {last['path']} with HTTP Basic client auth and "
                f"token={mask(gorgias_refresh)} → {last['status']}; the sandbox revoked it"
            )
            result = uninstall(kustomer)
            expect(not result.revoked and result.pending is None, "unexpected Kustomer revoke")
            expect(
                sandbox.count(endpoint="revoke", provider="kustomer") == 0,
                "a revoke request went to Kustomer",
            )
            self.say("Kustomer: no revoke endpoint, so nothing was sent; tokens deleted locally")
            for installation in (gorgias, kustomer):
                installation.refresh_from_db()
                expect(
                    installation.status == Installation.Status.UNINSTALLED
                    and not Token.objects.filter(installation=installation).exists(),
                    f"installation {installation.pk} still has tokens or is not uninstalled",
                )
            self.say("both installations are marked uninstalled and their tokens are erased")

        with self.step(7, "Every provider: install, API call, refresh, uninstall"):
            for provider, (slug, tenant, api_path) in EVERY_PROVIDER.items():
                app = ProviderApp.objects.get(slug=slug)
                expect(app.provider == provider, f"{slug} is not a {provider} app")
                self.say(self.lifecycle(app, tenant, api_path))

        with self.step(8, "Summary"):
            for line in self.done:
                self.say(f"✓ {line}")
            self.say("No token or secret was printed: at most the last 4 characters (••••abcd).")
        self.stdout.write(self.style.SUCCESS("\nWalkthrough complete."))
