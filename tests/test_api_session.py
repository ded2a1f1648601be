"""installation.api_session(): bearer auth, refresh before use, one retry on 401."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_helpdesk_oauth.exceptions import NotInstalled
from django_helpdesk_oauth.models import Installation, Token

pytestmark = pytest.mark.django_db(transaction=True)


def api_requests(sandbox):
    return sandbox.state.matching_requests(endpoint="api")


def refreshes(sandbox):
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


def test_relative_urls_resolve_against_the_tenants_api(sandbox, installed, kustomer_app):
    session = installed(kustomer_app).api_session()
    response = session.get("customers")
    assert response.status_code == 200
    assert api_requests(sandbox)[0]["path"].endswith("/kustomer/acme/api/v1/customers")


def test_an_expired_token_is_refreshed_first(sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = installation.api_session().get("users/current")
    assert response.status_code == 200
    assert [r["status"] for r in refreshes(sandbox)] == [200]
    assert [r["status"] for r in api_requests(sandbox)] == [200]
    assert Token.objects.get().expires_at > timezone.now() + timedelta(hours=23)


def test_a_401_refreshes_once_and_retries_once(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    # The provider stops accepting the access token before its stated expiry.
    sandbox.state.revoke_token(Token.objects.get().access_token)
    response = installation.api_session().get("account")
    assert response.status_code == 200
    assert [r["status"] for r in api_requests(sandbox)] == [401, 200]
    assert len(refreshes(sandbox)) == 1


def test_a_second_401_is_returned_not_looped(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    sandbox.state.inject("api", status=401, times=5)
    response = installation.api_session().get("account")
    assert response.status_code == 401
    assert len(api_requests(sandbox)) == 2
    assert len(refreshes(sandbox)) == 1


def test_a_burst_of_calls_reads_the_token_once(
    sandbox, installed, kustomer_app, django_assert_max_num_queries
):
    session = installed(kustomer_app).api_session()
    with django_assert_max_num_queries(1):
        for _ in range(5):
            assert session.get("users/current").status_code == 200


def test_an_uninstall_reaches_an_open_session_after_the_ttl(
    sandbox, installed, gorgias_app, settings
):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "SESSION_TOKEN_TTL": 0}
    installation = installed(gorgias_app)
    session = installation.api_session()
    assert session.get("account").status_code == 200
    Installation.objects.update(status="uninstalled")
    with pytest.raises(NotInstalled):
        session.get("account")


def test_one_query_per_call_while_fresh(
    sandbox, installed, kustomer_app, django_assert_max_num_queries
):
    session = installed(kustomer_app).api_session()
    for _ in range(3):
        with django_assert_max_num_queries(1):
            assert session.get("users/current").status_code == 200


def test_other_hosts_never_get_the_token(sandbox, installed, kustomer_app):
    session = installed(kustomer_app).api_session()
    with pytest.raises(ValueError):
        session.get("https://evil.example.com/steal")
    assert api_requests(sandbox) == []


def test_an_uninstalled_installation_has_no_session_token(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    Installation.objects.update(status="uninstalled")
    with pytest.raises(NotInstalled):
        installation.api_session().get("account")


def test_repr_shows_no_token(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    token = Token.objects.get()
    for text in (repr(installation.api_session()), repr(token), repr(installation), str(token)):
        assert token.access_token not in text and token.refresh_token not in text
