"""Fixtures shared by the suite: provider apps, a browser session, the sandbox."""

from __future__ import annotations

import pytest

from django_helpdesk_oauth.models import ProviderApp

GORGIAS_SECRET = "gorgias-test-secret-0001"
KUSTOMER_SECRET = "kustomer-test-secret-0001"


@pytest.fixture
def gorgias_app(db):
    return ProviderApp.objects.create(
        slug="gorgias",
        provider="gorgias",
        name="Test Gorgias App",
        client_id="gorgias-test-client",
        client_secret=GORGIAS_SECRET,
    )


@pytest.fixture
def kustomer_app(db):
    return ProviderApp.objects.create(
        slug="kustomer",
        provider="kustomer",
        name="Test Kustomer App",
        client_id="kustomer-test-client",
        client_secret=KUSTOMER_SECRET,
    )


@pytest.fixture
def sandbox(live_server, settings):
    """The sandbox providers, served with the project by pytest-django's live server."""
    from types import SimpleNamespace

    from django_helpdesk_oauth.sandbox.endpoints import provider_settings
    from django_helpdesk_oauth.sandbox.state import state

    state.reset()
    base = live_server.url + "/sandbox"
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": provider_settings(base)}
    yield SimpleNamespace(state=state, base=base, url=live_server.url)
    state.reset()


@pytest.fixture
def browser():
    """A cookie-keeping HTTP client playing the user's browser."""
    import requests

    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def _empty_token_cache():
    """api_session()'s per-process token cache starts each test empty: a row written by
    a raw UPDATE or bulk_create in one test (no signal) must not be served in the next,
    where SQLite may reuse the primary key."""
    from django_helpdesk_oauth.session import token_cache

    token_cache.clear()
    yield
    token_cache.clear()


@pytest.fixture(scope="session", autouse=True)
def celery_app():
    from tests.celery_app import app

    return app


@pytest.fixture
def installed(sandbox, browser):
    """Install an app through the real flow; returns the Installation."""
    from django_helpdesk_oauth.models import Installation
    from tests import flows

    def run(app, tenant="acme"):
        params = {"account": tenant} if app.provider == "gorgias" else {"org": tenant}
        org = tenant if app.provider == "kustomer" else None
        response = flows.install(browser, sandbox, app.slug, params, consent_org=org)
        assert response.status_code == 302, response.text
        return Installation.objects.get(app=app, tenant=tenant)

    return run


@pytest.fixture
def sandbox7200(sandbox):
    """The sandbox with Gorgias and Kustomer access tokens living 7,200 s: a lifetime no
    fallback and no other default produces, so a test can tell where an expiry came from."""
    sandbox.state.lifetimes.update(gorgias=7200, kustomer=7200)
    return sandbox


@pytest.fixture
def failures():
    """Messages of every ``token_refresh_failed`` signal sent during the test."""
    from django_helpdesk_oauth import signals

    seen: list[str] = []

    def receiver(sender, installation, error, will_retry, **kwargs):
        seen.append(str(error))

    signals.token_refresh_failed.connect(receiver)
    yield seen
    signals.token_refresh_failed.disconnect(receiver)
