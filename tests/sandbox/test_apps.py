"""Kustomer's apps API: private app registration and client-secret generation (seed steps 1-2)."""

import json

import pytest

from django_helpdesk_oauth.sandbox.state import state
from tests.sandbox.helpers import (
    REDIRECT_URI,
    VERIFIER,
    authorize_url,
    bearer,
    kustomer_code,
    kustomer_params,
    kustomer_token,
    url,
)

APP = {"app": "myoauthapp", "version": "0.0.1", "title": "My OAuth App", "visibility": "private"}


def post(client, path, body, key="kustomer-admin-key"):
    headers = bearer(key) if key else {}
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def register(client, body=APP, key="kustomer-admin-key"):
    return post(client, url("kustomer-apps-register"), body, key)


def new_secret(client, name, key="kustomer-admin-key", slash=False):
    path = url("kustomer-apps-secret", app=name) + ("/" if slash else "")
    return post(client, path, {}, key)


def test_register_private_app_answers_like_the_seed(client):
    response = register(client)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["type"] == "available_app"
    assert data["id"] == "myoauthapp_5f0acme-0.0.1"
    attributes = data["attributes"]
    assert attributes["name"] == "myoauthapp_5f0acme"
    assert attributes["visibility"] == "private"
    assert attributes["redirectUris"] == []
    assert attributes["clientId"]
    assert "clientSecret" not in attributes
    assert state.get_client("kustomer", attributes["clientId"]).title == "My OAuth App"


@pytest.mark.parametrize("slash", [False, True])
def test_generate_secret_then_authorize_and_exchange(client, slash):
    client_id = register(client).json()["data"]["attributes"]["clientId"]
    response = new_secret(client, "myoauthapp_5f0acme", slash=slash)

    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["clientId"] == client_id
    secret = attributes["clientSecret"]
    code = kustomer_code(client, client_id=client_id)
    exchanged = kustomer_token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=VERIFIER,
        client_id=client_id,
        client_secret=secret,
    )
    assert exchanged.status_code == 200


def test_without_a_secret_token_requests_are_invalid_client(client):
    client_id = register(client).json()["data"]["attributes"]["clientId"]
    response = kustomer_token(
        client, grant_type="refresh_token", refresh_token="x", client_id=client_id, client_secret=""
    )
    assert response.json()["error"] == "invalid_client"


def test_a_new_secret_replaces_the_old_one_at_once(client):
    client_id = register(client).json()["data"]["attributes"]["clientId"]
    old = new_secret(client, "myoauthapp_5f0acme").json()["data"]["attributes"]["clientSecret"]
    new = new_secret(client, "myoauthapp_5f0acme").json()["data"]["attributes"]["clientSecret"]

    assert old != new
    stale = kustomer_token(
        client,
        grant_type="refresh_token",
        refresh_token="x",
        client_id=client_id,
        client_secret=old,
    )
    fresh = kustomer_token(
        client,
        grant_type="refresh_token",
        refresh_token="x",
        client_id=client_id,
        client_secret=new,
    )
    assert stale.json()["error"] == "invalid_client"
    assert fresh.json()["error"] == "invalid_grant"  # authenticated; the refresh token is junk


def test_private_app_is_only_installable_in_its_org(client):
    client_id = register(client).json()["data"]["attributes"]["clientId"]
    new_secret(client, "myoauthapp_5f0acme")
    page = client.get(
        authorize_url("kustomer-org-authorize", "globex", **kustomer_params(client_id=client_id))
    )
    assert page.status_code == 400


@pytest.mark.parametrize("key", [None, "unknown-key"])
def test_unknown_api_key_is_401(client, key):
    assert register(client, key=key).status_code == 401
    assert new_secret(client, "myoauthapp_5f0acme", key=key).status_code == 401


def test_api_key_without_app_roles_is_403(client):
    assert register(client, key="kustomer-weak-key").status_code == 403
    assert state.kustomer_apps == {}


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in APP.items() if k != "version"},
        {**APP, "title": ""},
        {**APP, "app": "bad name/../"},
        {**APP, "visibility": "secret"},
        {**APP, "app": 3},
        ["not", "an", "object"],
    ],
)
def test_register_validates_the_definition(client, body):
    response = register(client, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["status"] == 400


def test_register_garbage_body_is_400(client):
    response = client.post(
        url("kustomer-apps-register"),
        b"{nope",
        content_type="application/json",
        **bearer("kustomer-admin-key"),
    )
    assert response.status_code == 400


def test_same_version_twice_is_409_new_version_keeps_the_client(client):
    client_id = register(client).json()["data"]["attributes"]["clientId"]

    assert register(client).status_code == 409
    upgraded = register(client, {**APP, "version": "0.0.2"})
    assert upgraded.status_code == 200
    assert upgraded.json()["data"]["id"] == "myoauthapp_5f0acme-0.0.2"
    assert upgraded.json()["data"]["attributes"]["clientId"] == client_id


def test_unknown_app_is_404(client):
    assert new_secret(client, "ghost_5f0acme").status_code == 404


def test_another_orgs_app_is_404(client):
    register(client)
    state.add_api_key(
        "globex-key", "globex", "5f0globex", ["org.admin.apps", "org.permission.apps"]
    )
    assert new_secret(client, "myoauthapp_5f0acme", key="globex-key").status_code == 404


def test_apps_api_is_post_only_and_logged(client):
    assert client.get(url("kustomer-apps-register")).status_code == 405
    register(client)
    assert state.count(endpoint="apps", tenant="acme", status=200) == 1
