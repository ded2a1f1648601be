"""Single-flight refresh: many callers, one provider refresh; a killed worker's lease expires."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.services import Outcome, refresh_installation

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8
ON_POSTGRES = connection.vendor == "postgresql"


def _refresh_in_child(installation_id, barrier, results):
    connections.close_all()  # never share the parent's socket
    barrier.wait(timeout=30)
    try:
        results.put(str(refresh_installation(installation_id)))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(f"error: {type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


def run_threads(installation_id):
    barrier = threading.Barrier(WORKERS)
    results = []

    def work():
        try:
            barrier.wait(timeout=30)
            results.append(str(refresh_installation(installation_id)))
        except Exception as exc:
            results.append(f"error: {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def run_processes(installation_id):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    connections.close_all()
    children = [
        context.Process(target=_refresh_in_child, args=(installation_id, barrier, results))
        for _ in range(WORKERS)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
    return outcomes


@pytest.mark.parametrize(
    "runner",
    [
        pytest.param(run_threads, id="threads"),
        pytest.param(
            run_processes,
            id="processes",
            marks=pytest.mark.skipif(
                not ON_POSTGRES and os.environ.get("CI_ALL_CONCURRENCY") != "1",
                reason="separate processes are exercised on PostgreSQL (set DATABASE_URL)",
            ),
        ),
    ],
)
def test_concurrent_refreshes_make_exactly_one_provider_call(
    sandbox, installed, kustomer_app, runner
):
    installation = installed(kustomer_app)
    Token.objects.update(expires_at=timezone.now())
    # A slow provider keeps the first refresh in flight while the others arrive.
    sandbox.state.token_delay = 0.3
    outcomes = runner(installation.pk)
    assert sorted(outcomes) == sorted(["refreshed"] + ["fresh"] * (WORKERS - 1)), outcomes
    refreshes = sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    assert [r["status"] for r in refreshes] == [200]
    installation.refresh_from_db()
    assert installation.status == "active"
    token = Token.objects.get()
    assert token.refresh_count == 1 and token.lease_owner == ""
    # The stored refresh token is the live one: the next refresh works.
    Token.objects.update(expires_at=timezone.now())
    assert refresh_installation(installation.pk) is Outcome.REFRESHED


def _refresh_and_hang(installation_id):
    connections.close_all()
    refresh_installation(installation_id)


def test_a_worker_killed_mid_refresh_does_not_block_refresh_after_its_lease(
    sandbox, installed, kustomer_app, settings
):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "REFRESH_LEASE": 2}
    installation = installed(kustomer_app)
    Token.objects.update(expires_at=timezone.now())
    # The provider holds the first refresh open; the worker is killed while waiting.
    sandbox.state.inject("token", status=None, delay=8)
    context = multiprocessing.get_context("fork")
    connections.close_all()
    worker = context.Process(target=_refresh_and_hang, args=(installation.pk,))
    worker.start()
    deadline = time.monotonic() + 20
    while not sandbox.state.count(endpoint="token", grant_type="refresh_token"):
        assert time.monotonic() < deadline, "the worker never reached the provider"
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(timeout=10)
    token = Token.objects.get()
    assert token.lease_owner  # never released
    # Another caller waits for the lease to lapse, then refreshes.
    assert refresh_installation(installation.pk, wait=15) is Outcome.REFRESHED
    installation.refresh_from_db()
    assert installation.status == "active"
    token = Token.objects.get()
    assert token.refresh_count == 1 and token.lease_owner == ""
    assert Installation.objects.get().status == "active"


def test_callers_racing_between_the_read_and_the_lease_refresh_once_per_round(
    sandbox, installed, kustomer_app
):
    """Read first, lease second (issue 13): with no provider delay the callers' SELECTs
    and lease UPDATEs interleave; the version guard lets exactly one lease per round,
    and each refresh spends the refresh token the previous round stored."""
    installation = installed(kustomer_app)
    rounds = 4
    for number in range(1, rounds + 1):
        Token.objects.update(expires_at=timezone.now())
        outcomes = run_threads(installation.pk)
        assert sorted(outcomes) == sorted(["refreshed"] + ["fresh"] * (WORKERS - 1)), outcomes
        assert Token.objects.get().refresh_count == number
    refreshes = sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    assert [r["status"] for r in refreshes] == [200] * rounds  # no invalid_grant: none spent twice
    token = Token.objects.get()
    assert token.lease_owner == ""
    assert Installation.objects.get().status == "active"
