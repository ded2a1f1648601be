"""Token-endpoint rate limits (the providers' documented ones), switchable, off by default."""

from __future__ import annotations

import pytest
import requests

from django_helpdesk_oauth.sandbox.server import SandboxServer
from django_helpdesk_oauth.sandbox.state import DOCUMENTED_RATE_LIMITS, RateLimit, state
from tests.sandbox.helpers import (
    GORGIAS_ID,
    GORGIAS_SECRET,
    KUSTOMER_ID,
    KUSTOMER_SECRET,
    gorgias_token,
)

TIMEOUT = 10


@pytest.fixture(scope="module")
def server():
    with SandboxServer() as running:
        yield running


def small(provider: str, capacity: int = 2, window: float = 20.0) -> None:
    """The provider's limit with a tiny bucket, keeping its documented headers."""
    documented = DOCUMENTED_RATE_LIMITS[provider]
    state.rate_limits[provider] = RateLimit(capacity, window, documented.headers)


def gorgias_post(server, tenant: str = "acme") -> requests.Response:
    return requests.post(
        f"{server.url}/sandbox/gorgias/{tenant}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "unknown"},
        auth=(GORGIAS_ID, GORGIAS_SECRET),
        timeout=TIMEOUT,
    )


def kustomer_post(server, tenant: str = "acme") -> requests.Response:
    return requests.post(
        f"{server.url}/sandbox/kustomer/{tenant}/api/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "unknown",
            "client_id": KUSTOMER_ID,
            "client_secret": KUSTOMER_SECRET,
        },
        timeout=TIMEOUT,
    )


def test_documented_limits_are_the_providers():
    assert (
        DOCUMENTED_RATE_LIMITS["gorgias"].capacity,
        DOCUMENTED_RATE_LIMITS["gorgias"].window,
    ) == (
        80,
        20.0,
    )
    assert (
        DOCUMENTED_RATE_LIMITS["kustomer"].capacity,
        DOCUMENTED_RATE_LIMITS["kustomer"].window,
    ) == (
        300,
        60.0,
    )
    assert all(limit.source.startswith("https://") for limit in DOCUMENTED_RATE_LIMITS.values())


def test_off_by_default(client):
    small("gorgias", capacity=1)
    answers = [
        gorgias_token(client, grant_type="refresh_token", refresh_token="x") for _ in range(5)
    ]

    assert {a.status_code for a in answers} == {400}
    assert "X-Gorgias-Account-Api-Call-Limit" not in answers[-1]


def test_gorgias_answers_429_with_retry_after_over_http(server):
    state.rate_limits_enabled = True
    small("gorgias", capacity=2, window=20.0)  # drains one request every 10 s

    first, second, third = (gorgias_post(server) for _ in range(3))

    assert (first.status_code, second.status_code) == (400, 400)  # counted, then answered
    assert first.headers["X-Gorgias-Account-Api-Call-Limit"] == "1/2"
    assert third.status_code == 429
    assert third.headers["Retry-After"] == "10"
    assert third.headers["X-Gorgias-Account-Api-Call-Limit"] == "2/2"
    assert third.headers["Content-Type"] == "application/json"
    assert third.json()["error"]["msg"]
    assert [r["status"] for r in state.matching_requests(endpoint="token")] == [400, 400, 429]


def test_the_bucket_drains_with_the_sandbox_clock(server):
    state.rate_limits_enabled = True
    small("gorgias", capacity=2, window=20.0)
    gorgias_post(server), gorgias_post(server)
    assert gorgias_post(server).status_code == 429

    state.advance(10)  # one request's worth drained

    assert gorgias_post(server).status_code == 400
    assert gorgias_post(server).status_code == 429
    state.advance(4)
    assert gorgias_post(server).headers["Retry-After"] == "6"


def test_limits_are_per_tenant_and_per_provider(server):
    state.rate_limits_enabled = True
    small("gorgias", capacity=1)
    small("kustomer", capacity=1)
    assert gorgias_post(server, "acme").status_code == 400
    assert gorgias_post(server, "acme").status_code == 429

    assert gorgias_post(server, "globex").status_code == 400
    assert kustomer_post(server, "acme").status_code == 400


def test_kustomer_sends_its_ratelimit_headers(server):
    state.rate_limits_enabled = True
    small("kustomer", capacity=2, window=60.0)

    first = kustomer_post(server)
    kustomer_post(server)
    limited = kustomer_post(server)

    assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == (
        "2",
        "1",
    )
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.json()["errors"][0]["status"] == 429


def test_the_documented_gorgias_burst_is_80(server):
    state.rate_limits_enabled = True
    # The bucket refills with the sandbox clock (4 per second): stop it, so a slow
    # machine sending the 81 requests can't earn an extra one meanwhile.
    frozen = state.now()
    state.now = lambda: frozen
    # A tenant of its own: the sandbox state is process-wide, and a straggler request from
    # an earlier test to "acme" must not count against this bucket.
    statuses = [gorgias_post(server, tenant="burst80").status_code for _ in range(81)]

    assert statuses[:80] == [400] * 80
    assert statuses[80] == 429


def test_the_setting_turns_limits_on(settings, client):
    settings.HELPDESK_OAUTH_SANDBOX = {**settings.HELPDESK_OAUTH_SANDBOX, "RATE_LIMITS": True}
    state.reset()
    small("gorgias", capacity=1)

    assert gorgias_token(client, grant_type="refresh_token", refresh_token="x").status_code == 400
    limited = gorgias_token(client, grant_type="refresh_token", refresh_token="x")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1


@pytest.mark.django_db(transaction=True)
def test_a_rate_limited_refresh_leaves_the_installation_untouched(sandbox, installed, gorgias_app):
    from django.utils import timezone

    from django_helpdesk_oauth.models import Token
    from django_helpdesk_oauth.services import RefreshRetryLater, refresh_installation

    installation = installed(gorgias_app)  # the code exchange fills the bucket
    sandbox.state.rate_limits_enabled = True
    small("gorgias", capacity=1)
    sandbox.state.rate_limit("gorgias", "acme")  # the exchange, counted
    Token.objects.filter(installation=installation).update(expires_at=timezone.now())
    before = Token.objects.values_list("access_token", "refresh_token", "refresh_count").get()

    with pytest.raises(RefreshRetryLater) as excinfo:
        refresh_installation(installation.pk)

    assert excinfo.value.retry_after == 20
    assert (
        Token.objects.values_list("access_token", "refresh_token", "refresh_count").get() == before
    )
    installation.refresh_from_db()
    assert installation.status == "active"
    assert (
        sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")[-1]["status"]
        == 429
    )
