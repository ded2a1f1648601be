"""kill -9 of a Celery worker mid-refresh: after the lease, the next sweep refreshes.

Longer variant: ``python bench/reliability.py --only crash``.
"""

from __future__ import annotations

import pytest

from bench import harness

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 3


def test_a_killed_worker_loses_nothing(worker_env, sandbox):
    [installation_id] = harness.seed_kustomer(1, due=False)
    env = {**worker_env, "BENCH_REFRESH_LEASE": str(LEASE), "BENCH_REFRESH_MARGIN": "30"}
    result = harness.crash(sandbox.state, installation_id, env, lease=LEASE, hold=30)
    assert result["lease_held_after_kill"], result
    assert result["token_untouched_after_kill"], result
    assert result["provider_refreshes_ok"] == 1, result
    assert result["invalid_grant"] == 0, result
    assert result["refresh_count"] == 1 and result["lease_released"], result
    assert result["status"] == "active" and result["stored_refresh_token_live"], result
