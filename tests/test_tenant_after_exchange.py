"""Tenant after the exchange (issue 10, DESIGN.md "Provider model v2"): the install URL
names no tenant; after the code exchange it comes from the token response (a declared
field) or an identity call, validated by the provider's pattern, before anything is
stored. Over loopback HTTP against test-only sandbox profiles (tests/regiondesk.py).
"""

from __future__ import annotations

import logging

import pytest

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token
from tests import flows
from tests.regiondesk import registered

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def regiondesk(sandbox, settings):
    with registered(sandbox, settings, "regiondesk") as app:
        yield app


@pytest.fixture
def hubdesk(sandbox, settings):
    with registered(sandbox, settings, "hubdesk") as app:
        yield app


def _install(browser, sandbox, app, params=None, org="ws-42"):
    return flows.install(browser, sandbox, app.slug, params or {}, consent_org=org)


def test_no_tenant_on_the_install_url_then_the_identity_call_names_it(sandbox, browser, regiondesk):
    start = browser.get(
        f"{sandbox.url}/oauth/{regiondesk.slug}/install/", allow_redirects=False, timeout=10
    )
    assert start.status_code == 302  # no tenant asked for, no 400
    assert AuthorizationRequest.objects.get().tenant == ""  # not known yet

    response = _install(browser, sandbox, regiondesk)
    assert response.status_code == 302, response.text
    installation = Installation.objects.get()
    assert (installation.tenant, installation.status) == ("ws-42", "active")
    assert installation.token.access_token
    # One identity call, in the API's own scheme, after the exchange.
    identity = sandbox.state.matching_requests(provider="regiondesk", endpoint="api")
    assert [r["path"].rsplit("/", 1)[-1] for r in identity] == ["me"]
    assert [r["status"] for r in identity] == [200]


def test_the_token_response_names_the_tenant_without_an_identity_call(sandbox, browser, hubdesk):
    response = _install(browser, sandbox, hubdesk, org="12345")
    assert response.status_code == 302, response.text
    assert Installation.objects.get().tenant == "12345"
    assert sandbox.state.count(provider="hubdesk", endpoint="api") == 0


def test_reinstalling_the_same_tenant_updates_never_duplicates(sandbox, browser, regiondesk):
    assert _install(browser, sandbox, regiondesk).status_code == 302
    first = Installation.objects.get()
    old_access = first.token.access_token
    Installation.objects.filter(pk=first.pk).update(status="needs_reauth")

    assert _install(browser, sandbox, regiondesk).status_code == 302
    again = Installation.objects.get()
    assert again.pk == first.pk and again.status == "active"
    assert Token.objects.count() == 1 and again.token.access_token != old_access

    # Another workspace is another installation.
    assert _install(browser, sandbox, regiondesk, org="ws-7").status_code == 302
    assert sorted(Installation.objects.values_list("tenant", flat=True)) == ["ws-42", "ws-7"]


@pytest.mark.parametrize("org", ["acme", "ws1", "ws-1234567890123"])
def test_an_identity_answer_naming_an_invalid_tenant_writes_nothing(
    sandbox, browser, regiondesk, caplog, org
):
    caplog.set_level(logging.WARNING, logger="django_helpdesk_oauth")
    response = _install(browser, sandbox, regiondesk, org=org)
    assert response.status_code == 502
    assert not Installation.objects.exists() and not Token.objects.exists()
    assert not AuthorizationRequest.objects.exists()  # the state is spent all the same
    assert f"invalid tenant {org!r}" in caplog.text


def test_a_token_response_naming_an_invalid_tenant_writes_nothing(sandbox, browser, hubdesk):
    response = _install(browser, sandbox, hubdesk, org="acme")
    assert response.status_code == 502
    assert not Installation.objects.exists() and not Token.objects.exists()


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (401, None), (200, {"workspace": None}), (200, {"workspace": {"id": 42}})],
)
def test_a_failed_or_silent_identity_call_writes_nothing(
    sandbox, browser, regiondesk, status, body
):
    sandbox.state.inject("api", status=status, body=body, provider="regiondesk")
    response = _install(browser, sandbox, regiondesk)
    assert response.status_code == 502
    assert not Installation.objects.exists() and not Token.objects.exists()


def test_a_tenant_given_on_the_install_url_must_be_the_one_named(sandbox, browser, regiondesk):
    refused = _install(browser, sandbox, regiondesk, params={"tenant": "ws-1"}, org="ws-42")
    assert refused.status_code == 403
    assert not Installation.objects.exists()
    accepted = _install(browser, sandbox, regiondesk, params={"tenant": "ws-42"}, org="ws-42")
    assert accepted.status_code == 302
    assert Installation.objects.get().tenant == "ws-42"


def test_an_invalid_tenant_on_the_install_url_is_refused_before_the_flow(
    sandbox, browser, regiondesk
):
    start = browser.get(
        f"{sandbox.url}/oauth/{regiondesk.slug}/install/",
        params={"tenant": "evil.com/x"},
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 400
    assert not AuthorizationRequest.objects.exists()


def test_gorgias_still_needs_its_account_before_the_flow(sandbox, browser, gorgias_app):
    start = browser.get(
        f"{sandbox.url}/oauth/{gorgias_app.slug}/install/", allow_redirects=False, timeout=10
    )
    assert start.status_code == 400
    assert not AuthorizationRequest.objects.exists()
