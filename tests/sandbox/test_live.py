"""Full flows over real loopback HTTP, as the package's OAuth client will see them."""

from urllib.parse import urlencode

import pytest
import requests
from requests_oauthlib import OAuth2Session

from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.server import SandboxServer
from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.testing import ConsentPageError, consent
from tests.sandbox.helpers import (
    GORGIAS_ID,
    GORGIAS_REDIRECT_URI,
    GORGIAS_SECRET,
    KUSTOMER_ID,
    KUSTOMER_SECRET,
    REDIRECT_URI,
    VERIFIER,
    gorgias_params,
    kustomer_params,
    query,
)

TIMEOUT = 10


@pytest.fixture(scope="module")
def server():
    with SandboxServer() as running:
        yield running


@pytest.fixture
def providers(server):
    return provider_settings(server.url + "/sandbox")


def test_server_url_and_stop():
    server = SandboxServer()
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018 - not running yet
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(server.url + "/sandbox/", timeout=TIMEOUT).status_code == 200
        url = server.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/sandbox/", timeout=TIMEOUT)


def test_full_gorgias_flow(providers):
    gorgias = {k: v.format(tenant="acme") for k, v in providers["gorgias"].items()}
    browser = requests.Session()

    redirect = consent(browser, f"{gorgias['authorize_url']}?{urlencode(gorgias_params())}")

    assert redirect.status_code == 302
    params = query(redirect.headers["Location"])
    assert (params["account"], params["state"]) == ("acme", "st-123")
    token = requests.post(
        gorgias["token_url"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": GORGIAS_REDIRECT_URI,
        },
        auth=(GORGIAS_ID, GORGIAS_SECRET),
        timeout=TIMEOUT,
    )
    assert token.status_code == 200, token.text
    tokens = token.json()
    assert tokens["expires_in"] == 0
    refreshed = requests.post(
        gorgias["token_url"],
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(GORGIAS_ID, GORGIAS_SECRET),
        timeout=TIMEOUT,
    ).json()
    assert "refresh_token" not in refreshed
    account = requests.get(
        gorgias["api_base_url"] + "account",
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
        timeout=TIMEOUT,
    )
    assert account.json()["domain"] == "acme"
    revoked = requests.post(
        gorgias["revoke_url"],
        data={"token": tokens["refresh_token"]},
        auth=(GORGIAS_ID, GORGIAS_SECRET),
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    assert state.count(endpoint="token", client_auth="basic", tenant="acme") == 2
    assert state.count(endpoint="revoke", token=tokens["refresh_token"]) == 1


@pytest.mark.parametrize("kustomer", ["seed", "per_org"])
def test_full_kustomer_flow(server, kustomer):
    endpoints = provider_settings(server.url + "/sandbox", kustomer=kustomer)["kustomer"]
    endpoints = {k: v.format(tenant="acme") for k, v in endpoints.items()}
    browser = requests.Session()
    authorize = f"{endpoints['authorize_url']}?{urlencode(kustomer_params())}"

    redirect = consent(browser, authorize, org="acme" if kustomer == "seed" else None)

    params = query(redirect.headers["Location"])
    assert params["state"] == "st-k"
    credentials = {"client_id": KUSTOMER_ID, "client_secret": KUSTOMER_SECRET}
    tokens = requests.post(
        endpoints["token_url"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
            **credentials,
        },
        timeout=TIMEOUT,
    ).json()
    assert tokens["expires_in"] == 86400
    rotated = requests.post(
        endpoints["token_url"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            **credentials,
        },
        timeout=TIMEOUT,
    ).json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    user = requests.get(
        endpoints["api_base_url"] + "users/current",
        headers={"Authorization": f"Bearer {rotated['access_token']}"},
        timeout=TIMEOUT,
    )
    assert user.json()["data"]["attributes"]["org"] == "acme"
    customers = requests.get(
        endpoints["api_base_url"] + "customers",
        headers={"Authorization": f"Bearer {rotated['access_token']}"},
        timeout=TIMEOUT,
    )
    assert len(customers.json()["data"]) == 3


def test_kustomer_apps_api_over_http(providers):
    apps = providers["kustomer"]["apps_api_url"] + "/v1/apps/available"
    headers = {"Authorization": "Bearer kustomer-admin-key"}
    app = {"app": "live", "version": "1.0.0", "title": "Live", "visibility": "private"}

    registered = requests.post(apps, json=app, headers=headers, timeout=TIMEOUT).json()
    name = registered["data"]["attributes"]["name"]
    secret = requests.post(f"{apps}/{name}/secret/", json={}, headers=headers, timeout=TIMEOUT)

    assert name == "live_5f0acme"
    assert secret.json()["data"]["attributes"]["clientSecret"]


def test_requests_oauthlib_kustomer_with_pkce(providers, monkeypatch):
    # A third-party client: oauthlib refuses plain http unless told (for this test only;
    # installing the sandbox does not set it, see test_insecure_transport.py).
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    kustomer = {k: v.format(tenant="acme") for k, v in providers["kustomer"].items()}
    oauth = OAuth2Session(
        KUSTOMER_ID,
        redirect_uri=REDIRECT_URI,
        scope=kustomer_params()["scope"].split(),
        pkce="S256",
    )
    authorize, _state = oauth.authorization_url(kustomer["authorize_url"])

    redirect = consent(requests.Session(), authorize, org="acme")
    token = oauth.fetch_token(
        kustomer["token_url"],
        authorization_response=redirect.headers["Location"],
        client_secret=KUSTOMER_SECRET,
        include_client_id=True,
        timeout=TIMEOUT,
    )

    assert token["refresh_token"]
    code = state.codes[query(redirect.headers["Location"])["code"]]
    assert (code.code_challenge_method, len(code.code_challenge)) == ("S256", 43)


def test_slow_provider_times_the_client_out_then_recovers(providers):
    token_url = providers["gorgias"]["token_url"].format(tenant="acme")
    state.inject(endpoint="token", status=None, delay=1.0)
    data = {"grant_type": "refresh_token", "refresh_token": "x"}

    with pytest.raises(requests.Timeout):
        requests.post(token_url, data=data, auth=(GORGIAS_ID, GORGIAS_SECRET), timeout=0.2)
    after = requests.post(token_url, data=data, auth=(GORGIAS_ID, GORGIAS_SECRET), timeout=TIMEOUT)

    assert after.json()["error"] == "invalid_grant"


def test_consent_raises_on_an_error_page(providers):
    authorize = providers["gorgias"]["authorize_url"].format(tenant="acme") + "?client_id=nobody"
    with pytest.raises(ConsentPageError):
        consent(requests.Session(), authorize)


def test_consent_deny_over_http(providers):
    authorize = providers["gorgias"]["authorize_url"].format(tenant="acme")
    redirect = consent(
        requests.Session(), f"{authorize}?{urlencode(gorgias_params())}", allow=False
    )
    assert query(redirect.headers["Location"])["error"] == "access_denied"


def test_consent_org_on_a_per_org_page_must_match_its_tenant(server):
    endpoints = provider_settings(server.url + "/sandbox", kustomer="per_org")["kustomer"]
    authorize = (
        endpoints["authorize_url"].format(tenant="acme") + "?" + urlencode(kustomer_params())
    )

    same = consent(requests.Session(), authorize, org="acme")
    with pytest.raises(ConsentPageError):
        consent(requests.Session(), authorize, org="globex")

    assert "code" in query(same.headers["Location"])


def test_concurrent_refreshes_of_one_rotating_token_exactly_one_wins(server):
    from concurrent.futures import ThreadPoolExecutor

    endpoints = provider_settings(server.url + "/sandbox", kustomer="seed")["kustomer"]
    authorize = f"{endpoints['authorize_url']}?{urlencode(kustomer_params())}"
    code = query(consent(requests.Session(), authorize, org="acme").headers["Location"])["code"]
    credentials = {"client_id": KUSTOMER_ID, "client_secret": KUSTOMER_SECRET}
    tokens = requests.post(
        endpoints["token_url"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
            **credentials,
        },
        timeout=TIMEOUT,
    ).json()
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **credentials}

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: (
                    requests.post(endpoints["token_url"], data=data, timeout=TIMEOUT).status_code
                ),
                range(8),
            )
        )

    assert sorted(statuses) == [200] + [400] * 7
    assert len(state.live_refresh_tokens(provider="kustomer", tenant="acme")) == 1
