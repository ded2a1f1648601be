"""The engine is generic: a provider defined only in this suite (profile_testdesk.py) runs
authorize → consent → token → identity → API → revoke over loopback HTTP, unchanged engine."""

from urllib.parse import urlencode

import pytest
import requests

from django_helpdesk_oauth.sandbox import profiles
from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.server import SandboxServer
from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.testing import consent
from tests.sandbox.helpers import REDIRECT_URI, query
from tests.sandbox.profile_testdesk import PROFILE

TIMEOUT = 10
CLIENT_ID, CLIENT_SECRET = "testdesk-client", "testdesk-secret-0001"


@pytest.fixture(scope="module")
def server():
    with SandboxServer() as running:
        yield running


@pytest.fixture
def urls(server):
    profiles.register(PROFILE)
    state.register_client("testdesk", CLIENT_ID, CLIENT_SECRET, redirect_uris=[REDIRECT_URI])
    yield provider_settings(server.url + "/sandbox")["testdesk"]
    profiles.unregister("testdesk")


def _authorize(urls, session, workspace="ws-42", scope="read_tickets,read_users"):
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "st-t",
    }
    page = session.get(f"{urls['authorize_url']}?{urlencode(params)}", timeout=TIMEOUT)
    decision = consent(session, page, org=workspace)
    assert decision.status_code == 302
    return query(decision.headers["Location"])


def _tokens(urls, session, **overrides):
    code = _authorize(urls, session)["code"]
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return requests.post(urls["token_url"], json=body, timeout=TIMEOUT)


def test_full_flow_over_loopback(urls):
    session = requests.Session()
    answer = _tokens(urls, session)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    # Never expires, no refresh token, comma-separated scopes, its own token type.
    assert "expires_in" not in tokens and "expires_at" not in tokens
    assert "refresh_token" not in tokens
    assert tokens["scope"] == "read_tickets,read_users"
    assert tokens["token_type"] == "Token"
    header = {"Authorization": f"Token {tokens['access_token']}"}

    # The tenant is named only after the exchange, by the identity endpoint.
    me = requests.get(urls["identity_url"], headers=header, timeout=TIMEOUT)
    assert me.status_code == 200
    assert me.json()["workspace"] == {"id": "ws-42"}

    api = requests.get(urls["api_base_url"] + "tickets", headers=header, timeout=TIMEOUT)
    assert api.json() == {"type": "ticket.list", "workspace": "ws-42", "data": [{"id": "t1"}]}
    state.advance(10 * 365 * 86400)  # ten years later: still valid
    assert requests.get(urls["identity_url"], headers=header, timeout=TIMEOUT).status_code == 200

    revoked = requests.delete(urls["revoke_url"], headers=header, timeout=TIMEOUT)
    assert revoked.status_code == 204
    after = requests.get(urls["identity_url"], headers=header, timeout=TIMEOUT)
    assert after.status_code == 401
    assert after.json()["errors"][0]["code"] == "unauthorized"
    assert state.count(provider="testdesk", endpoint="revoke", tenant="ws-42", status=204) == 1


def test_bearer_is_not_its_scheme(urls):
    token = _tokens(urls, requests.Session()).json()["access_token"]
    wrong = requests.get(
        urls["identity_url"], headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Token ")


def test_a_form_body_or_http_basic_is_refused(urls):
    code = _authorize(urls, requests.Session())["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    as_form = requests.post(
        urls["token_url"],
        data={**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=TIMEOUT,
    )
    assert as_form.status_code == 400 and as_form.json()["error"] == "invalid_request"
    basic = requests.post(
        urls["token_url"], json=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT
    )
    assert basic.status_code == 400 and basic.json()["error"] == "invalid_client"
    # The code was not used up by the refused requests.
    assert (
        requests.post(
            urls["token_url"],
            json={**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            timeout=TIMEOUT,
        ).status_code
        == 200
    )


def test_revocation_needs_delete_and_the_token(urls):
    token = _tokens(urls, requests.Session()).json()["access_token"]
    header = {"Authorization": f"Token {token}"}
    assert requests.post(urls["revoke_url"], headers=header, timeout=TIMEOUT).status_code == 405
    assert requests.delete(urls["revoke_url"], timeout=TIMEOUT).status_code == 401
    assert requests.get(urls["identity_url"], headers=header, timeout=TIMEOUT).status_code == 200


def test_unknown_api_path_is_its_json_error_and_unregistering_stops_serving(urls):
    token = _tokens(urls, requests.Session()).json()["access_token"]
    header = {"Authorization": f"Token {token}"}
    missing = requests.get(urls["api_base_url"] + "nope", headers=header, timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["type"] == "error.list"
    profiles.unregister("testdesk")
    gone = requests.get(urls["identity_url"], headers=header, timeout=TIMEOUT)
    assert gone.status_code == 404
    assert "testdesk" not in provider_settings("http://x/sandbox")
