"""Garbage in, 4xx out: no sandbox endpoint answers 500 to bad input."""

import pytest
from django.test import Client

from tests.sandbox.helpers import basic

PATHS = [
    "/sandbox/",
    "/sandbox/gorgias/acme/oauth/authorize",
    "/sandbox/gorgias/acme/oauth/token",
    "/sandbox/gorgias/acme/oauth/revoke",
    "/sandbox/gorgias/acme/api/account",
    "/sandbox/kustomer/oauth/authorize",
    "/sandbox/kustomer/oauth/token",
    "/sandbox/kustomer/acme/oauth/authorize",
    "/sandbox/kustomer/acme/api/oauth/token",
    "/sandbox/kustomer/acme/api/v1/users/current",
    "/sandbox/kustomer/acme/api/v1/customers",
    "/sandbox/kustomer/apps-api/v1/apps/available",
    "/sandbox/kustomer/apps-api/v1/apps/available/x%00y/secret",
]

GARBAGE = [
    {"data": {}, "content_type": "application/x-www-form-urlencoded"},
    {"data": b"\xff\xfe\x00garbage", "content_type": "application/x-www-form-urlencoded"},
    {"data": b"--x\r\nnot multipart", "content_type": "multipart/form-data; boundary=x"},
    {"data": b"[1, 2", "content_type": "application/json"},
    {
        "data": {
            "grant_type": ["authorization_code", "refresh_token"],
            "code": "\x00",
            "client_id": "\u00e9" * 5000,
            "client_secret": "\u00e9",
            "redirect_uri": "http://[::1",
            "authorization_request": "x:y:z",
            "decision": "allow",
            "org": "\x00",
            "token": "",
            "refresh_token": "\x00",
        }
    },
]

HEADERS = [
    {},
    basic("\u00e9", "\u00e9"),
    {"HTTP_AUTHORIZATION": "Basic"},
    {"HTTP_AUTHORIZATION": "Bearer \x00"},
    {"HTTP_AUTHORIZATION": "Basic " + "A" * 10001},
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("headers", HEADERS)
def test_post_garbage_never_500(path, headers):
    browser = Client(raise_request_exception=False)
    for garbage in GARBAGE:
        response = browser.post(path, **garbage, **headers)
        assert response.status_code < 500, (path, garbage, response.content[:200])


@pytest.mark.parametrize("path", PATHS)
def test_get_garbage_never_500(path):
    browser = Client(raise_request_exception=False)
    for query in (
        "",
        "client_id=gorgias-test-client&redirect_uri=https://a.example/cb&response_type=code"
        "&scope=" + "s" * 5000,
        "client_id=kustomer-test-client&redirect_uri=https://a.example/cb&response_type=code"
        "&code_challenge=%00&code_challenge_method=S256&org=%FF",
        "client_id=gorgias-test-client&redirect_uri=https://a.example/cb&response_type=x&state=%0d%0a",
        "client_id=%FF%FE&redirect_uri=%00",
    ):
        response = browser.get(f"{path}?{query}", **basic("a", "b"))
        assert response.status_code < 500, (path, query, response.content[:200])
