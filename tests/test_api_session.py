"""installation.api_session(): bearer auth, refresh before use, one retry on 401."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_helpdesk_oauth.exceptions import NotInstalled
from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.services import Outcome, refresh_installation, uninstall
from django_helpdesk_oauth.session import TokenCache, token_cache

pytestmark = pytest.mark.django_db(transaction=True)


def api_requests(sandbox):
    return sandbox.state.matching_requests(endpoint="api")


def refreshes(sandbox):
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


def test_netrc_credentials_never_replace_the_token(
    sandbox, installed, kustomer_app, tmp_path, monkeypatch
):
    """requests puts ~/.netrc credentials for the host on a request without auth, over
    the Authorization header: the API call must still carry the installation's token."""
    from urllib.parse import urlsplit

    import requests

    session = installed(kustomer_app).api_session()
    netrc = tmp_path / "netrc"
    host = urlsplit(session.base_url).hostname
    netrc.write_text(f"machine {host} login netrc-user password netrc-pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert requests.utils.get_netrc_auth(session.base_url) == ("netrc-user", "netrc-pass")
    response = session.get("customers")
    assert response.status_code == 200
    assert len(api_requests(sandbox)) == 1  # no 401, no refresh-and-retry


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


# -- the process's token cache: a session built per call ------------------------------


def per_call(installation, path="users/current"):
    """What a view does: build a session for the request, make one call."""
    return installation.api_session().get(path)


def loaded(installation):
    """The installation as a view would hold it: its app already read (select_related)."""
    return Installation.objects.select_related("app").get(pk=installation.pk)


def queries_of(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return response, len(captured.captured_queries)


def test_a_second_session_within_the_ttl_makes_no_query(sandbox, installed, kustomer_app):
    installation = loaded(installed(kustomer_app))
    first, read = queries_of(lambda: per_call(installation))
    second, again = queries_of(lambda: per_call(installation))
    assert (first.status_code, second.status_code) == (200, 200)
    assert read == 1
    assert again == 0
    assert [r["status"] for r in api_requests(sandbox)] == [200, 200]


def test_after_an_uninstall_in_process_the_cached_token_is_not_used(
    sandbox, installed, gorgias_app
):
    installation = installed(gorgias_app)
    assert per_call(installation, "account").status_code == 200
    uninstall(installation)
    with pytest.raises(NotInstalled):
        per_call(installation, "account")
    assert len(api_requests(sandbox)) == 1  # the uninstalled token was never sent again


def test_after_an_admin_delete_the_cached_token_is_not_used(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    assert per_call(installation, "account").status_code == 200
    Installation.objects.get(pk=installation.pk).delete()  # cascades to the token row
    with pytest.raises(NotInstalled):
        per_call(installation, "account")


def test_a_refresh_in_process_drops_the_cached_token(sandbox, installed, kustomer_app):
    installation = loaded(installed(kustomer_app))
    assert per_call(installation).status_code == 200
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert refresh_installation(installation.pk) == Outcome.REFRESHED
    response, read = queries_of(lambda: per_call(installation))
    assert response.status_code == 200
    assert read == 1  # the new token, read again
    assert len(refreshes(sandbox)) == 1


def test_after_the_ttl_the_token_is_read_again(sandbox, installed, kustomer_app, settings):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "SESSION_TOKEN_TTL": 1}
    installation = loaded(installed(kustomer_app))
    assert per_call(installation).status_code == 200
    assert queries_of(lambda: per_call(installation))[1] == 0
    time.sleep(1.1)  # the TTL passes (what is asserted is the query count, not a time)
    response, read = queries_of(lambda: per_call(installation))
    assert response.status_code == 200 and read == 1


def test_a_ttl_of_zero_reads_on_every_call(sandbox, installed, kustomer_app, settings):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "SESSION_TOKEN_TTL": 0}
    installation = loaded(installed(kustomer_app))
    counts = [queries_of(lambda: per_call(installation))[1] for _ in range(3)]
    assert counts == [1, 1, 1]


def test_a_due_token_is_never_served_from_the_cache(sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    assert per_call(installation).status_code == 200
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    # The cached copy still says "not due": the in-memory expiry is what a later call
    # checks, so make the cached one due as well by reading it through the cache.
    cached = token_cache.get(installation.pk, 5)
    assert cached is not None
    cached.expires_at = timezone.now() - timedelta(seconds=1)
    assert token_cache.get(installation.pk, 5) is None
    assert per_call(installation).status_code == 200
    assert len(refreshes(sandbox)) == 1  # read, found due, refreshed


def test_a_401_drops_the_cached_token(sandbox, installed, gorgias_app):
    installation = loaded(installed(gorgias_app))
    assert per_call(installation, "account").status_code == 200
    sandbox.state.inject("api", status=401, times=2)
    assert per_call(installation, "account").status_code == 401  # refreshed, still refused
    assert token_cache.get(installation.pk, 5) is None
    response, read = queries_of(lambda: per_call(installation, "account"))
    assert response.status_code == 200 and read == 1


def test_a_read_overlapping_an_invalidation_is_not_stored(sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    token = Token.objects.get()
    cache = TokenCache()
    stamp = cache.epoch()
    cache.forget(installation.pk)  # e.g. a refresh committed while the read ran
    cache.put(installation.pk, token, stamp, 5)
    assert cache.get(installation.pk, 5) is None
    cache.put(installation.pk, token, cache.epoch(), 5)
    assert cache.get(installation.pk, 5) is token
    other = cache.epoch()
    cache.clear()
    cache.put(installation.pk, token, other, 5)
    assert cache.get(installation.pk, 5) is None


def test_sessions_built_in_threads_share_one_read(sandbox, installed, kustomer_app):
    installation = loaded(installed(kustomer_app))
    assert per_call(installation).status_code == 200

    def call(_):
        try:
            with CaptureQueriesContext(connection) as captured:
                status = per_call(installation).status_code
            return status, len(captured.captured_queries)
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(8)))
    assert results == [(200, 0)] * 8


def test_the_cache_shows_no_token(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    assert per_call(installation, "account").status_code == 200
    token = Token.objects.get()
    entry = token_cache._entries[installation.pk]
    for text in (repr(token_cache), repr(entry), str(entry)):
        assert token.access_token not in text and token.refresh_token not in text
