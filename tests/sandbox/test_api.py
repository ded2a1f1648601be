"""The providers' small APIs: bearer tokens that work only where they were issued."""

import pytest

from django_helpdesk_oauth.sandbox.state import state
from tests.sandbox.helpers import bearer, gorgias_tokens, kustomer_tokens, url


def test_gorgias_account(client):
    tokens = gorgias_tokens(client)
    response = client.get(url("gorgias-account", tenant="acme"), **bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert response.json()["domain"] == "acme"
    assert response.json()["status"] == "active"
    assert state.count(endpoint="api", tenant="acme", status=200) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("nope"), {"HTTP_AUTHORIZATION": "Basic abc"}, {"HTTP_AUTHORIZATION": "Bearer"}],
)
def test_gorgias_account_needs_a_valid_bearer(client, headers):
    response = client.get(url("gorgias-account", tenant="acme"), **headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_gorgias_token_works_only_for_its_account(client):
    tokens = gorgias_tokens(client)
    response = client.get(url("gorgias-account", tenant="globex"), **bearer(tokens["access_token"]))
    assert response.status_code == 401


def test_expired_access_token_is_401(client):
    state.lifetimes["gorgias"] = 60
    tokens = gorgias_tokens(client)
    state.advance(61)
    response = client.get(url("gorgias-account", tenant="acme"), **bearer(tokens["access_token"]))
    assert response.status_code == 401


def test_revoke_all_with_access_tokens_cuts_api_access(client):
    tokens = gorgias_tokens(client)
    state.revoke_all("acme", access_tokens=True)
    response = client.get(url("gorgias-account", tenant="acme"), **bearer(tokens["access_token"]))
    assert response.status_code == 401


def test_kustomer_current_user(client):
    tokens = kustomer_tokens(client, tenant="acme")
    response = client.get(
        url("kustomer-current-user", tenant="acme"), **bearer(tokens["access_token"])
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["type"] == "user"
    assert data["id"] == state.user_for("kustomer", "acme")["id"]
    assert data["attributes"]["org"] == "acme"
    assert data["attributes"]["email"] == "admin@acme.example.com"


def test_kustomer_customers(client):
    tokens = kustomer_tokens(client)
    response = client.get(
        url("kustomer-customers", tenant="acme"), **bearer(tokens["access_token"])
    )

    body = response.json()
    assert response.status_code == 200
    assert len(body["data"]) == 3
    assert {c["type"] for c in body["data"]} == {"customer"}
    assert body["meta"]["page"] == 1


def test_kustomer_customers_need_a_customer_role(client):
    tokens = kustomer_tokens(client, scope="org.permission.conversation offline_access")
    response = client.get(
        url("kustomer-customers", tenant="acme"), **bearer(tokens["access_token"])
    )
    assert response.status_code == 403


def test_kustomer_token_works_only_in_its_region(client):
    tokens = kustomer_tokens(client, org="globex")
    here = client.get(url("kustomer-customers", tenant="globex"), **bearer(tokens["access_token"]))
    elsewhere = client.get(
        url("kustomer-customers", tenant="acme"), **bearer(tokens["access_token"])
    )

    assert here.status_code == 200
    assert elsewhere.status_code == 401
    assert "errors" in elsewhere.json()


def test_tokens_do_not_cross_providers(client):
    gorgias = gorgias_tokens(client)
    kustomer = kustomer_tokens(client)

    assert (
        client.get(url("kustomer-customers", tenant="acme"), **bearer(gorgias["access_token"]))
    ).status_code == 401
    assert (
        client.get(url("gorgias-account", tenant="acme"), **bearer(kustomer["access_token"]))
    ).status_code == 401


def test_api_is_get_only(client):
    assert client.post(url("gorgias-account", tenant="acme")).status_code == 405
