"""Kustomer's token endpoints (seed and per-org): body auth, PKCE S256, rotation."""

import pytest

from django_helpdesk_oauth.sandbox.state import state
from tests.sandbox.helpers import (
    KUSTOMER_ID,
    KUSTOMER_SCOPE,
    KUSTOMER_SECRET,
    REDIRECT_URI,
    VERIFIER,
    basic,
    gorgias_token,
    kustomer_code,
    kustomer_token,
    kustomer_tokens,
    url,
)


def exchange(client, code, tenant=None, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    data.update(extra)
    return kustomer_token(client, tenant, **data)


@pytest.mark.parametrize("tenant", [None, "acme"])
def test_code_exchange_answers_like_kustomer(client, tenant):
    state.lifetimes["kustomer"] = 7200
    response = exchange(client, kustomer_code(client, tenant), tenant)

    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 7200
    assert body["token_type"] == "bearer"
    assert body["scope"] == KUSTOMER_SCOPE
    assert body["access_token"] and body["refresh_token"]
    assert body["access_token"].count(".") != 2  # opaque, not a JWT
    assert state.access_tokens[body["access_token"]].tenant == "acme"


def test_no_refresh_token_without_offline_access(client):
    body = kustomer_tokens(client, scope="org.permission.customer")
    assert "refresh_token" not in body
    assert state.refresh_tokens == {}


def test_basic_only_is_invalid_client(client):
    code = kustomer_code(client)
    response = client.post(
        url("kustomer-token"),
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        **basic(KUSTOMER_ID, KUSTOMER_SECRET),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_body_and_basic_together_is_invalid_client(client):
    code = kustomer_code(client)
    response = client.post(
        url("kustomer-token"),
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
            "client_id": KUSTOMER_ID,
            "client_secret": KUSTOMER_SECRET,
        },
        **basic(KUSTOMER_ID, KUSTOMER_SECRET),
    )
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_secret": "wrong"},
        {"client_id": "nobody"},
        {"client_secret": ""},
        {"client_secret": "ünicode"},
    ],
)
def test_wrong_body_credentials_are_invalid_client(client, credentials):
    response = exchange(client, kustomer_code(client), **credentials)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "verifier", ["", "x" * 43, VERIFIER + "x", "short", "not valid chars!" * 4]
)
def test_pkce_verifier_must_match(client, verifier):
    response = exchange(client, kustomer_code(client), code_verifier=verifier)
    assert response.json()["error"] == "invalid_grant"


def test_no_verifier_needed_without_a_challenge_but_one_is_refused(client):
    code = kustomer_code(client, code_challenge=None, code_challenge_method=None)
    assert state.codes[code].code_challenge is None
    refused = exchange(client, code)
    accepted = exchange(client, code, code_verifier="")

    assert refused.json()["error"] == "invalid_grant"
    assert accepted.status_code == 200


def test_per_org_endpoint_only_takes_its_own_codes(client):
    code = kustomer_code(client, org="globex")
    elsewhere = exchange(client, code, tenant="acme")
    home = exchange(client, code, tenant="globex")

    assert elsewhere.json()["error"] == "invalid_grant"
    assert home.status_code == 200


def test_global_endpoint_takes_any_orgs_code(client):
    response = exchange(client, kustomer_code(client, tenant="globex"))
    assert response.status_code == 200
    assert state.access_tokens[response.json()["access_token"]].tenant == "globex"


def test_reused_code_is_invalid_grant(client):
    code = kustomer_code(client)
    first = exchange(client, code).json()
    second = exchange(client, code)
    assert second.json()["error"] == "invalid_grant"
    assert state.access_tokens[first["access_token"]].revoked


@pytest.mark.parametrize("tenant", [None, "acme"])
def test_refresh_rotates_and_the_old_token_is_spent(client, tenant):
    tokens = kustomer_tokens(client, tenant)

    first = kustomer_token(
        client, tenant, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    replay = kustomer_token(
        client, tenant, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )

    assert first.status_code == 200
    body = first.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert body["expires_in"] == 86400
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The rotated token works; the replay did not revoke it by default.
    chained = kustomer_token(
        client, tenant, grant_type="refresh_token", refresh_token=body["refresh_token"]
    )
    assert chained.status_code == 200
    assert [e["refresh_token"] for e in state.matching_requests(grant_type="refresh_token")] == [
        tokens["refresh_token"],
        tokens["refresh_token"],
        body["refresh_token"],
    ]
    assert {e["client_auth"] for e in state.matching_requests(endpoint="token")} == {"body"}


def test_reuse_detection_revokes_the_family(client):
    state.reuse_detection = True
    tokens = kustomer_tokens(client)
    rotated = kustomer_token(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    ).json()

    kustomer_token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    again = kustomer_token(
        client, grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )
    assert again.json()["error"] == "invalid_grant"


def test_refresh_of_another_org_at_a_per_org_endpoint_is_invalid_grant(client):
    tokens = kustomer_tokens(client, org="globex")
    response = kustomer_token(
        client, "acme", grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert response.json()["error"] == "invalid_grant"
    assert state.live_refresh_tokens(tenant="globex")


def test_refresh_cannot_widen_the_scope(client):
    tokens = kustomer_tokens(client)
    response = kustomer_token(
        client,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="org.admin offline_access",
    )
    assert response.json()["error"] == "invalid_scope"


def test_invalidated_refresh_token_is_invalid_grant(client):
    tokens = kustomer_tokens(client)
    assert state.invalidate_refresh_token(tokens["refresh_token"])
    response = kustomer_token(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert response.json()["error"] == "invalid_grant"


def test_revoke_all_simulates_an_uninstall(client):
    acme = kustomer_tokens(client, org="acme")
    globex = kustomer_tokens(client, org="globex")

    assert state.revoke_all("acme", "kustomer") == 1

    dead = kustomer_token(client, grant_type="refresh_token", refresh_token=acme["refresh_token"])
    alive = kustomer_token(
        client, grant_type="refresh_token", refresh_token=globex["refresh_token"]
    )
    assert dead.json()["error"] == "invalid_grant"
    assert alive.status_code == 200


def test_kustomer_has_no_revoke_endpoint(client):
    assert client.post("/sandbox/kustomer/oauth/revoke", {"token": "x"}).status_code == 404
    assert client.post("/sandbox/kustomer/acme/oauth/revoke", {"token": "x"}).status_code == 404


def test_kustomer_codes_do_not_work_at_gorgias(client):
    code = kustomer_code(client, tenant="acme")
    response = gorgias_token(
        client, "acme", grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert response.json()["error"] in ("invalid_client", "invalid_grant")
