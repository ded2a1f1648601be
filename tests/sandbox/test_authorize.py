"""The consent page and the user's decision, for both providers."""

from urllib.parse import urlsplit

import pytest
from django.test import Client

from django_helpdesk_oauth.sandbox.state import state
from django_helpdesk_oauth.sandbox.testing import consent_form
from tests.sandbox.helpers import (
    CHALLENGE,
    GORGIAS_REDIRECT_URI,
    REDIRECT_URI,
    authorize_url,
    decide,
    gorgias_params,
    kustomer_params,
    query,
    url,
)


def test_gorgias_consent_page_shows_app_tenant_and_scopes(client):
    page = client.get(authorize_url("gorgias-authorize", "acme", **gorgias_params()))

    assert page.status_code == 200
    assert page.templates[0].name == "helpdesk_oauth_sandbox/consent.html"
    html = page.content.decode()
    assert "Test Gorgias App" in html
    assert "acme" in html
    for scope in ("openid", "email", "profile", "offline", "write:all"):
        assert f"<code>{scope}</code>" in html
    form = consent_form(html)
    assert {"csrfmiddlewaretoken", "authorization_request"} <= set(form["fields"])
    assert form["decisions"] == {"allow", "deny"}
    assert page["X-Frame-Options"] == "DENY"


def test_allow_redirects_with_code_and_state_keeping_the_redirect_query(client):
    response = decide(client, authorize_url("gorgias-authorize", "acme", **gorgias_params()))

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("https://app.example.com/oauth/callback?")
    params = query(location)
    assert params["account"] == "acme"
    assert params["state"] == "st-123"
    assert params["code"]
    assert "iss" not in params
    code = state.codes[params["code"]]
    assert (code.tenant, code.redirect_uri, code.nonce) == (
        "acme",
        GORGIAS_REDIRECT_URI,
        "nonce-456",
    )
    assert code.expires_at - state.now() == pytest.approx(60, abs=5)


def test_deny_redirects_with_access_denied(client):
    authorize = authorize_url("gorgias-authorize", "acme", **gorgias_params())
    response = decide(client, authorize, allow=False)

    assert response.status_code == 302
    params = query(response["Location"])
    assert params["error"] == "access_denied"
    assert params["state"] == "st-123"
    assert "code" not in params
    assert state.codes == {}


def test_iss_is_appended_when_enabled(client):
    state.send_iss = True
    response = decide(client, authorize_url("gorgias-authorize", "acme", **gorgias_params()))

    expected = state.issuer_for("http://testserver/sandbox", "gorgias", "acme")
    assert (
        query(response["Location"])["iss"] == expected == "http://testserver/sandbox/gorgias/acme"
    )


def test_iss_for_both_kustomer_endpoint_sets(client):
    state.send_iss = True
    seed = decide(client, authorize_url("kustomer-authorize", **kustomer_params()), org="acme")
    per_org = decide(client, authorize_url("kustomer-org-authorize", "acme", **kustomer_params()))

    assert query(seed["Location"])["iss"] == "http://testserver/sandbox/kustomer"
    assert query(per_org["Location"])["iss"] == "http://testserver/sandbox/kustomer/acme"


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "nobody"},
        {"client_id": ""},
        {"redirect_uri": ""},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": "/relative/callback"},
        {"redirect_uri": "https://app.example.com/cb#fragment"},
        {"redirect_uri": "https://app.example.com/cb\r\nSet-Cookie: x=1"},
        {"redirect_uri": "http://[::1"},
    ],
)
def test_bad_client_or_redirect_uri_shows_an_error_page_never_redirects(client, overrides):
    params = gorgias_params(**overrides)
    response = client.get(authorize_url("gorgias-authorize", "acme", **params))

    assert response.status_code == 400
    assert "Location" not in response
    assert "Authorization error" in response.content.decode()


def test_registered_redirect_uris_are_enforced(client):
    state.register_client(
        "gorgias", "strict", "s3cret", redirect_uris=["https://app.example.com/oauth/callback"]
    )
    good = client.get(
        authorize_url(
            "gorgias-authorize",
            "acme",
            **gorgias_params(client_id="strict", redirect_uri=REDIRECT_URI),
        )
    )
    bad = client.get(
        authorize_url(
            "gorgias-authorize",
            "acme",
            **gorgias_params(client_id="strict", redirect_uri="https://evil.example.com/cb"),
        )
    )

    assert good.status_code == 200
    assert bad.status_code == 400


def test_a_redirect_uri_registered_with_its_query_matches_exactly(client):
    # Gorgias's own demo registers and sends ".../oauth/callback?account=acme".
    state.register_client("gorgias", "demo", "s3cret", redirect_uris=[GORGIAS_REDIRECT_URI])

    response = decide(
        client, authorize_url("gorgias-authorize", "acme", **gorgias_params(client_id="demo"))
    )

    assert response.status_code == 302
    assert response["Location"].startswith(GORGIAS_REDIRECT_URI + "&")
    assert query(response["Location"])["account"] == "acme"


@pytest.mark.parametrize(
    "sent",
    [
        REDIRECT_URI,  # the query left out
        f"{REDIRECT_URI}?account=globex",  # another value
        f"{REDIRECT_URI}?account=acme&x=1",  # a parameter added
        f"{REDIRECT_URI}?x=1&account=acme",  # reordered and added
        f"{REDIRECT_URI}/?account=acme",  # a trailing slash
        f"{REDIRECT_URI}?account=ACME",  # case of the value
        f"{REDIRECT_URI}?account=acme&",  # an empty trailing separator
        "https://APP.example.com/oauth/callback?account=acme",  # case of the host
        "http://app.example.com/oauth/callback?account=acme",  # the scheme
        "https://app.example.com:443/oauth/callback?account=acme",  # an explicit port
        f"{REDIRECT_URI}?account=acme%20",  # an encoded space
    ],
)
def test_redirect_uris_are_compared_as_whole_strings(client, sent):
    # RFC 6749 §3.1.2.3 simple string comparison; RFC 9700 §4.1.3 exact matching.
    state.register_client("gorgias", "demo", "s3cret", redirect_uris=[GORGIAS_REDIRECT_URI])

    response = client.get(
        authorize_url(
            "gorgias-authorize", "acme", **gorgias_params(client_id="demo", redirect_uri=sent)
        )
    )

    assert response.status_code == 400
    assert "Location" not in response


def test_a_redirect_uri_registered_without_a_query_refuses_one_with_a_query(client):
    state.register_client("kustomer", "plain", "s3cret", redirect_uris=[REDIRECT_URI])

    with_query = client.get(
        authorize_url(
            "kustomer-org-authorize",
            "acme",
            **kustomer_params(client_id="plain", redirect_uri=f"{REDIRECT_URI}?org=acme"),
        )
    )
    without = client.get(
        authorize_url("kustomer-org-authorize", "acme", **kustomer_params(client_id="plain"))
    )

    assert with_query.status_code == 400
    assert without.status_code == 200


def test_one_of_several_registered_redirect_uris_matches(client):
    uris = [f"{REDIRECT_URI}?account=acme", f"{REDIRECT_URI}?account=globex"]
    state.register_client("gorgias", "multi", "s3cret", redirect_uris=uris)

    for tenant in ("acme", "globex"):
        params = gorgias_params(client_id="multi", redirect_uri=f"{REDIRECT_URI}?account={tenant}")
        assert client.get(authorize_url("gorgias-authorize", tenant, **params)).status_code == 200


def test_wrong_response_type_goes_back_to_the_client(client):
    params = gorgias_params(response_type="token")
    response = client.get(authorize_url("gorgias-authorize", "acme", **params))

    assert response.status_code == 302
    assert (
        query(response["Location"]).items()
        >= {
            "error": "unsupported_response_type",
            "state": "st-123",
            "account": "acme",
        }.items()
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": ""},
        {"code_challenge": "short"},
        {"code_challenge": ""},
    ],
)
def test_kustomer_rejects_plain_or_malformed_pkce(client, overrides):
    params = kustomer_params(**overrides)
    response = client.get(authorize_url("kustomer-org-authorize", "acme", **params))

    assert response.status_code == 302
    assert query(response["Location"])["error"] == "invalid_request"


def test_kustomer_challenge_without_method_is_plain_and_rejected(client):
    params = kustomer_params()
    del params["code_challenge_method"]
    response = client.get(authorize_url("kustomer-org-authorize", "acme", **params))

    assert query(response["Location"])["error"] == "invalid_request"


def test_gorgias_ignores_pkce(client):
    params = gorgias_params(code_challenge="x", code_challenge_method="plain")
    response = decide(client, authorize_url("gorgias-authorize", "acme", **params))

    code = state.codes[query(response["Location"])["code"]]
    assert code.code_challenge is None


def test_kustomer_global_consent_asks_for_the_org_prefilled_from_the_hint(client):
    page = client.get(authorize_url("kustomer-authorize", org="acme", **kustomer_params()))

    form = consent_form(page.content.decode())
    assert form["fields"]["org"] == "acme"
    assert "Organization" in page.content.decode()


def test_kustomer_global_code_is_bound_to_the_submitted_org(client):
    response = decide(
        client, authorize_url("kustomer-authorize", **kustomer_params()), org="Globex"
    )

    code = state.codes[query(response["Location"])["code"]]
    assert code.tenant == "globex"
    assert code.code_challenge == CHALLENGE
    assert code.redirect_uri == REDIRECT_URI


@pytest.mark.parametrize("org", ["", "evil.com/x", "acme.evil.com", "ünicode", "-acme"])
def test_kustomer_global_rejects_an_invalid_org(client, org):
    response = decide(client, authorize_url("kustomer-authorize", **kustomer_params()), org=org)

    assert response.status_code == 400
    assert "valid organization" in response.content.decode()
    assert state.codes == {}


def test_per_org_consent_has_no_org_field(client):
    page = client.get(authorize_url("kustomer-org-authorize", "acme", **kustomer_params()))

    assert "org" not in consent_form(page.content.decode())["fields"]


@pytest.mark.parametrize("tenant", ["ACME", "evil.com", "acme-", "a" * 64])
def test_invalid_tenants_are_404(client, tenant):
    path = f"/sandbox/gorgias/{tenant}/oauth/authorize"
    assert client.get(path, gorgias_params()).status_code == 404
    assert client.post(f"/sandbox/gorgias/{tenant}/oauth/token").status_code == 404


def test_decision_needs_csrf():
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(authorize_url("gorgias-authorize", "acme", **gorgias_params()))
    form = consent_form(page.content.decode())
    fields = dict(form["fields"], decision="allow")
    del fields["csrfmiddlewaretoken"]

    forged = browser.post(form["action"], fields)
    genuine = browser.post(form["action"], dict(form["fields"], decision="allow"))

    assert forged.status_code == 403
    assert genuine.status_code == 302
    assert len(state.codes) == 1


def test_tampered_signed_request_is_refused(client):
    page = client.get(authorize_url("gorgias-authorize", "acme", **gorgias_params()))
    form = consent_form(page.content.decode())
    blob = form["fields"]["authorization_request"]
    tampered = blob[:-2] + ("AA" if not blob.endswith("AA") else "BB")

    response = client.post(form["action"], {"authorization_request": tampered, "decision": "allow"})

    assert response.status_code == 400
    assert state.codes == {}


def test_signed_request_of_another_tenant_is_refused(client):
    page = client.get(authorize_url("gorgias-authorize", "acme", **gorgias_params()))
    form = consent_form(page.content.decode())

    response = client.post(
        url("gorgias-authorize", tenant="globex"), dict(form["fields"], decision="allow")
    )

    assert response.status_code == 400
    assert state.codes == {}


@pytest.mark.parametrize("decision", ["", "maybe"])
def test_decision_must_be_allow_or_deny(client, decision):
    page = client.get(authorize_url("gorgias-authorize", "acme", **gorgias_params()))
    form = consent_form(page.content.decode())

    response = client.post(form["action"], dict(form["fields"], decision=decision))

    assert response.status_code == 400
    assert state.codes == {}


def test_garbage_post_is_400(client):
    response = client.post(url("gorgias-authorize", tenant="acme"), {"decision": "allow"})
    assert response.status_code == 400


def test_form_action_posts_back_to_the_same_endpoint(client):
    page = client.get(authorize_url("kustomer-org-authorize", "acme", **kustomer_params()))
    form = consent_form(page.content.decode())
    assert urlsplit(form["action"]).path == url("kustomer-org-authorize", tenant="acme")
