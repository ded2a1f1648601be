"""Gorgias: the lifecycle contract, plus its own quirks (nonce + id_token, expiry fallback).

The contract derives the rest: HTTP Basic, expires_in 0 with a JWT exp, the refresh
token kept, RFC 7009 revocation of the refresh token, ?account=.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from django_helpdesk_oauth.models import Installation
from django_helpdesk_oauth.providers import get_provider

from .contract import ProviderContract


class TestGorgias(ProviderContract):
    provider = "gorgias"

    def test_the_id_token_nonce_is_checked(self, sandbox, browser, app, monkeypatch):
        """A provider answer whose id_token carries another nonce is refused (nothing stored)."""
        original = sandbox.state.create_code

        def create_code(**binding):
            binding["nonce"] = "not-the-nonce-we-sent"
            return original(**binding)

        # Patching the *sandbox* (the provider), not our code: it now answers with a wrong nonce.
        monkeypatch.setattr(sandbox.state, "create_code", create_code)
        response = self.run_install(browser, sandbox, app)
        assert response.status_code == 400
        assert not Installation.objects.exists()


def test_expiry_falls_back_to_24h_without_a_jwt():
    provider = get_provider("gorgias")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    info = provider.token_expiry({"access_token": "opaque", "expires_in": 0}, now)
    assert (info.source, (info.expires_at - now).total_seconds()) == ("fallback", 86400)


@pytest.mark.parametrize("expires_in", [0, None, "0", "garbage"])
def test_expires_in_zero_is_never_now(expires_in):
    provider = get_provider("gorgias")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    info = provider.token_expiry({"access_token": "x", "expires_in": expires_in}, now)
    assert info.expires_at > now
