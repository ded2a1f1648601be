"""The beat task: due tokens only, keyset batches, query count independent of the due count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.models import Installation, ProviderApp, Token

pytestmark = pytest.mark.django_db


def make_installations(app, count, *, due, status="active", start=0):
    soon = timezone.now() + timedelta(minutes=5)
    later = timezone.now() + timedelta(days=1)
    installations = Installation.objects.bulk_create(
        Installation(app=app, tenant=f"t{start + i}", status=status) for i in range(count)
    )
    Token.objects.bulk_create(
        Token(
            installation=inst,
            access_token="a",
            refresh_token="r",
            # Many share one expiry: the keyset must not skip or repeat ties.
            expires_at=(soon if due else later) + timedelta(seconds=i % 3),
        )
        for i, inst in enumerate(installations)
    )
    return installations


@pytest.fixture
def app(db):
    return ProviderApp.objects.create(
        slug="k", provider="kustomer", client_id="c", client_secret="s"
    )


def test_only_due_active_tokens_are_selected(app):
    due = make_installations(app, 5, due=True)
    make_installations(app, 5, due=False, start=100)
    make_installations(app, 3, due=True, status="needs_reauth", start=200)
    make_installations(app, 3, due=True, status="uninstalled", start=300)
    assert sorted(tasks.due_installation_ids()) == sorted(i.pk for i in due)


def test_keyset_batches_visit_every_due_token_once(app):
    due = make_installations(app, 23, due=True)
    assert sorted(tasks.due_installation_ids(batch=5)) == sorted(i.pk for i in due)


def sweep_queries(expected_dispatches: int) -> int:
    # Dispatches go to the in-memory broker for real; no worker runs them here.
    with CaptureQueriesContext(connection) as queries:
        assert tasks.refresh_expiring_tokens() == expected_dispatches
    return len(queries.captured_queries)


def test_query_count_does_not_grow_with_the_due_count(app):
    make_installations(app, 10, due=True)
    few = sweep_queries(10)
    make_installations(app, 300, due=True, start=1000)
    many = sweep_queries(310)
    assert many == few
    assert few <= 4  # a page of tokens, expired previous secrets, pending revocations


def test_query_count_grows_only_per_batch(app, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 50)
    make_installations(app, 120, due=True)
    # 3 pages (50 + 50 + 20) + the previous-secret expiry + the expired authorization
    # requests (one page when there are none) + the pending-revocation query.
    assert sweep_queries(120) == 6


def test_the_sweep_query_uses_the_index(app):
    make_installations(app, 50, due=True)
    sql, params = (
        Token.objects.filter(expires_at__lte=timezone.now())
        .order_by("expires_at", "id")
        .values_list("id")[:10]
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A 50-row table is cheaper to scan; ask whether the index *can* serve it.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "helpdesk_oauth_token_sweep" in plan


def test_keyset_paging_when_every_due_token_shares_one_expiry(app):
    due = make_installations(app, 30, due=True)
    Token.objects.update(expires_at=timezone.now())  # a bulk import: one timestamp for all
    assert sorted(tasks.due_installation_ids(batch=7)) == sorted(i.pk for i in due)
