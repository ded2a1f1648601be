"""8 processes storm one Kustomer installation (rotating refresh tokens) on PostgreSQL.

Longer variant, with the naive requests-oauthlib client beside it:
``python bench/reliability.py --only race``.
"""

from __future__ import annotations

import pytest

from bench import harness

pytestmark = pytest.mark.django_db(transaction=True)

PROCESSES, ROUNDS = 8, 25


def test_a_refresh_storm_spends_no_refresh_token_twice(postgres, sandbox):
    [installation_id] = harness.seed_kustomer(1)
    # A provider that takes a moment keeps every round's race window open.
    sandbox.state.token_delay = 0.05
    result = harness.race(sandbox.state, installation_id, processes=PROCESSES, rounds=ROUNDS)
    assert result["invalid_grant"] == 0, result
    assert result["refreshes_per_window"] == {1: ROUNDS}, result
    assert result["outcomes"] == {"refreshed": ROUNDS, "fresh": (PROCESSES - 1) * ROUNDS}, result
    assert result["status"] == "active", result
    assert result["stored_refresh_token_live"], result
