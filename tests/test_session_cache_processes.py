"""api_session()'s per-process token cache against changes made by another process
(reviewer brk13): a re-install for another region, an uninstall. The other process is
a forked child that runs our own callback view and services itself (the parent's
signal receivers never hear of it); the providers are the sandbox over loopback HTTP.
"""

from __future__ import annotations

import multiprocessing
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connections

from django_helpdesk_oauth.exceptions import NotInstalled
from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.session import TokenCache, token_cache
from tests import flows
from tests.regiondesk import registered

pytestmark = pytest.mark.django_db(transaction=True)

ORG = "ws-42"


@pytest.fixture
def regiondesk(sandbox, settings):
    with registered(sandbox, settings, "regiondesk") as app:
        yield app


def _in_child(target, *args):
    """Run ``target(*args)`` in a forked process; return what it put in the queue."""
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    connections.close_all()  # never share the parent's database socket
    child = context.Process(target=_child_main, args=(done, target, *args))
    child.start()
    outcome = done.get(timeout=60)
    child.join(30)
    return outcome


def _child_main(done, target, *args):
    connections.close_all()
    try:
        done.put(target(*args))
    except Exception as exc:  # reported to the parent, which fails the test
        done.put(f"error: {type(exc).__name__}")
    finally:
        connections.close_all()


def _reinstall(base_url, slug, region):
    """The install flow with the callback served by this process's own view (Django's
    test client), so the re-install's signals fire here, not in the parent."""
    from django.test import Client

    from django_helpdesk_oauth.sandbox.testing import consent

    with requests.Session() as browser:
        start = browser.get(
            f"{base_url}/oauth/{slug}/install/",
            params={"region": region},
            allow_redirects=False,
            timeout=10,
        )
        decision = consent(browser, start, allow=True, org=ORG)
        callback = urlsplit(decision.headers["Location"])
        client = Client()
        for cookie in browser.cookies:
            client.cookies[cookie.name] = cookie.value
        return client.get(f"{callback.path}?{callback.query}").status_code


def _uninstall(installation_id):
    from django_helpdesk_oauth.services import uninstall

    return uninstall(Installation.objects.get(pk=installation_id)).revoked


def api_calls(sandbox):
    """``(region, status)`` of each API request the sandbox served."""
    return [
        (r["path"].split("/regiondesk/", 1)[1].split("/", 1)[0], r["status"])
        for r in sandbox.state.matching_requests(provider="regiondesk", endpoint="api")
    ]


def test_a_reinstall_for_another_region_elsewhere_never_mixes_hosts_and_tokens(
    sandbox, browser, regiondesk
):
    assert flows.install(browser, sandbox, regiondesk.slug, {}, consent_org=ORG).status_code
    installation = Installation.objects.select_related("app").get()
    assert installation.connection_config == {"region": "us"}
    us_session = installation.api_session()
    assert us_session.get("me").status_code == 200  # the us token is now cached here
    us_token = Token.objects.get().access_token
    assert _in_child(_reinstall, sandbox.url, regiondesk.slug, "eu") == 302
    assert Installation.objects.get().connection_config == {"region": "eu"}
    assert token_cache.get(installation.pk, 5) is not None  # this process never heard
    sandbox.state.revoke_token(us_token)  # as the replaced grant's revocation does
    seen = len(api_calls(sandbox))

    # A session for the eu hosts gets the eu token, not the us one the cache held.
    eu_session = Installation.objects.select_related("app").get().api_session()
    assert eu_session.get("me").status_code == 200
    assert api_calls(sandbox)[seen:] == [("eu", 200)]  # no 401: the us token was not sent

    # The session built for the us hosts does not send the eu token there.
    with pytest.raises(NotInstalled, match="installed again for other API hosts"):
        us_session.get("me")
    assert len(api_calls(sandbox)) == seen + 1


def test_an_uninstall_elsewhere_is_a_typed_error_after_one_refused_call(
    sandbox, browser, regiondesk
):
    assert flows.install(browser, sandbox, regiondesk.slug, {}, consent_org=ORG).status_code
    installation = Installation.objects.select_related("app").get()
    assert installation.api_session().get("me").status_code == 200
    assert _in_child(_uninstall, installation.pk) is True  # revoked at the provider
    assert token_cache.get(installation.pk, 5) is not None  # this process never heard
    seen = len(api_calls(sandbox))
    with pytest.raises(NotInstalled):
        installation.api_session().get("me")
    # The cached token went out once, was refused, and is never used again.
    assert [status for _, status in api_calls(sandbox)[seen:]] == [401]
    assert token_cache.get(installation.pk, 5) is None
    with pytest.raises(NotInstalled):
        installation.api_session().get("me")
    assert len(api_calls(sandbox)) == seen + 1


# -- the bound: a full cache makes room from its oldest reads ------------------------------


def test_a_full_cache_drops_the_least_recently_read_token(sandbox, installed, kustomer_app):
    """With more installations than MAX_ENTRIES in use, the entry dropped to make room is
    the one read longest ago, not one just read again (the old prune kept the dict in
    first-insertion order and scanned all of it under the lock on every read when full:
    ~0.3 ms per read at 10,000 entries)."""
    installed(kustomer_app)
    token = Token.objects.select_related("installation").get()
    cache = TokenCache()
    cache.MAX_ENTRIES = 3
    for pk in (1, 2, 3):
        cache.put(pk, token, cache.epoch(), 60)
    cache.put(1, token, cache.epoch(), 60)  # read again: now the most recent
    cache.put(4, token, cache.epoch(), 60)
    assert sorted(cache._entries) == [1, 3, 4]  # 2, the oldest read, made room
    assert [cache.get(pk, 60) is not None for pk in (1, 2, 3, 4)] == [True, False, True, True]
