"""System checks fire on bad settings and stay quiet on good ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import checks


def ids(settings_obj=None) -> list[str]:
    return sorted(m.id for m in checks.run_checks() if m.id.startswith("helpdesk_oauth"))


def configure(settings, **values):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, **values}


def test_the_test_settings_are_clean(settings):
    settings.SESSION_COOKIE_SECURE = True
    assert ids() == []


@pytest.mark.parametrize("url", ["https://evil.example.com/", "//evil.example.com", "http://x"])
def test_off_site_success_url(settings, url):
    configure(settings, SUCCESS_URL=url)
    assert "helpdesk_oauth.E004" in ids()


@pytest.mark.parametrize("url", ["/done/", "home", "admin:index"])
def test_on_site_success_urls(settings, url):
    configure(settings, SUCCESS_URL=url)
    assert "helpdesk_oauth.E004" not in ids()


def test_non_https_endpoint(settings):
    configure(settings, PROVIDERS={"gorgias": {"token_url": "http://{tenant}.example.com/t"}})
    assert "helpdesk_oauth.E005" in ids()


def test_loopback_http_endpoint_is_fine(settings):
    settings.SESSION_COOKIE_SECURE = True
    configure(settings, PROVIDERS={"gorgias": {"token_url": "http://127.0.0.1:8000/t"}})
    assert ids() == []


def test_http_callback_in_production(settings):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    assert "helpdesk_oauth.W002" in ids()


@pytest.mark.parametrize("schedule", [1200.0, timedelta(minutes=20)])
def test_margin_shorter_than_twice_the_beat_interval(settings, schedule):
    settings.CELERY_BEAT_SCHEDULE = {
        "refresh": {
            "task": "django_helpdesk_oauth.tasks.refresh_expiring_tokens",
            "schedule": schedule,
        }
    }
    assert "helpdesk_oauth.W003" in ids()
    configure(settings, REFRESH_MARGIN=3600)
    assert "helpdesk_oauth.W003" not in ids()


def lease_messages():
    return [
        m for m in checks.run_checks() if m.id in ("helpdesk_oauth.E006", "helpdesk_oauth.E007")
    ]


def test_lease_that_cannot_outlive_two_token_calls_is_an_error(settings):
    # The deployment: a refresh (two token calls at most) could outlive the lease.
    configure(settings, REFRESH_LEASE=10, HTTP_TIMEOUT=3)
    [message] = lease_messages()
    assert message.id == "helpdesk_oauth.E006"
    assert message.level == checks.ERROR
    assert "REFRESH_LEASE" in message.msg and "HTTP_TIMEOUT" in message.msg
    assert "at least 11" in message.hint


@pytest.mark.parametrize(
    ("lease", "timeout"),
    [(10, 10), (24.9, 10), (7.9, 1.5), ("60", 10), (None, 10)],
)
def test_lease_neighbours_below_the_bound_or_not_a_number(settings, lease, timeout):
    configure(settings, REFRESH_LEASE=lease, HTTP_TIMEOUT=timeout)
    assert [m.id for m in lease_messages()] == ["helpdesk_oauth.E006"]


@pytest.mark.parametrize(("lease", "timeout"), [(25, 10), (11, 3), (60, 10), (8, 1.5)])
def test_lease_at_or_above_the_bound_is_clean(settings, lease, timeout):
    configure(settings, REFRESH_LEASE=lease, HTTP_TIMEOUT=timeout)
    assert lease_messages() == []


def test_defaults_are_clean():
    from django_helpdesk_oauth.conf import DEFAULTS
    from django_helpdesk_oauth.transport import LEASE_SAFETY

    assert DEFAULTS["REFRESH_LEASE"] >= 2 * DEFAULTS["HTTP_TIMEOUT"] + LEASE_SAFETY
    assert lease_messages() == []


@pytest.mark.parametrize("timeout", [0, -1, "10", None, True, float("nan"), float("inf")])
def test_http_timeout_must_be_a_positive_number(settings, timeout):
    configure(settings, HTTP_TIMEOUT=timeout)
    [message] = lease_messages()
    assert message.id == "helpdesk_oauth.E007"
    assert message.level == checks.ERROR
    assert "HTTP_TIMEOUT" in message.msg


def test_unknown_endpoint_name(settings):
    configure(settings, PROVIDERS={"gorgias": {"tokne_url": "https://x"}})
    assert "helpdesk_oauth.E003" in ids()
