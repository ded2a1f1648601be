"""Integration runs: races, kills, a flapping provider, fuzzing and a leak scan.

Everything here is marked ``integration``. Tests that need PostgreSQL
(``DATABASE_URL=postgres://…``) or Redis (``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/14``) skip with the reason when those are not reachable.
The longer variants are ``python bench/reliability.py``.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import connection

from bench import harness


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def redis_url():
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    if not harness.redis_reachable(url):
        pytest.skip(f"needs Redis at {url} (set BENCH_REDIS_URL)")
    return url


@pytest.fixture
def worker_env(postgres, redis_url, sandbox):
    """Environment for ``celery worker`` subprocesses on the test database and Redis."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    env = harness.worker_env(
        BENCH_DATABASE_URL=f"postgres://{user}{password}@{host}:{port}/{db['NAME']}",
        BENCH_BROKER_URL=redis_url,
        BENCH_QUEUE=f"helpdesk-oauth-test-{uuid.uuid4().hex[:8]}",
        BENCH_SANDBOX_URL=sandbox.base,
    )
    yield env
    harness.purge_queue(env)
