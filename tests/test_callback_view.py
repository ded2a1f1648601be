"""The callback view refuses every bad input with a 4xx and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token


def start(client, slug="gorgias", **params):
    params = params or {"account": "acme"}
    response = client.get(reverse("helpdesk_oauth:install", args=[slug]), params)
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def callback(client, slug="gorgias", **params):
    return client.get(reverse("helpdesk_oauth:callback", args=[slug]), params)


def no_installation():
    return not Installation.objects.exists() and not Token.objects.exists()


def test_missing_state(client, gorgias_app):
    start(client)
    response = callback(client, code="abc")
    assert response.status_code == 400
    assert no_installation()
    assert AuthorizationRequest.objects.count() == 1  # the real pending request is untouched


def test_forged_state(client, gorgias_app):
    start(client)
    response = callback(client, code="abc", state="forged-state-value")
    assert response.status_code == 400
    assert no_installation()
    assert AuthorizationRequest.objects.count() == 1


def test_expired_state(client, gorgias_app):
    state = start(client)
    AuthorizationRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = callback(client, code="abc", state=state)
    assert response.status_code == 400
    assert no_installation()


def test_state_from_another_browser_session(client, gorgias_app):
    state = start(client)
    response = callback(Client(), code="abc", state=state)
    assert response.status_code == 400
    assert no_installation()
    assert AuthorizationRequest.objects.count() == 1  # the victim's flow can still finish


def test_state_of_another_app(client, gorgias_app, kustomer_app):
    state = start(client)
    response = callback(client, "kustomer", code="abc", state=state)
    assert response.status_code == 400
    assert no_installation()


def test_access_denied(client, gorgias_app):
    state = start(client)
    response = callback(client, error="access_denied", state=state)
    assert response.status_code == 403
    assert b"access was not granted" in response.content
    assert no_installation()
    # The state is spent: it cannot be replayed with a code afterwards.
    assert callback(client, code="abc", state=state).status_code == 400


def test_error_with_forged_state_is_still_a_state_error(client, gorgias_app):
    start(client)
    response = callback(client, error="access_denied", state="forged")
    assert response.status_code == 400


def test_iss_mismatch_is_refused(client, gorgias_app):
    state = start(client)
    response = callback(client, code="abc", state=state, iss="https://evil.gorgias.com")
    assert response.status_code == 400
    assert no_installation()


def test_repeated_parameters_are_refused(client, gorgias_app):
    state = start(client)
    url = reverse("helpdesk_oauth:callback", args=["gorgias"])
    response = client.get(f"{url}?state={state}&state=other&code=abc")
    assert response.status_code == 400
    assert no_installation()


def test_missing_code(client, gorgias_app):
    state = start(client)
    assert callback(client, state=state).status_code == 400
    assert no_installation()


@pytest.mark.parametrize("slug", ["unknown", "disabled"])
def test_unknown_or_disabled_app(client, gorgias_app, slug):
    state = start(client)
    gorgias_app.enabled = slug != "disabled"
    gorgias_app.save()
    response = callback(
        client, "unknown" if slug == "unknown" else "gorgias", code="x", state=state
    )
    assert response.status_code == 404
    assert no_installation()
