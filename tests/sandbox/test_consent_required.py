"""No authorize URL of the sandbox grants a code without the user's click.

A GET always shows the consent page, whatever its query says (OpenID's
``prompt=none``, Google's ``approval_prompt=auto``, a ``decision`` or a signed
request smuggled into the URL); only the consent form's POST, with Django's CSRF
token and the page's own signed request, redirects with a code. The sandbox has
no auto-approve path, for tests or otherwise: a test clicks Allow
(``sandbox.testing.consent``).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client

from django_helpdesk_oauth.sandbox import profiles
from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.testing import consent_form
from tests.sandbox.helpers import CHALLENGE, query

CLIENT_ID, SECRET = "consent-client", "consent-secret"
REDIRECT = "https://app.example.com/helpdesk/x/callback/"
#: Parameters other authorization servers read as "do not ask the user".
AUTO_APPROVE = {
    "prompt": "none",
    "approval_prompt": "auto",
    "auto_approve": "1",
    "skip_consent": "true",
    "decision": "allow",
}


def authorize_path(key: str) -> str:
    template = provider_settings("/sandbox")[key]["authorize_url"]
    region = next(iter(profiles.get(key).regions), "us")
    return template.format(tenant="acme", region=region)


def params(key: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "st",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }


@pytest.fixture(autouse=True)
def clients():
    for profile in profiles.BUILTIN:
        state.register_client(profile.key, CLIENT_ID, SECRET, redirect_uris=[REDIRECT])


@pytest.mark.parametrize("key", [p.key for p in profiles.BUILTIN])
def test_every_get_shows_the_consent_page_and_issues_no_code(client, key):
    path = authorize_path(key)
    plain = client.get(f"{path}?{urlencode(params(key))}")
    # A valid signed request of this very page, put in the URL with an Allow.
    signed = consent_form(plain.content.decode())["fields"]["authorization_request"]
    smuggled = params(key, **AUTO_APPROVE, authorization_request=signed)

    again = client.get(f"{path}?{urlencode(smuggled)}")

    for page in (plain, again):
        assert page.status_code == 200
        assert not page.has_header("Location")
        assert consent_form(page.content.decode())["decisions"] == {"allow", "deny"}
    assert state.codes == {}


def test_only_the_forms_post_with_csrf_redirects_with_a_code():
    browser = Client(enforce_csrf_checks=True)
    path = authorize_path("gorgias")
    page = browser.get(f"{path}?{urlencode(params('gorgias', **AUTO_APPROVE))}")
    form = consent_form(page.content.decode())
    without_csrf = {k: v for k, v in form["fields"].items() if k != "csrfmiddlewaretoken"}

    refused = [
        browser.post(form["action"], {**without_csrf, "decision": "allow"}),
        browser.post(form["action"], {**form["fields"], "decision": ""}),
        browser.post(
            form["action"], {"csrfmiddlewaretoken": form["fields"]["csrfmiddlewaretoken"]}
        ),
    ]
    assert [r.status_code for r in refused] == [403, 400, 400]
    assert state.codes == {}

    allowed = browser.post(form["action"], {**form["fields"], "decision": "allow"})

    assert allowed.status_code == 302
    assert query(allowed["Location"])["code"] in state.codes


def test_a_registered_path_is_the_sandboxs_own_origin(client):
    # Help Scout sends the user to the registered URL; a path (how the example project
    # registers its callback) is taken on the host and port the sandbox is served at.
    state.register_client("helpscout", "hs-path", SECRET, redirect_uris=["/helpdesk/hs/callback/"])
    path = authorize_path("helpscout")
    page = client.get(f"{path}?client_id=hs-path&state=st", HTTP_HOST="127.0.0.1:8123")
    form = consent_form(page.content.decode())

    allowed = client.post(
        form["action"],
        {**form["fields"], "org": "acme", "decision": "allow"},
        HTTP_HOST="127.0.0.1:8123",
    )

    assert allowed["Location"].startswith("http://127.0.0.1:8123/helpdesk/hs/callback/?code=")
