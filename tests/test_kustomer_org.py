"""Kustomer: a code from another org can't land on this org's installation (issue 9 §5).

With the seed's global endpoints one token endpoint takes every org's codes and
the consent page lets the user pick the org, so after the exchange the org is
confirmed on its own API host before anything is stored. With the per-org
default the org's token host refuses another org's code by itself.
"""

from __future__ import annotations

import pytest

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.providers.kustomer import GLOBAL_ENDPOINTS, PER_ORG_ENDPOINTS
from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.testing import consent
from tests import flows

pytestmark = pytest.mark.django_db(transaction=True)

MISMATCH_TEXT = "another Kustomer organization"


@pytest.fixture
def global_set(sandbox, settings):
    """The seed's global Kustomer endpoints (``api.apps.kustomerapp.com``) in the sandbox."""
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "PROVIDERS": provider_settings(sandbox.base, kustomer="seed"),
    }
    return sandbox


def install(browser, sandbox, app, *, tenant: str, consent_org: str):
    return flows.install(browser, sandbox, app.slug, {"org": tenant}, consent_org=consent_org)


def snapshot() -> list[tuple]:
    """Every Installation and Token row, as compared before/after a refused callback."""
    installations = [
        (i.pk, i.tenant, i.status, i.installed_at, i.updated_at, i.installed_by_id)
        for i in Installation.objects.order_by("pk")
    ]
    tokens = [
        (t.pk, t.installation_id, t.access_token, t.refresh_token, t.expires_at)
        for t in Token.objects.order_by("pk")
    ]
    return installations + tokens


def exchanges(sandbox) -> list[dict]:
    return sandbox.state.matching_requests(endpoint="token")


# -- the definition ---------------------------------------------------------------


def test_per_org_endpoints_are_the_default_and_need_no_org_check(settings):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {}}
    provider = get_provider("kustomer")
    assert (
        provider.endpoint("token_url", "acmek") == "https://acmek.api.kustomerapp.com/oauth/token"
    )
    assert provider.endpoint("authorize_url", "acmek") == (
        "https://acmek.kustomerapp.com/oauth/authorize"
    )
    assert provider.endpoint_template("token_url") == PER_ORG_ENDPOINTS["token_url"]
    assert provider.tenant_check_required() is False


def test_the_global_set_is_selectable_and_needs_the_org_check(settings):
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "PROVIDERS": {"kustomer": GLOBAL_ENDPOINTS},
    }
    provider = get_provider("kustomer")
    assert provider.endpoint("token_url", "acmek") == "https://api.apps.kustomerapp.com/oauth/token"
    assert provider.tenant_check_required() is True
    assert provider.tenant_check_url("acmek") == (
        "https://acmek.api.kustomerapp.com/v1/users/current"
    )


def test_gorgias_needs_no_org_check():
    assert get_provider("gorgias").tenant_check_required() is False


@pytest.mark.parametrize(
    "answer, expected",
    [
        (
            {
                "data": {"relationships": {"org": {"data": {"type": "org", "id": "o1"}}}},
                "included": [{"type": "org", "id": "o1", "attributes": {"name": "acmek"}}],
            },
            "acmek",
        ),
        # The user resource alone names its org by id only: the host decides.
        ({"data": {"relationships": {"org": {"data": {"type": "org", "id": "o1"}}}}}, None),
        # An included org that is not the user's org is not read.
        (
            {
                "data": {"relationships": {"org": {"data": {"id": "o1"}}}},
                "included": [{"type": "org", "id": "o2", "attributes": {"name": "evilk"}}],
            },
            None,
        ),
        ([], None),
        ("acmek", None),
        (None, None),
        ({"data": "x"}, None),
        ({"data": {"relationships": []}}, None),
        ({"data": {"relationships": {"org": {"data": {"id": 7}}}}, "included": "x"}, None),
        (
            {
                "data": {"relationships": {"org": {"data": {"id": "o1"}}}},
                "included": [{"type": "org", "id": "o1", "attributes": {"name": 5}}],
            },
            None,
        ),
    ],
)
def test_the_org_is_read_from_the_answer_only_where_it_is_named(answer, expected):
    assert get_provider("kustomer").tenant_from_identity(answer) == expected


# -- the global set over real HTTP ------------------------------------------------------


def test_global_consent_in_the_same_org_installs_after_the_org_check(
    global_set, browser, kustomer_app
):
    response = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek")
    assert response.status_code == 302, response.text
    installation = Installation.objects.get()
    assert (installation.tenant, installation.status) == ("acmek", "active")
    [exchange] = exchanges(global_set)
    assert exchange["tenant"] is None  # redeemed at the global token endpoint
    [check] = global_set.state.matching_requests(endpoint="api")
    assert check["tenant"] == "acmek" and check["status"] == 200
    assert check["path"].endswith("/kustomer/acmek/api/v1/users/current")


def test_global_consent_in_another_org_is_refused_and_changes_nothing(
    global_set, browser, kustomer_app
):
    assert (
        install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek").status_code
        == 302
    )
    victim = Token.objects.get()
    before = snapshot()

    response = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="evilk")

    assert response.status_code == 403
    assert MISMATCH_TEXT in response.text
    # Nothing written: no evilk row, acmek's installation and refresh token as they were.
    assert snapshot() == before
    assert not Installation.objects.filter(tenant="evilk").exists()
    assert Token.objects.get().refresh_token == victim.refresh_token
    assert not AuthorizationRequest.objects.exists()  # the state is spent all the same
    # The provider saw the two exchanges and nothing else at its token endpoint:
    # no refresh of the victim's token, nothing stored on our side beyond the exchange.
    assert [(r["grant_type"], r["status"]) for r in exchanges(global_set)] == [
        ("authorization_code", 200),
        ("authorization_code", 200),
    ]
    # acmek's API host refused evilk's token.
    last_check = global_set.state.matching_requests(endpoint="api")[-1]
    assert (last_check["tenant"], last_check["status"]) == ("acmek", 401)
    # The victim's refresh token is still live; evilk's tokens are only dropped
    # (Kustomer has no revoke endpoint), and never shown.
    live = global_set.state.live_refresh_tokens(provider="kustomer", tenant="acmek")
    assert [t.token for t in live] == [victim.refresh_token]
    [foreign] = global_set.state.live_refresh_tokens(provider="kustomer", tenant="evilk")
    assert foreign.token not in response.text


def test_global_consent_in_another_org_on_a_first_install_writes_nothing(
    global_set, browser, kustomer_app
):
    response = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="evilk")
    assert response.status_code == 403 and MISMATCH_TEXT in response.text
    assert not Installation.objects.exists() and not Token.objects.exists()


def test_a_refused_org_does_not_block_a_later_install_in_the_right_org(
    global_set, browser, kustomer_app
):
    refused = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="evilk")
    assert refused.status_code == 403
    again = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek")
    assert again.status_code == 302
    assert Installation.objects.get().tenant == "acmek"


def test_an_answer_naming_another_org_is_refused(global_set, browser, kustomer_app):
    """The org's host answers 200, but the answer names another org (neighbour of the 401)."""
    body = {
        "data": {
            "type": "user",
            "id": "u1",
            "relationships": {"org": {"data": {"type": "org", "id": "o2"}}},
        },
        "included": [{"type": "org", "id": "o2", "attributes": {"name": "EvilK"}}],
    }
    global_set.state.inject(endpoint="api", status=200, body=body)
    response = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek")
    assert response.status_code == 403 and MISMATCH_TEXT in response.text
    assert not Installation.objects.exists() and not Token.objects.exists()


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503, "headers": {"Retry-After": "30"}},
        {"status": 429, "headers": {"Retry-After": "Mon Nov 30 09:43:57 2026"}},
        {"status": 404},
        {"status": 403},
        # A redirect is not followed: the Bearer token never leaves for another host.
        {"status": 302, "headers": {"Location": "https://attacker.example/users/current"}},
        {"status": 200, "body": "<html>not json</html>"},
        {"status": 200, "body": "x" * ((1 << 20) + 10)},
    ],
    ids=["500", "503", "429", "404", "403", "redirect", "html", "over-1MiB"],
)
def test_a_failed_org_check_is_a_502_and_changes_nothing(global_set, browser, kustomer_app, fault):
    assert (
        install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek").status_code
        == 302
    )
    before = snapshot()
    global_set.state.inject(endpoint="api", **fault)
    response = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek")
    assert response.status_code == 502
    assert "could not confirm" in response.text
    assert snapshot() == before


def test_an_org_check_timeout_is_a_502_and_writes_nothing(
    global_set, browser, kustomer_app, settings
):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "HTTP_TIMEOUT": 1}
    # The org's API host answers only after the client's deadline.
    global_set.state.inject(endpoint="api", status=None, delay=3)
    response = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek")
    assert response.status_code == 502
    assert not Installation.objects.exists() and not Token.objects.exists()


def test_a_shared_api_host_cannot_confirm_the_org(global_set, browser, kustomer_app, settings):
    """An ``api_base_url`` without ``{tenant}`` accepts any org's token: unless the
    answer names the org, the org is unconfirmed and nothing is stored."""
    providers = provider_settings(global_set.base, kustomer="seed")
    providers["kustomer"]["api_base_url"] = f"{global_set.base}/kustomer/acmek/api/v1/"
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": providers}
    global_set.state.inject(endpoint="api", status=200, body={"data": {"type": "user", "id": "u"}})
    response = install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek")
    assert response.status_code == 502
    assert not Installation.objects.exists()
    # When the answer does name the org, it confirms.
    assert (
        install(browser, global_set, kustomer_app, tenant="acmek", consent_org="acmek").status_code
        == 302
    )


# -- the per-org default ---------------------------------------------------------------------


def test_per_org_default_makes_no_org_check(sandbox, browser, kustomer_app):
    response = install(browser, sandbox, kustomer_app, tenant="acmek", consent_org="acmek")
    assert response.status_code == 302
    [exchange] = exchanges(sandbox)
    assert exchange["tenant"] == "acmek" and "/kustomer/acmek/api/oauth/token" in exchange["path"]
    assert sandbox.state.count(endpoint="api") == 0


def _code_from(browser, sandbox, app, org: str) -> str:
    """A code the user obtains by consenting in ``org`` (a flow of its own)."""
    start = browser.get(
        f"{sandbox.url}/oauth/{app.slug}/install/",
        params={"org": org},
        allow_redirects=False,
        timeout=10,
    )
    decision = consent(browser, start, org=org)
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(decision.headers["Location"]).query)["code"][0]


def test_per_org_a_code_from_another_org_is_refused_at_this_orgs_token_host(
    sandbox, browser, kustomer_app
):
    from urllib.parse import parse_qs, urlsplit

    assert (
        install(browser, sandbox, kustomer_app, tenant="acmek", consent_org="acmek").status_code
        == 302
    )
    before = snapshot()
    # The user starts the flow for acmek…
    start = browser.get(
        f"{sandbox.url}/oauth/{kustomer_app.slug}/install/",
        params={"org": "acmek"},
        allow_redirects=False,
        timeout=10,
    )
    own = consent(browser, start, org="acmek")
    state = parse_qs(urlsplit(own.headers["Location"]).query)["state"][0]
    # …and comes back with a code evilk issued.
    foreign_code = _code_from(browser, sandbox, kustomer_app, "evilk")
    callback = f"{sandbox.url}/oauth/{kustomer_app.slug}/callback/"
    response = browser.get(
        callback, params={"code": foreign_code, "state": state}, allow_redirects=False, timeout=10
    )

    assert response.status_code == 400
    assert snapshot() == before
    assert not Installation.objects.filter(tenant="evilk").exists()
    refused = exchanges(sandbox)[-1]
    assert (refused["tenant"], refused["status"]) == ("acmek", 400)
    # acmek's token host refused it before redeeming: evilk's code was never spent.
    assert sandbox.state.codes[foreign_code].used is False
