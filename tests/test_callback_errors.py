"""A provider's ``?error=`` on the callback: each RFC 6749 code gets its own page and status.

``access_denied`` is the user clicking Deny (403); ``server_error`` and
``temporarily_unavailable`` are the provider's own failures (502, try again);
any other code is a refused request (400). The code is kept (sanitized) on the
exception and quoted in the log; ``error_description`` is never shown and only
logged as a cut repr.
"""

from __future__ import annotations

import logging

import pytest

from django_helpdesk_oauth import services
from django_helpdesk_oauth.exceptions import (
    AuthorizationDenied,
    AuthorizationError,
    AuthorizationServerError,
    CodeRejected,
    FlowError,
    TokenExchangeFailed,
)
from django_helpdesk_oauth.models import AuthorizationRequest
from tests.test_callback_view import callback, no_installation, start

LOGGER = "django_helpdesk_oauth.services.install"


@pytest.mark.parametrize(
    ("code", "status", "text"),
    [
        ("access_denied", 403, b"access was not granted"),
        ("server_error", 502, b"The provider had a problem"),
        ("temporarily_unavailable", 502, b"The provider had a problem"),
        ("invalid_scope", 400, b"The provider refused the installation request"),
        ("unauthorized_client", 400, b"The provider refused the installation request"),
        ("invalid_request", 400, b"The provider refused the installation request"),
        ("unsupported_response_type", 400, b"The provider refused the installation request"),
        ("some_future_code", 400, b"The provider refused the installation request"),
    ],
)
def test_each_error_code_gets_its_page(client, gorgias_app, caplog, code, status, text):
    state = start(client)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        response = callback(client, error=code, state=state, error_description="Nope")
    assert response.status_code == status
    assert text in response.content
    assert b"Nope" not in response.content  # the description is never shown
    assert no_installation()
    assert f"error={code!r}" in caplog.text
    # The state is spent either way: no replay with a code afterwards.
    assert not AuthorizationRequest.objects.exists()


def test_a_server_error_is_not_the_user_clicking_deny(client, gorgias_app):
    state = start(client)
    response = callback(client, error="server_error", state=state)
    assert b"access was not granted" not in response.content
    assert b"try again" in response.content


@pytest.mark.parametrize(
    ("code", "cls", "kept"),
    [
        ("access_denied", AuthorizationDenied, "access_denied"),
        ("server_error", AuthorizationServerError, "server_error"),
        ("temporarily_unavailable", AuthorizationServerError, "temporarily_unavailable"),
        ("invalid_scope", AuthorizationError, "invalid_scope"),
        ("x" * 65, AuthorizationError, "unrecognized"),  # too long to be a code
        ("bad code\nFAKE LOG LINE", AuthorizationError, "unrecognized"),
        ("<script>", AuthorizationError, "unrecognized"),
        ("", AuthorizationError, "unrecognized"),
    ],
)
def test_the_python_api_raises_a_typed_error_keeping_the_code(client, gorgias_app, code, cls, kept):
    state = start(client)
    with pytest.raises(cls) as raised:
        services.complete_install(
            gorgias_app, {"state": state, "error": code}, session=client.session
        )
    assert type(raised.value) is cls
    assert raised.value.error == kept
    assert isinstance(raised.value, FlowError)
    assert raised.value.status == cls.status  # fixed per class, never set per instance


def test_a_hostile_code_and_description_never_reach_a_log_line_raw(client, gorgias_app, caplog):
    state = start(client)
    description = "x\nFAKE: installed acme\r\n" + "y" * 5000
    with caplog.at_level(logging.INFO, logger=LOGGER):
        response = callback(client, error="evil\ncode", state=state, error_description=description)
    assert response.status_code == 400
    [record] = [r for r in caplog.records if "the provider answered" in r.getMessage()]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line
    assert "error='unrecognized'" in line
    assert "y" * 201 not in line  # cut to 200 characters
    assert b"FAKE" not in response.content


def test_statuses_are_fixed_per_class():
    assert (AuthorizationError.status, AuthorizationDenied.status) == (400, 403)
    assert AuthorizationServerError.status == 502
    assert (TokenExchangeFailed.status, CodeRejected.status) == (502, 400)
    assert issubclass(CodeRejected, TokenExchangeFailed)  # callers catching it still do


def test_a_rejected_code_is_a_400_keeping_the_providers_error(client, sandbox, gorgias_app):
    # Over loopback HTTP: the sandbox knows no such code and answers invalid_grant.
    state = start(client)
    with pytest.raises(CodeRejected) as raised:
        services.complete_install(
            gorgias_app, {"state": state, "code": "never-issued"}, session=client.session
        )
    assert raised.value.error == "invalid_grant"
    assert raised.value.status == 400
    assert no_installation()


def test_a_rejected_code_on_the_callback_view_is_a_400(client, sandbox, gorgias_app):
    state = start(client)
    response = callback(client, code="never-issued", state=state)
    assert response.status_code == 400
    assert no_installation()
