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


# -- unknown keys (a typo silently keeps the default) -------------------------------


def unknown_key_messages(prefix="helpdesk_oauth.W005"):
    return [m for m in checks.run_checks() if m.id == prefix]


def test_a_misspelled_setting_is_reported_with_the_closest_name(settings):
    configure(settings, REFRESH_MARGN=600)
    [message] = unknown_key_messages()
    assert message.level == checks.WARNING
    assert "'REFRESH_MARGN'" in message.msg
    assert message.hint == "Did you mean 'REFRESH_MARGIN'?"


@pytest.mark.parametrize(
    ("key", "closest"),
    [
        ("refresh_margin", "REFRESH_MARGIN"),  # wrong case
        ("ENCRYPTION_KEY", "ENCRYPTION_KEYS"),
        ("PROVIDER", "PROVIDERS"),
        ("HTTP_TIMEOUTS", "HTTP_TIMEOUT"),
        ("STATE_TIL", "STATE_TTL"),
    ],
)
def test_neighbouring_typos_get_their_suggestion(settings, key, closest):
    configure(settings, **{key: 1})
    [message] = unknown_key_messages()
    assert message.hint == f"Did you mean {closest!r}?"


def test_an_unrelated_key_lists_the_known_names(settings):
    configure(settings, COLOUR="blue")
    [message] = unknown_key_messages()
    assert "REFRESH_MARGIN" in message.hint and "Did you mean" not in message.hint


@pytest.mark.parametrize("key", [42, ("a", "b"), "X\nY", ""])
def test_odd_keys_are_reported_without_breaking_a_line(settings, key):
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, key: 1}
    [message] = unknown_key_messages()
    assert repr(key) in message.msg
    assert "\n" not in message.msg


def test_every_documented_setting_is_known(settings):
    from django_helpdesk_oauth.conf import DEFAULTS

    settings.HELPDESK_OAUTH = dict(DEFAULTS)
    assert unknown_key_messages() == []


def test_manage_py_check_prints_the_typo(settings):
    from io import StringIO

    from django.core.management import call_command

    configure(settings, REFRESH_MARGN=600)
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    text = out.getvalue() + err.getvalue()
    assert "helpdesk_oauth.W005" in text and "REFRESH_MARGIN" in text


def test_a_misspelled_sandbox_setting_is_reported(settings):
    settings.HELPDESK_OAUTH_SANDBOX = {**settings.HELPDESK_OAUTH_SANDBOX, "STATE_FIEL": "/tmp/x"}
    [message] = unknown_key_messages("helpdesk_oauth_sandbox.W001")
    assert message.hint == "Did you mean 'STATE_FILE'?"


def test_the_sandbox_key_list_covers_every_key_the_sandbox_reads():
    # The check's list must follow the sandbox: a key read but not listed would be
    # reported as a typo.
    import re
    from pathlib import Path

    from django_helpdesk_oauth.sandbox.checks import SETTING_KEYS

    root = Path(__file__).resolve().parent.parent / "django_helpdesk_oauth" / "sandbox"
    read = set()
    for path in root.rglob("*.py"):
        read.update(re.findall(r'config\.get\(\s*"([A-Z_]+)"', path.read_text()))
        read.update(re.findall(r'HELPDESK_OAUTH_SANDBOX\["([A-Z_]+)"\]', path.read_text()))
    assert read, "the pattern no longer finds how the sandbox reads its settings"
    assert read <= set(SETTING_KEYS)
