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


def test_lease_shorter_than_the_http_timeout(settings):
    configure(settings, REFRESH_LEASE=10, HTTP_TIMEOUT=10)
    assert "helpdesk_oauth.W004" in ids()


def test_unknown_endpoint_name(settings):
    configure(settings, PROVIDERS={"gorgias": {"tokne_url": "https://x"}})
    assert "helpdesk_oauth.E003" in ids()
