"""A provider that lets only administrators approve an app (needed by Front).

``Provider.admin_consent`` (client side) names the ``?error=`` code and the words of
the provider's ``error_description`` that mean "you are not an administrator";
``Profile.admin_consent`` + ``state.consent_by_admin = False`` make the sandbox refuse
the approval that way. Driven over loopback with Testdesk (tests/providers/testdesk.py)
given both knobs: the callback answers a 403 page that says what to do, nothing is
stored, no code is exchanged; a Deny and every other ``?error=`` keep their meaning.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, ProviderApp, Token
from django_helpdesk_oauth.providers import registry
from django_helpdesk_oauth.providers.base import AdminConsent
from django_helpdesk_oauth.sandbox import profiles
from django_helpdesk_oauth.sandbox.profile import AdminOnlyConsent
from tests import flows
from tests.providers import testdesk
from tests.sandbox import profile_testdesk

REFUSAL = "You need to be an administrator of your Testdesk workspace to authorize this request."
ADMIN_PAGE = "Only an administrator of the Testdesk account can approve this app"


class AdminOnlyTestdesk(testdesk.TestdeskProvider):
    __test__ = False
    admin_consent = AdminConsent("access_denied", "need to be an administrator")


@pytest.fixture(params=["declared", "undeclared"], autouse=True)
def declared(request):
    """Testdesk whose definition declares the refusal (or not), its profile emulating it."""
    provider = AdminOnlyTestdesk if request.param == "declared" else testdesk.TestdeskProvider
    registry["testdesk"] = provider()
    profile = dataclasses.replace(
        profile_testdesk.PROFILE, admin_consent=AdminOnlyConsent(description=REFUSAL)
    )
    profiles.register(profile)
    yield request.param == "declared"
    profiles.unregister("testdesk")
    registry.pop("testdesk", None)


@pytest.fixture
def app(declared, sandbox) -> ProviderApp:
    sandbox.state.register_client("testdesk", "td-client", "td-secret-0001", title="Admin App")
    return ProviderApp.objects.create(
        slug="testdesk",
        provider="testdesk",
        name="Testdesk",
        client_id="td-client",
        client_secret="td-secret-0001",
    )


def nothing_stored(sandbox) -> bool:
    return (
        not Installation.objects.exists()
        and not Token.objects.exists()
        and sandbox.state.matching_requests(endpoint="token") == []
    )


@pytest.mark.django_db(transaction=True)
def test_a_non_admin_gets_a_403_page_saying_what_to_do(sandbox, browser, app, declared):
    sandbox.state.consent_by_admin = False
    response = flows.install(browser, sandbox, app.slug, {}, consent_org="acme")
    assert response.status_code == 403
    if declared:
        assert ADMIN_PAGE in response.text and "ask an administrator" in response.text
        assert "access was not granted" not in response.text
    else:
        # A definition that declares nothing reads it as the Deny the code says.
        assert "access was not granted" in response.text
    assert REFUSAL not in response.text  # the provider's words are only logged
    assert nothing_stored(sandbox) and not AuthorizationRequest.objects.exists()
    # An administrator of the same account then installs it.
    sandbox.state.consent_by_admin = True
    again = flows.install(browser, sandbox, app.slug, {}, consent_org="acme")
    assert again.status_code == 302 and Installation.objects.get().tenant == "acme"


@pytest.mark.django_db(transaction=True)
def test_an_admins_deny_is_still_a_deny(sandbox, browser, app, declared):
    response = flows.install(browser, sandbox, app.slug, {}, allow=False, consent_org="acme")
    assert response.status_code == 403 and "access was not granted" in response.text
    assert ADMIN_PAGE not in response.text and nothing_stored(sandbox)


def callback_with(browser, sandbox, app, **params: str):
    """Start an install, then come back with ``params`` instead of the provider's answer."""
    start = browser.get(
        f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
    )
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    return browser.get(
        f"{sandbox.url}/oauth/{app.slug}/callback/",
        params={"state": state, **params},
        allow_redirects=False,
        timeout=10,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"error": "access_denied", "error_description": REFUSAL.upper()}, 403, ADMIN_PAGE),
        (
            {"error": "access_denied", "error_description": "x\nyou NEED to be an administrator"},
            403,
            ADMIN_PAGE,
        ),
        ({"error": "access_denied"}, 403, "access was not granted"),
        ({"error": "access_denied", "error_description": "The user denied"}, 403, "not granted"),
        ({"error": "invalid_request", "error_description": REFUSAL}, 400, "refused"),
        ({"error": "server_error", "error_description": REFUSAL}, 502, "had a problem"),
    ],
    ids=["upper-case", "newline", "no-description", "other-words", "other-code", "server"],
)
def test_only_the_declared_code_and_words_mean_admin_only(
    sandbox, browser, app, declared, params, status, words
):
    if not declared and words == ADMIN_PAGE:
        words, status = "access was not granted", 403
    response = callback_with(browser, sandbox, app, **params)
    assert response.status_code == status
    assert words in response.text
    assert nothing_stored(sandbox)


def test_the_rule_needs_a_code_and_words():
    with pytest.raises(ValueError):
        AdminConsent("access_denied", "  ")
    with pytest.raises(ValueError):
        AdminConsent("", "administrator")
    rule = AdminConsent("access_denied", "administrator")
    assert rule.matches("access_denied", "Be an ADMINISTRATOR first")
    assert not rule.matches("access_denied", None)
    assert not rule.matches("access_denied", ["administrator"])
    assert not rule.matches("invalid_request", "administrator")
    # Only the words documented (Front): any code carrying them, never a missing one.
    words_only = AdminConsent(None, "administrator")
    assert words_only.matches("unauthorized", "You need to be an administrator")
    assert not words_only.matches(None, "You need to be an administrator")
    assert not words_only.matches("access_denied", "The user denied")
