"""The install view: tenant validation, the authorization redirect, and refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token
from tests.bad_inputs import BAD_TENANTS


def install_url(slug: str) -> str:
    return reverse("helpdesk_oauth:install", args=[slug])


def nothing_written() -> bool:
    return not (
        AuthorizationRequest.objects.exists()
        or Installation.objects.exists()
        or Token.objects.exists()
    )


def test_gorgias_install_redirects_to_the_tenants_authorize_url(client, gorgias_app):
    response = client.get(install_url("gorgias"), {"account": "Acme"})
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "acme.gorgias.com", "/oauth/authorize")
    params = parse_qs(url.query)
    assert params["client_id"] == ["gorgias-test-client"]
    assert params["response_type"] == ["code"]
    assert params["scope"] == ["openid email profile offline write:all"]
    assert params["redirect_uri"] == ["http://testserver/oauth/gorgias/callback/"]
    assert params["nonce"][0] and params["state"][0]
    assert params["code_challenge_method"] == ["S256"]
    request = AuthorizationRequest.objects.get()
    assert request.tenant == "acme"
    # The state is stored hashed, and the verifier encrypted.
    assert request.state_hash != params["state"][0]
    assert request.nonce == params["nonce"][0]


def test_kustomer_install_uses_the_per_org_endpoint_and_pkce(client, kustomer_app):
    response = client.get(install_url("kustomer"), {"org": "acme"})
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert (url.netloc, url.path) == ("acme.kustomerapp.com", "/oauth/authorize")
    params = parse_qs(url.query)
    assert "offline_access" in params["scope"][0].split()
    assert params["code_challenge_method"] == ["S256"]
    assert "nonce" not in params


def test_kustomer_install_without_org_asks_for_it(client, kustomer_app):
    response = client.get(install_url("kustomer"))
    assert response.status_code == 200
    assert b'name="org"' in response.content
    assert nothing_written()


def test_generic_tenant_parameter_works_for_every_provider(client, gorgias_app, kustomer_app):
    assert client.get(install_url("gorgias"), {"tenant": "acme"}).status_code == 302
    assert client.get(install_url("kustomer"), {"tenant": "acme"}).status_code == 302


@pytest.mark.parametrize("tenant", BAD_TENANTS)
@pytest.mark.parametrize("slug,param", [("gorgias", "account"), ("kustomer", "org")])
def test_invalid_tenants_are_refused(client, gorgias_app, kustomer_app, slug, param, tenant):
    response = client.get(install_url(slug), {param: tenant})
    assert response.status_code == 400
    assert b"Installation not completed" in response.content
    assert nothing_written()


def test_gorgias_install_without_account_is_refused(client, gorgias_app):
    response = client.get(install_url("gorgias"))
    assert response.status_code == 400
    assert nothing_written()


def test_unknown_app_is_404(client, db):
    response = client.get(install_url("nope"), {"account": "acme"})
    assert response.status_code == 404
    assert nothing_written()


def test_disabled_app_is_404(client, gorgias_app):
    gorgias_app.enabled = False
    gorgias_app.save()
    response = client.get(install_url("gorgias"), {"account": "acme"})
    assert response.status_code == 404
    assert nothing_written()


def test_install_is_get_only(client, gorgias_app):
    assert client.post(install_url("gorgias"), {"account": "acme"}).status_code == 405
    assert nothing_written()


def test_kustomer_global_endpoints_are_selected_by_settings(client, kustomer_app, settings):
    from django_helpdesk_oauth.providers.kustomer import GLOBAL_ENDPOINTS

    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "PROVIDERS": {"kustomer": GLOBAL_ENDPOINTS},
    }
    response = client.get(install_url("kustomer"), {"org": "acme"})
    assert urlsplit(response["Location"]).netloc == "api.apps.kustomerapp.com"


def test_redirect_base_url_setting(client, gorgias_app, settings):
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "REDIRECT_BASE_URL": "https://app.example.com/",
    }
    response = client.get(install_url("gorgias"), {"account": "acme"})
    params = parse_qs(urlsplit(response["Location"]).query)
    assert params["redirect_uri"] == ["https://app.example.com/oauth/gorgias/callback/"]


def test_app_of_an_unregistered_provider_is_404(client, gorgias_app):
    type(gorgias_app).objects.filter(pk=gorgias_app.pk).update(provider="nosuchdesk")
    response = client.get(install_url("gorgias"), {"account": "acme"})
    assert response.status_code == 404
    assert nothing_written()


def test_a_repeated_tenant_parameter_is_refused(client, gorgias_app):
    response = client.get(install_url("gorgias") + "?account=acme&account=evil")
    assert response.status_code == 400
    assert nothing_written()
