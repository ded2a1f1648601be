"""Models and migrations agree."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_makemigrations_check_finds_nothing():
    out = StringIO()
    call_command("makemigrations", "helpdesk_oauth", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
