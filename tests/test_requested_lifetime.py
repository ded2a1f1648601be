"""Model knobs needed by Zendesk (issue 11), tested on their own.

Client side: a token or refresh parameter declared as an ``int`` (Zendesk's
``expires_in``) travels as a JSON number in a JSON body and as digits in a form; a
value that is neither a str nor an int is refused when the class is created.

Sandbox side: a profile's ``AccessTokens.lifetime_param`` lets the request choose the
lifetime (the answer then carries ``expires_in``), and ``RefreshTokens.
rotation_revokes_access`` makes a rotating refresh revoke the grant's earlier access
tokens. Driven over loopback HTTP with a profile defined here only.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
import requests

from django_helpdesk_oauth.jwt import unverified_claims
from django_helpdesk_oauth.models import Token
from django_helpdesk_oauth.providers.base import Provider
from django_helpdesk_oauth.sandbox import profiles
from django_helpdesk_oauth.sandbox.endpoints import provider_settings
from django_helpdesk_oauth.sandbox.profile import (
    AccessTokens,
    Api,
    AuthServer,
    Profile,
    RefreshTokens,
    TokenEndpoint,
)
from django_helpdesk_oauth.sandbox.server import SandboxServer
from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services import Outcome, refresh_installation
from tests.sandbox.helpers import REDIRECT_URI, query
from tests.test_provider_definition import define, install, make_due, server  # noqa: F401

TIMEOUT = 10


# -- client side: typed static parameters ------------------------------------------------
def _sent(server, grant_type: str) -> list[bytes]:  # noqa: F811  (the fixture name)
    return [
        r["body"]
        for r in server.to("/oauth/token")
        if grant_type.encode() in r["body"]  # the grant type, in either body format
    ]


def test_an_int_parameter_is_a_json_number_on_the_exchange_and_the_refresh(
    client,
    server,  # noqa: F811
    define,  # noqa: F811
):
    app = define(
        client_auth="client_secret_post",
        token_request_format="json",
        token_params={"expires_in": 1800},
        refresh_params={"expires_in": 900, "mode": "x"},
    )
    _, done = install(client, app)
    assert done.status_code == 302
    make_due()
    assert refresh_installation(Token.objects.get().installation_id) is Outcome.REFRESHED
    [exchange] = [json.loads(b) for b in _sent(server, "authorization_code")]
    [refresh] = [json.loads(b) for b in _sent(server, "refresh_token")]
    assert exchange["expires_in"] == 1800 and isinstance(exchange["expires_in"], int)
    assert refresh["expires_in"] == 900 and isinstance(refresh["expires_in"], int)
    assert refresh["mode"] == "x"


def test_an_int_parameter_is_digits_in_a_form(client, server, define):  # noqa: F811
    app = define(client_auth="client_secret_post", token_params={"expires_in": 1800})
    _, done = install(client, app)
    assert done.status_code == 302
    [body] = _sent(server, "authorization_code")
    assert b"expires_in=1800" in body.split(b"&")


def test_only_a_str_parameter_that_looks_like_a_number_stays_a_str(
    client,
    server,  # noqa: F811
    define,  # noqa: F811
):
    app = define(
        client_auth="client_secret_post", token_request_format="json", token_params={"n": "7"}
    )
    assert install(client, app)[1].status_code == 302
    [body] = _sent(server, "authorization_code")
    assert json.loads(body)["n"] == "7"


@pytest.mark.parametrize("value", [True, 1.5, None, ["1"]], ids=repr)
@pytest.mark.parametrize("attr", ["token_params", "refresh_params"])
def test_a_parameter_neither_str_nor_int_is_refused_at_class_creation(attr, value):
    with pytest.raises(ValueError, match="must be a str or an int"):
        type("Bad", (Provider,), {"key": "bad", attr: {"expires_in": value}})


# -- sandbox side: the request chooses the lifetime; rotation revokes the access token --
def _tickets(ctx):
    return {"tenant": ctx.tenant}


PROFILE = Profile(
    key="lifedesk",
    title="Lifedesk",
    auth_servers={"tenant": AuthServer("{tenant}/oauth/authorize", "{tenant}/oauth/tokens")},
    token=TokenEndpoint(
        client_auth=frozenset({"client_secret_post"}), body_formats=frozenset({"json", "form"})
    ),
    access=AccessTokens(
        lifetime=1800,
        lifetime_field="absent",
        jwt=True,
        lifetime_param="expires_in",
        lifetime_param_range=(301, 172799),
    ),
    refresh=RefreshTokens(rotation="always", rotation_revokes_access=True),
    api=Api(
        base="{tenant}/api/",
        routes=(("tickets", _tickets),),
        error_body=lambda e: {"error": e.code},
        unauthorized_body=lambda d: {"error": "Couldn't authenticate you"},
    ),
)
CLIENT_ID, CLIENT_SECRET = "lifedesk-client", "lifedesk-secret-0001"


@pytest.fixture(scope="module")
def sandbox_server():
    with SandboxServer() as running:
        yield running


@pytest.fixture
def urls(sandbox_server):
    state.reset()
    profiles.register(PROFILE)
    state.register_client("lifedesk", CLIENT_ID, CLIENT_SECRET, redirect_uris=[REDIRECT_URI])
    settings = provider_settings(sandbox_server.url + "/sandbox")["lifedesk"]
    yield {k: v.replace("{tenant}", "acme") for k, v in settings.items()}
    profiles.unregister("lifedesk")
    state.reset()


def _code(urls) -> str:
    session = requests.Session()
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "st",
    }
    page = session.get(f"{urls['authorize_url']}?{urlencode(params)}", timeout=TIMEOUT)
    decision = consent(session, page)
    assert decision.status_code == 302, decision.text
    return query(decision.headers["Location"])["code"]


def _exchange(urls, as_json: bool = True, **extra):
    body = {
        "grant_type": "authorization_code",
        "code": _code(urls),
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **extra,
    }
    kwargs = {"json": body} if as_json else {"data": body}
    return requests.post(urls["token_url"], timeout=TIMEOUT, **kwargs)


def _refresh(urls, refresh_token: str, **extra):
    body = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **extra,
    }
    return requests.post(urls["token_url"], json=body, timeout=TIMEOUT)


def _api(urls, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(
        urls["api_base_url"] + "tickets", headers=headers, timeout=TIMEOUT
    ).status_code


def test_no_lifetime_requested_means_no_expires_in_only_the_jwt_exp(urls):
    before = time.time()
    answer = _exchange(urls)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "expires_in" not in body and "expires_at" not in body
    exp = unverified_claims(body["access_token"])["exp"]
    assert before - 1 <= exp - 1800 <= time.time()


@pytest.mark.parametrize("as_json, value", [(True, 900), (False, "900")], ids=["json", "form"])
def test_a_requested_lifetime_is_granted_and_stated(urls, as_json, value):
    answer = _exchange(urls, as_json, expires_in=value)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["expires_in"] == 900
    claims = unverified_claims(body["access_token"])
    assert claims["exp"] - claims["iat"] == 900
    refreshed = _refresh(urls, body["refresh_token"], expires_in=600).json()
    assert refreshed["expires_in"] == 600


FULLWIDTH_1800 = "\uff11\uff18\uff10\uff10"


@pytest.mark.parametrize("value", [300, 172800, -5, "soon", 1.5, FULLWIDTH_1800], ids=repr)
def test_a_lifetime_outside_the_documented_range_is_refused(urls, value):
    answer = _exchange(urls, expires_in=value)
    if isinstance(value, float):
        # Not an integer in JSON: ignored like any parameter of an unknown type.
        assert answer.status_code == 200 and "expires_in" not in answer.json()
        return
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert not state.access_tokens  # nothing issued


def test_a_rotating_refresh_revokes_the_previous_access_token(urls):
    first = _exchange(urls).json()
    assert _api(urls, first["access_token"]) == 200
    second = _refresh(urls, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert _api(urls, first["access_token"]) == 401  # the previous pair is gone
    assert _api(urls, second["access_token"]) == 200
    # The spent refresh token is refused too.
    assert _refresh(urls, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_without_the_knob_the_previous_access_token_lives_on(urls):
    profiles.register(Profile(**{**PROFILE.__dict__, "refresh": RefreshTokens(rotation="always")}))
    first = _exchange(urls).json()
    _refresh(urls, first["refresh_token"])
    assert _api(urls, first["access_token"]) == 200
