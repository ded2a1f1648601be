"""The providers' small APIs: bearer tokens that work only where they were issued."""

from urllib.parse import urlencode

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


# -- the read endpoints apps and the providers' demos use (issue 10) -------------------


def gorgias_get(client, path, token, **params):
    return client.get(f"/sandbox/gorgias/acme/api/{path}", params, **bearer(token))


def kustomer_get(client, path, token, **params):
    return client.get(f"/sandbox/kustomer/acme/api/v1/{path}", params, **bearer(token))


@pytest.mark.parametrize("resource", ["tickets", "customers", "users"])
def test_gorgias_lists_are_cursor_paginated_lists(client, resource):
    token = gorgias_tokens(client)["access_token"]
    response = gorgias_get(client, resource, token)

    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "list"
    assert body["uri"] == f"/api/{resource}"
    assert body["data"] and all(isinstance(item["id"], int) for item in body["data"])
    assert body["meta"] == {"prev_cursor": None, "next_cursor": None}
    assert gorgias_get(client, resource + "/", token).json() == body  # trailing slash


def test_gorgias_tickets_page_with_limit_and_cursor(client):
    token = gorgias_tokens(client)["access_token"]
    first = gorgias_get(client, "tickets", token, limit=2).json()
    second = gorgias_get(client, "tickets", token, limit=2, cursor=first["meta"]["next_cursor"])

    assert [t["id"] for t in first["data"]] == [201, 202]
    assert [t["id"] for t in second.json()["data"]] == [203]
    assert second.json()["meta"]["next_cursor"] is None
    assert second.json()["meta"]["prev_cursor"]


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"cursor": "%%%"}]
)
def test_gorgias_bad_query_is_a_json_400(client, params):
    token = gorgias_tokens(client)["access_token"]
    response = gorgias_get(client, "tickets", token, **params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["msg"]


def test_gorgias_ticket_customer_and_user_by_id(client):
    token = gorgias_tokens(client)["access_token"]
    ticket = gorgias_get(client, "tickets/201", token).json()
    customer = gorgias_get(client, f"customers/{ticket['customer']['id']}", token).json()

    assert ticket["subject"] and ticket["status"] == "open"
    assert customer["email"] == ticket["customer"]["email"]
    # Gorgias: users/0 is the user the token acts for (the admin who installed the app).
    me = gorgias_get(client, "users/0", token).json()
    assert me["id"] == state.user_for("gorgias", "acme")["id"]
    assert me["email"] == "admin@acme.example.com"
    assert gorgias_get(client, f"users/{me['id']}", token).json() == me


@pytest.mark.parametrize(
    "path",
    ["tickets/999", "customers/1", "users/12345", "nope", "tickets/abc", "", "account/x"],
)
def test_gorgias_unknown_paths_are_a_json_404(client, path):
    token = gorgias_tokens(client)["access_token"]
    response = gorgias_get(client, path, token)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["error"]["msg"], str)


def test_unknown_paths_still_need_a_valid_token(client):
    # Auth first, as the providers do: a bad token on a missing path is 401, not 404.
    assert client.get("/sandbox/gorgias/acme/api/nope").status_code == 401
    assert client.get("/sandbox/kustomer/acme/api/v1/nope", **bearer("x")).status_code == 401


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_api_writes_are_a_json_405(client, method):
    response = getattr(client, method)("/sandbox/gorgias/acme/api/tickets")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["msg"]


def test_kustomer_customer_by_id_and_conversations(client):
    token = kustomer_tokens(client, tenant="acme")["access_token"]
    customers = kustomer_get(client, "customers", token).json()["data"]
    one = kustomer_get(client, f"customers/{customers[0]['id']}", token)
    conversations = kustomer_get(client, "conversations", token).json()
    first = conversations["data"][0]
    by_id = kustomer_get(client, f"conversations/{first['id']}", token)

    assert one.status_code == 200 and one.json()["data"] == customers[0]
    assert conversations["meta"] == {"page": 1, "pageSize": 100, "totalPages": 1}
    assert conversations["links"]["next"] is None
    assert {c["type"] for c in conversations["data"]} == {"conversation"}
    customer_ids = {c["id"] for c in customers}
    assert first["relationships"]["customer"]["data"]["id"] in customer_ids
    assert by_id.json()["data"] == first


def test_kustomer_pages(client):
    token = kustomer_tokens(client, tenant="acme")["access_token"]
    page = kustomer_get(client, "customers", token, page="2", pageSize="2").json()

    assert len(page["data"]) == 1
    assert page["meta"] == {"page": 2, "pageSize": 2, "totalPages": 2}
    assert page["links"]["prev"] == "/v1/customers?page=1&pageSize=2"
    assert page["links"]["next"] is None


@pytest.mark.parametrize(
    "path", ["customers/" + "0" * 24, "conversations/" + "f" * 24, "customers/xyz", "orgs", ""]
)
def test_kustomer_unknown_paths_are_a_json_api_404(client, path):
    token = kustomer_tokens(client, tenant="acme")["access_token"]
    response = kustomer_get(client, path, token)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["status"] == 404


def test_kustomer_conversations_need_a_conversation_role(client):
    token = kustomer_tokens(client, tenant="acme", scope="org.permission.customer")["access_token"]
    assert kustomer_get(client, "conversations", token).status_code == 403
    assert kustomer_get(client, "customers", token).status_code == 200


def test_kustomer_bad_page_size_is_a_json_api_400(client):
    token = kustomer_tokens(client, tenant="acme")["access_token"]
    response = kustomer_get(client, "customers", token, pageSize="1000")

    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "pageSize"}


def test_api_answers_json_over_loopback_http(live_server):
    """What Gorgias's demo app does after install: GET /api/tickets, then a wrong path."""
    import requests

    from django_helpdesk_oauth.sandbox.testing import consent
    from tests.sandbox.helpers import (
        GORGIAS_ID,
        GORGIAS_REDIRECT_URI,
        GORGIAS_SECRET,
        gorgias_params,
        query,
    )

    base = f"{live_server.url}/sandbox/gorgias/acme"
    browser = requests.Session()
    redirect = consent(browser, f"{base}/oauth/authorize?" + urlencode(gorgias_params()))
    tokens = requests.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query(redirect.headers["Location"])["code"],
            "redirect_uri": GORGIAS_REDIRECT_URI,
        },
        auth=(GORGIAS_ID, GORGIAS_SECRET),
        timeout=10,
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    tickets = requests.get(f"{base}/api/tickets", headers=headers, timeout=10)
    missing = requests.get(f"{base}/api/tickets/999/messages", headers=headers, timeout=10)

    assert tickets.status_code == 200 and len(tickets.json()["data"]) == 3
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert missing.json() == {
        "error": {"msg": "no API resource at /sandbox/gorgias/acme/api/tickets/999/messages"}
    }
