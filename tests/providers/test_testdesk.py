"""Testdesk runs the lifecycle contract: one provider module, one sandbox profile, this module.

The proof that the model is general: a provider unlike the built-in ones on every
axis (tests/providers/testdesk.py) passes the same contract, served by the same
sandbox engine, with nothing changed outside these three files.
"""

from __future__ import annotations

import pytest

from django_helpdesk_oauth.providers import registry
from django_helpdesk_oauth.sandbox import profiles
from tests.providers import testdesk
from tests.sandbox import profile_testdesk

from .contract import ProviderContract


class TestTestdesk(ProviderContract):
    provider = "testdesk"

    @pytest.fixture(autouse=True)
    def registered(self):
        """The client-side definition and the sandbox profile, for this test only."""
        registry["testdesk"] = testdesk.TestdeskProvider()
        profiles.register(profile_testdesk.PROFILE)
        yield
        profiles.unregister("testdesk")
        registry.pop("testdesk", None)
