"""A provider answering a random mix of 500, 429 + Retry-After, timeouts and successes.

Runs on SQLite too. Longer variant (1,000 refreshes):
``python bench/reliability.py --only flapping``.
"""

from __future__ import annotations

import pytest

from bench import harness

pytestmark = pytest.mark.django_db(transaction=True)

INSTALLATIONS, ATTEMPTS, TIMEOUT = 100, 200, 0.5


def test_a_flapping_provider_never_costs_a_token(sandbox, settings):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "HTTP_TIMEOUT": TIMEOUT}
    ids = harness.seed_kustomer(INSTALLATIONS)
    result = harness.flapping(sandbox.state, ids, attempts=ATTEMPTS, timeout=TIMEOUT)
    assert result["violations"] == [], result
    assert result["needs_reauth"] == 0, result
    assert result["invalid_grant"] == 0, result
    assert result["not_fresh_at_end"] == 0, result
    assert result["client_outcomes"].get("refreshed") == INSTALLATIONS, result
    # Every kind of fault really happened, and Retry-After reached the caller.
    answers = result["token_endpoint_answers"]
    assert {"200", "500", "429", "504"} <= set(answers), result
    assert result["retry_after_seen"] == [1.0], result
