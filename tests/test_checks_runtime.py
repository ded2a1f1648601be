"""What the flows do at run time when a setting that ``check`` reports slips through:
never a relative redirect after an install, and a callback that came without the
session cookie says so (still a 400, nothing written)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token
from django_helpdesk_oauth.sandbox.testing import consent
from tests import flows


def use_success_url(settings, value):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "SUCCESS_URL": value}


# -- SUCCESS_URL -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["integrations", "./done/", ""])
def test_an_unresolvable_success_url_redirects_to_the_root(
    sandbox, browser, gorgias_app, settings, caplog, value
):
    # The case: "integrations" is no URL name of tests/urls.py; followed as is,
    # the browser would land on /oauth/gorgias/callback/integrations (a 404).
    use_success_url(settings, value)
    with caplog.at_level(logging.WARNING, logger="django_helpdesk_oauth.views"):
        response = flows.install(browser, sandbox, "gorgias", {"account": "acme"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert Installation.objects.filter(app=gorgias_app, tenant="acme").exists()
    [record] = [r for r in caplog.records if "SUCCESS_URL" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert repr(value) in record.getMessage()


@pytest.mark.parametrize(("value", "location"), [("admin:index", "/admin/"), ("/done/", "/done/")])
def test_a_url_name_or_a_root_path_is_followed(
    sandbox, browser, gorgias_app, settings, caplog, value, location
):
    use_success_url(settings, value)
    with caplog.at_level(logging.WARNING, logger="django_helpdesk_oauth.views"):
        response = flows.install(browser, sandbox, "gorgias", {"account": "acme"})
    assert response.status_code == 302
    assert response.headers["Location"] == location
    assert not [r for r in caplog.records if "SUCCESS_URL" in r.getMessage()]


# -- a callback without the session cookie ----------------------------------------------


def start(client):
    response = client.get(reverse("helpdesk_oauth:install", args=["gorgias"]), {"account": "acme"})
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def callback(client, **params):
    return client.get(reverse("helpdesk_oauth:callback", args=["gorgias"]), params)


def nothing_written():
    return not Installation.objects.exists() and not Token.objects.exists()


def test_no_session_cookie_says_the_browser_sent_none(client, gorgias_app):
    state = start(client)
    response = callback(Client(), code="abc", state=state)
    assert response.status_code == 400
    text = response.content.decode()
    assert "sent no session cookie" in text
    assert "different host" in text
    assert "SESSION_COOKIE_SAMESITE" not in text
    assert nothing_written()
    assert AuthorizationRequest.objects.count() == 1


def test_no_session_cookie_under_strict_samesite_names_the_setting(client, gorgias_app, settings):
    settings.SESSION_COOKIE_SAMESITE = "Strict"
    state = start(client)
    response = callback(Client(), code="abc", state=state)
    assert response.status_code == 400
    text = response.content.decode()
    assert "did not send the session cookie" in text
    assert "SESSION_COOKIE_SAMESITE is &#x27;Strict&#x27;" in text
    assert "&#x27;Lax&#x27;" in text
    assert nothing_written()


def test_with_the_session_cookie_an_expired_request_keeps_the_usual_message(client, gorgias_app):
    start(client)
    response = callback(client, code="abc", state="forged-state-value")
    assert response.status_code == 400
    assert b"invalid or has expired" in response.content
    assert b"session cookie" not in response.content


def test_real_flow_whose_callback_comes_back_without_the_cookie(
    sandbox, browser, gorgias_app, settings
):
    # What a browser does with a Strict cookie on the provider's redirect back: the
    # consent happens, the callback arrives without the session cookie.
    settings.SESSION_COOKIE_SAMESITE = "Strict"
    start_response = browser.get(
        f"{sandbox.url}/oauth/gorgias/install/",
        params={"account": "acme"},
        allow_redirects=False,
        timeout=10,
    )
    assert "Strict" in start_response.headers["Set-Cookie"]
    decision = consent(browser, start_response)
    assert decision.status_code == 302
    browser.cookies.clear()
    response = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "SESSION_COOKIE_SAMESITE is &#x27;Strict&#x27;" in response.text
    assert nothing_written()
