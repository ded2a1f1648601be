"""The provider's declared scope separator is the one the authorize URL uses."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from django_helpdesk_oauth import client
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.providers.base import Provider


class CommaScopes(Provider):
    """Defined here only (never registered): Zoho-style comma-separated scopes."""

    key = "comma-test"
    name = "Comma"
    endpoints = {"authorize_url": "https://{tenant}.example.com/oauth/authorize"}
    scope_delimiter = ","


def authorize_query(provider, scopes):
    creds = client.Credentials(provider=provider, tenant="acme", client_id="cid", client_secret="s")
    url = client.authorization_url(
        creds, redirect_uri="https://app.example.com/cb", scopes=scopes, state="st", extra={}
    )
    return parse_qs(urlsplit(url).query)


def test_a_comma_provider_sends_comma_joined_scopes():
    query = authorize_query(CommaScopes(), ["Desk.tickets.READ", "Desk.basic.READ"])
    assert query["scope"] == ["Desk.tickets.READ,Desk.basic.READ"]


@pytest.mark.parametrize("key", ["gorgias", "kustomer"])
def test_built_in_providers_keep_spaces(key):
    query = authorize_query(get_provider(key), ["a", "b"])
    assert query["scope"] == ["a b"]


def test_no_scopes_means_no_scope_parameter():
    assert "scope" not in authorize_query(CommaScopes(), [])


def test_the_install_view_sends_the_apps_scopes_space_joined(client, gorgias_app):
    # The public path: a Gorgias app's own scopes reach the provider as one space-joined value.
    gorgias_app.scopes = "openid offline"
    gorgias_app.save()
    response = client.get(reverse("helpdesk_oauth:install", args=["gorgias"]), {"account": "acme"})
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["scope"] == ["openid offline"]
