"""helpdesk_oauth_status: aligned table and JSON; never a token or secret."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.services import uninstall
from tests.commands.conftest import assert_one_line_failure, manage

CMD = "helpdesk_oauth_status"


@pytest.fixture
def two(installed, gorgias_app, kustomer_app):
    gorgias, kustomer = installed(gorgias_app), installed(kustomer_app, "globex")
    now = timezone.now()
    Token.objects.filter(installation=gorgias).update(
        expires_at=now + timedelta(hours=2, minutes=30, seconds=30),
        last_refreshed_at=now - timedelta(minutes=10, seconds=30),
    )
    Token.objects.filter(installation=kustomer).update(
        expires_at=now - timedelta(minutes=5, seconds=30)
    )
    Installation.objects.filter(pk=kustomer.pk).update(
        refresh_failures=3, last_error="invalid_grant: the refresh token was revoked"
    )
    return gorgias, kustomer


@pytest.mark.django_db(transaction=True)
def test_table(run, two):
    gorgias, _kustomer = two
    secrets = {t.access_token for t in Token.objects.all()} | {
        t.refresh_token for t in Token.objects.all()
    }
    output = run(CMD)
    header, first, second = output.out.splitlines()
    assert header.split() == [
        "ID", "APP", "TENANT", "STATUS", "EXPIRES", "IN", "LAST", "REFRESH", "FAILURES", "LAST",
        "ERROR",
    ]  # fmt: skip
    assert first.startswith(f"{gorgias.pk} ") and "gorgias" in first and "acme" in first
    assert "2h 30m" in first and "10m ago" in first
    assert "expired 5m ago" in second and "invalid_grant: the refresh token was revoked" in second
    # Columns are aligned: each header starts where its values start.
    for column, values in (("TENANT", ("acme", "globex")), ("FAILURES", ("0", "3"))):
        start = header.index(column)
        assert first[start:].startswith(values[0]) and second[start:].startswith(values[1])
    assert all(secret not in output.out for secret in secrets)
    assert output.err == ""


@pytest.mark.django_db(transaction=True)
def test_json(run, two):
    gorgias, kustomer = two
    output = run(CMD, "--json")
    rows = json.loads(output.out)
    assert [row["id"] for row in rows] == [gorgias.pk, kustomer.pk]
    assert rows[0]["app"] == "gorgias" and rows[0]["provider"] == "gorgias"
    assert rows[0]["status"] == "active" and rows[0]["refresh_failures"] == 0
    assert 2 * 3600 < rows[0]["expires_in_seconds"] <= 2 * 3600 + 1830
    assert rows[1]["expires_in_seconds"] < 0 and rows[1]["refresh_failures"] == 3
    assert rows[1]["last_error"].startswith("invalid_grant")
    assert set(rows[0]) == {
        "id", "app", "provider", "tenant", "status", "installed_at", "expires_at",
        "expires_in_seconds", "last_refreshed_at", "refresh_failures", "last_error",
        "last_error_at", "never_expires", "due", "app_error",
    }  # fmt: skip
    assert rows[0]["app_error"] is None  # the app's credentials have no recorded problem
    assert rows[0]["never_expires"] is False and rows[0]["due"] is False
    assert rows[1]["due"] is True


@pytest.mark.django_db(transaction=True)
def test_app_filter_and_uninstalled(run, two):
    gorgias, kustomer = two
    uninstall(gorgias)
    output = run(CMD, "--app", "gorgias")
    _header, line = output.out.splitlines()
    assert line.split()[:5] == [str(gorgias.pk), "gorgias", "acme", "uninstalled", "-"]
    assert json.loads(run(CMD, "--app", "kustomer", "--json").out)[0]["id"] == kustomer.pk


@pytest.mark.django_db
def test_empty(run, gorgias_app):
    assert run(CMD).out == "No installations.\n"
    assert run(CMD, "--app", "gorgias").out == "No installations of app 'gorgias'.\n"
    assert json.loads(run(CMD, "--json").out) == []


@pytest.mark.django_db
def test_unknown_app(run):
    assert "No provider app with slug 'nope' (known: none)" in run.error(CMD, "--app", "nope")


@pytest.mark.django_db(transaction=True)
def test_bad_input_exits_non_zero_with_one_line():
    assert_one_line_failure(manage(CMD, "--app", "nope"), "No provider app with slug 'nope'")
