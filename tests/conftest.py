"""Fixtures shared by the suite: provider apps, a browser session, the sandbox."""

from __future__ import annotations

import pytest

from django_helpdesk_oauth.models import ProviderApp

GORGIAS_SECRET = "gorgias-test-secret-0001"
KUSTOMER_SECRET = "kustomer-test-secret-0001"


@pytest.fixture
def gorgias_app(db):
    return ProviderApp.objects.create(
        slug="gorgias",
        provider="gorgias",
        name="Test Gorgias App",
        client_id="gorgias-test-client",
        client_secret=GORGIAS_SECRET,
    )


@pytest.fixture
def kustomer_app(db):
    return ProviderApp.objects.create(
        slug="kustomer",
        provider="kustomer",
        name="Test Kustomer App",
        client_id="kustomer-test-client",
        client_secret=KUSTOMER_SECRET,
    )
