"""HELPDESK_OAUTH_SANDBOX["ACCESS_TOKEN_LIFETIME"]: short-lived demo tokens, to watch a refresh."""

from __future__ import annotations

import pytest
from django.core import checks

from django_helpdesk_oauth.sandbox.state import state
from tests.sandbox.helpers import gorgias_tokens, kustomer_tokens


@pytest.fixture
def lifetime(settings):
    def set_to(value):
        settings.HELPDESK_OAUTH_SANDBOX = {
            **settings.HELPDESK_OAUTH_SANDBOX,
            "ACCESS_TOKEN_LIFETIME": value,
        }
        state.reset()

    return set_to


def test_every_expiring_token_lives_the_set_seconds(lifetime, client):
    lifetime(120)
    kustomer = kustomer_tokens(client)
    gorgias = gorgias_tokens(client)

    assert kustomer["expires_in"] == 120
    assert gorgias["expires_in"] == 0  # Gorgias says 0; its JWT's exp holds the lifetime
    record = state.access_tokens[gorgias["access_token"]]
    assert record.expires_at - record.issued_at == 120
    assert state.lifetimes["intercom"] is None  # never expires, still


def test_unset_keeps_the_providers_lifetimes(client):
    assert kustomer_tokens(client)["expires_in"] == 86400


@pytest.mark.parametrize("value", [0, -5, "120", 1.5, True])
def test_a_bad_value_fails_the_check_naming_the_setting(lifetime, value):
    lifetime(value)
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth_sandbox.E002"]
    assert 'HELPDESK_OAUTH_SANDBOX["ACCESS_TOKEN_LIFETIME"]' in message.msg
    assert "seconds" in message.hint


def test_a_good_value_passes_the_check(lifetime):
    lifetime(120)
    ids = [m.id for m in checks.run_checks()]
    assert "helpdesk_oauth_sandbox.E002" not in ids
    assert "helpdesk_oauth_sandbox.W001" not in ids  # a known key
