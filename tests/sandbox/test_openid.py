"""Gorgias as an OpenID provider: RS256 tokens verified against the published JWKS,
discovery whose URLs resolve, userinfo; over real loopback HTTP, with a client whose
redirect URI was registered with its query (what Gorgias's own demo app does)."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from django_helpdesk_oauth.sandbox.server import SandboxServer
from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.testing import consent
from tests.sandbox.helpers import REDIRECT_URI, gorgias_params, query

TIMEOUT = 10
CLIENT_ID, CLIENT_SECRET = "demo-app", "demo-secret-0001"
DEMO_REDIRECT_URI = f"{REDIRECT_URI}?account=acme"


@pytest.fixture(scope="module")
def server():
    with SandboxServer() as running:
        yield running


@pytest.fixture
def issuer(server):
    return f"{server.url}/sandbox/gorgias/acme"


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(token: str, jwks: dict) -> dict:
    """What a relying party does by hand: pick the JWK by kid, check RS256, read the claims."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64decode(header_b64))
    assert header["alg"] == "RS256"
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(b64decode(jwk["e"]), "big"), int.from_bytes(b64decode(jwk["n"]), "big")
    ).public_key()
    public_key.verify(
        b64decode(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(b64decode(payload_b64))


def install(issuer: str, **overrides: str) -> dict:
    """Authorize as Gorgias's demo app (redirect URI with its query), then redeem the code."""
    state.register_client("gorgias", CLIENT_ID, CLIENT_SECRET, redirect_uris=[DEMO_REDIRECT_URI])
    params = gorgias_params(client_id=CLIENT_ID, redirect_uri=DEMO_REDIRECT_URI, **overrides)
    redirect = consent(requests.Session(), f"{issuer}/oauth/authorize?{urlencode(params)}")
    assert redirect.status_code == 302
    assert redirect.headers["Location"].startswith(DEMO_REDIRECT_URI + "&")
    response = requests.post(
        f"{issuer}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query(redirect.headers["Location"])["code"],
            "redirect_uri": DEMO_REDIRECT_URI,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json()


def discovery(issuer: str) -> dict:
    response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()


def test_discovery_document_and_its_urls_resolve(issuer):
    config = discovery(issuer)

    assert config["issuer"] == issuer
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert "code" in config["response_types_supported"]
    for name in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        assert config[name].startswith(issuer + "/oauth/")
    # Each URL is served: the JWKS and the consent page answer GET, token/revoke want POST.
    assert requests.get(config["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    authorize = f"{config['authorization_endpoint']}?{urlencode(gorgias_params())}"
    assert requests.get(authorize, timeout=TIMEOUT).status_code == 200
    for name in ("token_endpoint", "revocation_endpoint"):
        answer = requests.post(config[name], data={}, timeout=TIMEOUT)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_client"
    assert requests.get(config["userinfo_endpoint"], timeout=TIMEOUT).status_code == 401


def test_each_account_is_its_own_issuer(server):
    acme = discovery(f"{server.url}/sandbox/gorgias/acme")
    globex = discovery(f"{server.url}/sandbox/gorgias/globex")

    assert acme["issuer"] != globex["issuer"]
    assert globex["jwks_uri"].startswith(globex["issuer"] + "/")


def test_id_token_and_access_token_verify_against_the_jwks(issuer):
    tokens = install(issuer)
    jwks = requests.get(discovery(issuer)["jwks_uri"], timeout=TIMEOUT).json()

    id_claims = verify(tokens["id_token"], jwks)
    access_claims = verify(tokens["access_token"], jwks)

    assert id_claims["iss"] == access_claims["iss"] == issuer
    assert id_claims["aud"] == [CLIENT_ID]
    assert id_claims["nonce"] == "nonce-456"
    assert id_claims["sub"] == access_claims["sub"] == state.user_for("gorgias", "acme")["id"]
    assert access_claims["exp"] - access_claims["iat"] == 86400
    # OpenID Connect Core §3.1.3.6: at_hash is the left half of SHA-256 of the access token.
    digest = hashes.Hash(hashes.SHA256())
    digest.update(tokens["access_token"].encode())
    at_hash = base64.urlsafe_b64encode(digest.finalize()[:16]).rstrip(b"=").decode()
    assert id_claims["at_hash"] == at_hash


def test_a_tampered_id_token_does_not_verify(issuer):
    tokens = install(issuer)
    jwks = requests.get(discovery(issuer)["jwks_uri"], timeout=TIMEOUT).json()
    header, payload, signature = tokens["id_token"].split(".")
    claims = json.loads(b64decode(payload))
    forged = base64.urlsafe_b64encode(
        json.dumps({**claims, "email": "attacker@evil.example"}).encode()
    )

    with pytest.raises(InvalidSignature):
        verify(f"{header}.{forged.rstrip(b'=').decode()}.{signature}", jwks)


def test_after_a_reset_old_tokens_no_longer_verify(issuer):
    tokens = install(issuer)
    state.reset()  # a new key pair, as a new sandbox would have
    jwks = requests.get(discovery(issuer)["jwks_uri"], timeout=TIMEOUT).json()

    with pytest.raises((InvalidSignature, ValueError)):
        verify(tokens["id_token"], jwks)


def test_userinfo_returns_the_scoped_claims(issuer):
    tokens = install(issuer)
    endpoint = discovery(issuer)["userinfo_endpoint"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    got = requests.get(endpoint, headers=headers, timeout=TIMEOUT)
    posted = requests.post(endpoint, headers=headers, timeout=TIMEOUT)

    user = state.user_for("gorgias", "acme")
    assert got.json() == {"sub": user["id"], "name": user["name"], "email": user["email"]}
    assert posted.json() == got.json()
    id_claims = verify(
        tokens["id_token"], requests.get(discovery(issuer)["jwks_uri"], timeout=TIMEOUT).json()
    )
    assert got.json()["sub"] == id_claims["sub"]


def test_userinfo_releases_only_what_the_scope_allows(issuer):
    tokens = install(issuer, scope="openid offline")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    claims = requests.get(
        discovery(issuer)["userinfo_endpoint"], headers=headers, timeout=TIMEOUT
    ).json()

    assert claims == {"sub": state.user_for("gorgias", "acme")["id"]}


def test_userinfo_refuses_other_tokens(server, issuer):
    tokens = install(issuer)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    elsewhere = discovery(f"{server.url}/sandbox/gorgias/globex")["userinfo_endpoint"]
    no_openid = install(issuer, scope="offline write:all")

    other_account = requests.get(elsewhere, headers=headers, timeout=TIMEOUT)
    missing_scope = requests.get(
        discovery(issuer)["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {no_openid['access_token']}"},
        timeout=TIMEOUT,
    )

    assert other_account.status_code == 401
    assert other_account.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert missing_scope.status_code == 403
    assert missing_scope.json()["error"] == "insufficient_scope"


def test_the_signing_key_survives_a_restart_with_a_state_file(settings, tmp_path):
    from django_helpdesk_oauth.sandbox import jwt
    from django_helpdesk_oauth.sandbox.state import SandboxState

    settings.HELPDESK_OAUTH_SANDBOX = {
        **settings.HELPDESK_OAUTH_SANDBOX,
        "STATE_FILE": str(tmp_path / "state.json"),
    }
    first = SandboxState()
    token = jwt.encode({"sub": 1}, first.signing_key)
    first.save()

    restarted = SandboxState()
    assert restarted.public_jwks == first.public_jwks
    assert jwt.decode(token, restarted.signing_key.public_key()) == {"sub": 1}
