"""The test hooks on ``state``: settings loading, faults, the request log, the clock, JWTs."""

import json

import pytest

from django_helpdesk_oauth.sandbox import jwt
from django_helpdesk_oauth.sandbox.endpoints import issuer, provider_settings
from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.views import common
from tests.sandbox.helpers import (
    GORGIAS_ID,
    GORGIAS_REDIRECT_URI,
    KUSTOMER_ID,
    gorgias_code,
    gorgias_token,
    gorgias_tokens,
    kustomer_tokens,
)


@pytest.fixture
def sleeps(monkeypatch):
    calls = []
    monkeypatch.setattr(common.time, "sleep", calls.append)
    return calls


def test_settings_clients_and_keys_are_loaded_lazily_and_reset_rereads_them(settings):
    assert state.get_client("gorgias", GORGIAS_ID).title == "Test Gorgias App"
    assert state.get_client("kustomer", GORGIAS_ID) is None
    assert state.get_api_key("kustomer-admin-key")["org_id"] == "5f0acme"

    settings.HELPDESK_OAUTH_SANDBOX = {
        "CLIENTS": [{"provider": "gorgias", "client_id": "new", "client_secret": "s"}]
    }
    assert state.get_client("gorgias", "new") is None  # loaded already
    state.reset()
    assert state.get_client("gorgias", "new").client_secret == "s"
    assert state.get_client("gorgias", GORGIAS_ID) is None


def test_register_client_rejects_unknown_providers():
    with pytest.raises(ValueError):
        state.register_client("nosuchdesk", "x", "y")


def test_client_repr_hides_the_secret():
    client = state.register_client("gorgias", "visible-id", "hidden-secret-value")
    assert "hidden-secret-value" not in repr(client)
    assert "visible-id" in repr(client)


def test_injected_500_then_normal_answers(client):
    state.inject(endpoint="token", status=500, times=2)
    code = gorgias_code(client)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": GORGIAS_REDIRECT_URI}

    first, second, third = (gorgias_token(client, **data) for _ in range(3))

    assert (first.status_code, second.status_code, third.status_code) == (500, 500, 200)
    assert first.json()["error"] == "server_error"
    assert [e["status"] for e in state.matching_requests(endpoint="token")] == [500, 500, 200]
    assert state.faults == []


def test_injected_429_carries_retry_after(client):
    state.inject(endpoint="token", status=429, headers={"Retry-After": "7"})
    response = gorgias_token(client, grant_type="refresh_token", refresh_token="x")
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response.json()["error"] == "temporarily_unavailable"


def test_fault_with_custom_body_and_filters(client):
    state.inject(
        endpoint="token", status=400, body={"error": "invalid_client"}, provider="kustomer"
    )
    gorgias = gorgias_token(client, grant_type="refresh_token", refresh_token="x")
    kustomer = client.post("/sandbox/kustomer/oauth/token", {"grant_type": "refresh_token"})
    assert gorgias.json()["error"] == "invalid_grant"  # not the fault: it waits for kustomer
    assert kustomer.json() == {"error": "invalid_client"}
    text = state.inject(endpoint="api", status=502, body="Bad Gateway")
    assert text.times == 1
    assert client.get("/sandbox/gorgias/acme/api/account").content == b"Bad Gateway"


def test_delay_only_fault_sleeps_then_answers_normally(client, sleeps):
    state.inject(endpoint="token", status=None, delay=2.5)
    tokens = gorgias_tokens(client)
    assert sleeps == [2.5]
    assert tokens["access_token"]


def test_token_delay_applies_to_every_token_request(client, sleeps):
    state.token_delay = 0.25
    gorgias_tokens(client)
    gorgias_token(client, grant_type="refresh_token", refresh_token="x")
    assert sleeps == [0.25, 0.25]


def test_request_log_records_what_the_client_sent_and_no_secret(client):
    tokens = kustomer_tokens(client)
    client.post(
        "/sandbox/kustomer/oauth/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": KUSTOMER_ID,
            "client_secret": "kustomer-test-secret-0001",
        },
    )

    entry = state.matching_requests(grant_type="refresh_token")[0]
    assert entry["provider"] == "kustomer"
    assert entry["tenant"] is None  # the global endpoint has no tenant in its URL
    assert entry["client_auth"] == "body"
    assert entry["client_id"] == KUSTOMER_ID
    assert entry["refresh_token"] == tokens["refresh_token"]
    assert "kustomer-test-secret-0001" not in repr(state.requests)
    assert state.count(endpoint="token", provider="kustomer") == 2
    assert state.count(endpoint="token", grant_type="authorization_code") == 1


def test_advance_moves_the_clock():
    before = state.now()
    state.advance(3600)
    assert state.now() - before == pytest.approx(3600, abs=5)
    state.reset()
    assert state.now() - before < 60


def test_counters(client):
    kustomer_tokens(client)
    assert state.counters["codes"] == 1
    assert state.counters["access_tokens"] == 1
    assert state.counters["refresh_tokens"] == 1


def test_provider_settings_seed_and_per_org():
    seed = provider_settings("http://127.0.0.1:8123/sandbox/", kustomer="seed")
    per_org = provider_settings("http://127.0.0.1:8123/sandbox", kustomer="per_org")
    # Per-org is the default, as in the provider's own definition.
    assert provider_settings("http://127.0.0.1:8123/sandbox") == per_org

    assert seed["gorgias"] == {
        "authorize_url": "http://127.0.0.1:8123/sandbox/gorgias/{tenant}/oauth/authorize",
        "token_url": "http://127.0.0.1:8123/sandbox/gorgias/{tenant}/oauth/token",
        "revoke_url": "http://127.0.0.1:8123/sandbox/gorgias/{tenant}/oauth/revoke",
        "api_base_url": "http://127.0.0.1:8123/sandbox/gorgias/{tenant}/api/",
    }
    assert (
        seed["kustomer"]["authorize_url"]
        == "http://127.0.0.1:8123/sandbox/kustomer/oauth/authorize"
    )
    assert seed["kustomer"]["token_url"] == "http://127.0.0.1:8123/sandbox/kustomer/oauth/token"
    assert per_org["kustomer"]["token_url"].endswith("/kustomer/{tenant}/api/oauth/token")
    assert per_org["kustomer"]["authorize_url"].endswith("/kustomer/{tenant}/oauth/authorize")
    for settings in (seed, per_org):
        assert settings["kustomer"]["api_base_url"].endswith("/kustomer/{tenant}/api/v1/")
        assert (
            settings["kustomer"]["apps_api_url"]
            == "http://127.0.0.1:8123/sandbox/kustomer/apps-api"
        )
    with pytest.raises(ValueError):
        provider_settings("http://x", kustomer="eu")


def test_index_lists_the_endpoints(client):
    body = client.get("/sandbox/").json()
    assert body["seed"] == provider_settings("http://testserver/sandbox", kustomer="seed")
    assert body["per_org"]["kustomer"]["token_url"].startswith("http://testserver/sandbox/")


def test_issuer():
    assert (
        issuer("http://h/s/", "kustomer", "acme", kustomer="per_org") == "http://h/s/kustomer/acme"
    )
    with pytest.raises(ValueError):
        issuer("http://h", "gorgias")


def test_jwt_round_trip_and_tampering():
    key = jwt.new_key()
    token = jwt.encode({"sub": 1, "exp": 2}, key)
    assert jwt.decode(token, key.public_key()) == {"sub": 1, "exp": 2}
    header, _, signature = token.split(".")
    forged_payload = jwt.b64url(b'{"sub":2,"exp":2}')
    hs256 = jwt.b64url(b'{"alg":"HS256","typ":"JWT"}')
    none = jwt.b64url(b'{"alg":"none","typ":"JWT"}')
    payload = token.split(".")[1]
    for bad in (
        f"{header}.{forged_payload}.{signature}",
        f"{hs256}.{payload}.{signature}",  # algorithm confusion
        f"{none}.{payload}.",  # alg none
        f"{header}.{payload}.",  # signature stripped
        "garbage",
        "a.b.c",
        "",
    ):
        with pytest.raises(jwt.InvalidToken):
            jwt.decode(bad, key.public_key())
    with pytest.raises(jwt.InvalidToken):
        jwt.decode(token, jwt.new_key().public_key())


def test_jwt_header_names_the_key_by_its_rfc7638_thumbprint():
    key = jwt.new_key()
    header = json.loads(jwt._b64url_decode(jwt.encode({}, key).split(".")[0]))
    jwk = jwt.public_jwk(key.public_key())

    assert header == {"alg": "RS256", "typ": "JWT", "kid": jwk["kid"]}
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert jwk["kid"] != jwt.key_id(jwt.new_key().public_key())
