"""Gorgias's token and revoke endpoints: Basic auth, expires_in 0, JWTs, kept refresh token."""

import pytest

from django_helpdesk_oauth.sandbox import jwt
from django_helpdesk_oauth.sandbox.state import state
from tests.sandbox.helpers import (
    GORGIAS_ID,
    GORGIAS_REDIRECT_URI,
    GORGIAS_SCOPE,
    GORGIAS_SECRET,
    basic,
    bearer,
    gorgias_code,
    gorgias_token,
    gorgias_tokens,
    url,
)


def exchange(client, code, tenant="acme", **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": GORGIAS_REDIRECT_URI}
    data.update(extra)
    return gorgias_token(client, tenant, **data)


def test_code_exchange_answers_like_gorgias(client):
    response = exchange(client, gorgias_code(client))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "id_token",
        "refresh_token",
        "scope",
        "token_type",
    }
    assert body["expires_in"] == 0
    assert body["token_type"] == "Bearer"
    assert body["scope"] == GORGIAS_SCOPE


def test_access_token_is_a_jwt_with_a_real_expiry(client):
    state.lifetimes["gorgias"] = 3600
    body = gorgias_tokens(client)

    claims = jwt.decode(body["access_token"], state.signing_key.public_key())
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iss"] == "http://testserver/sandbox/gorgias/acme"
    assert claims["sub"] == state.user_for("gorgias", "acme")["id"]
    assert claims["jti"]


def test_id_token_claims(client):
    body = gorgias_tokens(client)

    claims = jwt.decode(body["id_token"], state.signing_key.public_key())
    assert claims["nonce"] == "nonce-456"
    assert claims["aud"] == [GORGIAS_ID]
    assert claims["iss"] == "http://testserver/sandbox/gorgias/acme"
    assert claims["email"] == "admin@acme.example.com"
    assert claims["name"]
    assert claims["exp"] > claims["iat"]
    assert claims["at_hash"] == jwt.at_hash(body["access_token"])


def test_no_id_token_without_openid(client):
    body = gorgias_tokens(client, scope="offline write:all")
    assert "id_token" not in body
    assert body["scope"] == "offline write:all"


@pytest.mark.parametrize(
    "auth",
    [
        {},
        basic(GORGIAS_ID, "wrong"),
        basic("nobody", GORGIAS_SECRET),
        {"HTTP_AUTHORIZATION": "Basic !!!not-base64"},
        {"HTTP_AUTHORIZATION": "Basic " + "bm9jb2xvbg=="},  # "nocolon"
        {"HTTP_AUTHORIZATION": f"Bearer {GORGIAS_SECRET}"},
    ],
)
def test_missing_or_wrong_basic_auth_is_invalid_client(client, auth):
    response = exchange_with(client, auth)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def exchange_with(client, auth, **extra):
    code = gorgias_code(client)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": GORGIAS_REDIRECT_URI}
    data.update(extra)
    return gorgias_token(client, auth=auth, **data)


def test_body_credentials_are_refused_even_with_basic(client):
    body_only = exchange_with(client, {}, client_id=GORGIAS_ID, client_secret=GORGIAS_SECRET)
    both = exchange_with(
        client,
        basic(GORGIAS_ID, GORGIAS_SECRET),
        client_id=GORGIAS_ID,
        client_secret=GORGIAS_SECRET,
    )

    assert body_only.json()["error"] == both.json()["error"] == "invalid_client"
    assert both.status_code == 400
    assert state.access_tokens == {}


def test_client_id_in_body_alongside_basic_is_fine(client):
    response = exchange_with(client, basic(GORGIAS_ID, GORGIAS_SECRET), client_id=GORGIAS_ID)
    assert response.status_code == 200


def test_reused_code_is_invalid_grant_and_revokes_the_first_tokens(client):
    code = gorgias_code(client)
    first = exchange(client, code).json()

    second = exchange(client, code)

    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert state.refresh_tokens[first["refresh_token"]].revoked
    refreshed = gorgias_token(
        client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert refreshed.json()["error"] == "invalid_grant"
    api = client.get(url("gorgias-account", tenant="acme"), **bearer(first["access_token"]))
    assert api.status_code == 401


def test_expired_code_is_invalid_grant(client):
    code = gorgias_code(client)
    state.advance(61)
    response = exchange(client, code)
    assert response.json()["error"] == "invalid_grant"


def test_code_of_another_tenant_is_invalid_grant(client):
    code = gorgias_code(client, tenant="acme")
    response = exchange(client, code, tenant="globex")
    assert response.json()["error"] == "invalid_grant"


def test_code_of_another_client_is_invalid_grant(client):
    state.register_client("gorgias", "other", "other-secret")
    code = gorgias_code(client)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": GORGIAS_REDIRECT_URI}
    response = gorgias_token(client, auth=basic("other", "other-secret"), **data)
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri", ["https://app.example.com/oauth/callback", "https://app.example.com/other", ""]
)
def test_redirect_uri_must_match_exactly(client, redirect_uri):
    response = exchange(client, gorgias_code(client), redirect_uri=redirect_uri)
    assert response.json()["error"] == "invalid_grant"


def test_unknown_or_missing_code(client):
    assert exchange(client, "nope").json()["error"] == "invalid_grant"
    assert exchange(client, "").json()["error"] == "invalid_request"


def test_pkce_is_ignored(client):
    response = exchange(client, gorgias_code(client), code_verifier="anything-goes")
    assert response.status_code == 200


def test_refresh_returns_no_refresh_token_and_keeps_the_old_one(client):
    tokens = gorgias_tokens(client)

    first = gorgias_token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    again = gorgias_token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert first.status_code == again.status_code == 200
    body = first.json()
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert body["expires_in"] == 0
    assert body["access_token"] != tokens["access_token"]
    assert jwt.decode(body["access_token"], state.signing_key.public_key())["exp"] > state.now()
    assert state.count(endpoint="token", grant_type="refresh_token", tenant="acme") == 2


def test_refresh_token_never_expires(client):
    tokens = gorgias_tokens(client)
    state.advance(10 * 365 * 86400)
    response = gorgias_token(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert response.status_code == 200


def test_refresh_of_another_tenant_is_invalid_grant(client):
    tokens = gorgias_tokens(client)
    response = gorgias_token(
        client, "globex", grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert response.json()["error"] == "invalid_grant"


def test_refresh_needs_basic_auth_too(client):
    tokens = gorgias_tokens(client)
    response = gorgias_token(
        client,
        auth={},
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=GORGIAS_ID,
        client_secret=GORGIAS_SECRET,
    )
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["client_credentials", "password", ""])
def test_unsupported_grant_type(client, grant_type):
    response = gorgias_token(client, grant_type=grant_type)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_token_endpoint_is_post_only(client):
    assert client.get(url("gorgias-token", tenant="acme")).status_code == 405
    assert client.get(url("gorgias-revoke", tenant="acme")).status_code == 405


def revoke(client, token, auth=None, tenant="acme"):
    headers = basic(GORGIAS_ID, GORGIAS_SECRET) if auth is None else auth
    return client.post(url("gorgias-revoke", tenant=tenant), {"token": token}, **headers)


def test_revoke_kills_the_refresh_token_but_not_the_access_token(client):
    tokens = gorgias_tokens(client)

    response = revoke(client, tokens["refresh_token"])

    assert response.status_code == 200
    # Gorgias answers "200 {}" as JSON (PROVIDERS.md [G4]), not an empty text/html body.
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    refreshed = gorgias_token(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.json()["error"] == "invalid_grant"
    # Gorgias's access tokens are stateless: valid until they expire.
    api = client.get(url("gorgias-account", tenant="acme"), **bearer(tokens["access_token"]))
    assert api.status_code == 200
    entry = state.matching_requests(endpoint="revoke")[0]
    assert entry["token"] == tokens["refresh_token"]
    assert entry["client_auth"] == "basic"
    assert entry["client_id"] == GORGIAS_ID
    assert entry["status"] == 200


def test_revoke_unknown_token_is_still_200(client):
    response = revoke(client, "never-issued")
    assert response.status_code == 200
    assert response.json() == {}


def test_revoke_needs_basic_auth_and_a_token(client):
    tokens = gorgias_tokens(client)

    unauthenticated = revoke(client, tokens["refresh_token"], auth={})
    missing = client.post(
        url("gorgias-revoke", tenant="acme"), {}, **basic(GORGIAS_ID, GORGIAS_SECRET)
    )

    assert unauthenticated.status_code == 400
    assert unauthenticated.json()["error"] == "invalid_client"
    assert missing.json()["error"] == "invalid_request"
    assert not state.refresh_tokens[tokens["refresh_token"]].revoked


def test_revoke_at_another_tenant_does_nothing(client):
    tokens = gorgias_tokens(client)
    assert revoke(client, tokens["refresh_token"], tenant="globex").status_code == 200
    assert not state.refresh_tokens[tokens["refresh_token"]].revoked


def test_refresh_token_only_with_the_offline_scope(client):
    body = gorgias_tokens(client, scope="openid email write:all")
    assert "refresh_token" not in body
    assert "id_token" in body


@pytest.mark.django_db(transaction=True)
def test_the_package_accepts_revokes_json_200_over_loopback(sandbox, installed, gorgias_app):
    import requests

    from django_helpdesk_oauth.services.uninstall import uninstall

    installation = installed(gorgias_app)
    direct = requests.post(
        f"{sandbox.base}/gorgias/acme/oauth/revoke",
        data={"token": "never-issued"},
        auth=(GORGIAS_ID, "gorgias-test-secret-0001"),
        timeout=10,
    )

    result = uninstall(installation)

    assert direct.headers["Content-Type"] == "application/json" and direct.json() == {}
    assert result.revoked and result.pending is None
    assert [r["status"] for r in sandbox.state.matching_requests(endpoint="revoke")] == [200, 200]
    assert not sandbox.state.live_refresh_tokens(tenant="acme")
