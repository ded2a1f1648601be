"""System checks fire on bad settings and stay quiet on good ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
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


# -- SUCCESS_URL that is neither a URL name nor a path (E008) ---------------------------


def success_url_messages():
    from django_helpdesk_oauth.checks import check_success_url

    return check_success_url()


@pytest.mark.parametrize("url", ["integrations", "./done/", "?tab=oauth", "helpdesk_oauth:install"])
def test_success_url_that_would_be_followed_relative_to_the_callback(settings, url):
    # "integrations" is no URL name here (tests/urls.py): the browser would land on
    # /oauth/gorgias/callback/integrations. A name that needs arguments does not reverse.
    configure(settings, SUCCESS_URL=url)
    [message] = success_url_messages()
    assert message.id == "helpdesk_oauth.E008"
    assert message.level == checks.ERROR
    assert 'HELPDESK_OAUTH["SUCCESS_URL"]' in message.msg and repr(url) in message.msg
    assert "'/integrations/'" in message.hint


@pytest.mark.parametrize("url", ["/done/", "/", "home", "admin:index", "/done/?tab=oauth"])
def test_success_url_names_and_root_paths_are_clean(settings, url):
    configure(settings, SUCCESS_URL=url)
    assert success_url_messages() == []


@pytest.mark.parametrize("url", ["https://evil.example.com/", "//evil.example.com"])
def test_an_off_site_success_url_is_reported_once(settings, url):
    configure(settings, SUCCESS_URL=url)
    assert [m.id for m in success_url_messages()] == ["helpdesk_oauth.E004"]


# -- SESSION_COOKIE_SAMESITE = "Strict" (E009) -----------------------------------------


@pytest.mark.parametrize("value", ["Strict", "strict"])
def test_strict_session_cookie_is_an_error(settings, value):
    settings.SESSION_COOKIE_SAMESITE = value
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E009"]
    assert message.level == checks.ERROR
    assert "SESSION_COOKIE_SAMESITE" in message.msg
    assert '"Lax"' in message.hint


@pytest.mark.parametrize("value", ["Lax", "None", False])
def test_lax_or_unset_session_cookie_is_clean(settings, value):
    settings.SESSION_COOKIE_SAMESITE = value
    settings.SESSION_COOKIE_SECURE = True
    assert "helpdesk_oauth.E009" not in ids()
    assert "helpdesk_oauth.E012" not in ids()


@pytest.mark.parametrize("value", ["None", "none"])  # Django sends either as written
def test_samesite_none_without_secure_is_an_error(settings, value):
    settings.SESSION_COOKIE_SAMESITE = value
    settings.SESSION_COOKIE_SECURE = False
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E012"]
    assert message.level == checks.ERROR
    assert "SESSION_COOKIE_SECURE" in message.msg
    assert '"Lax"' in message.hint


@pytest.mark.parametrize("value", ["Lax", False])
def test_samesite_lax_or_unset_needs_no_secure_cookie(settings, value):
    settings.SESSION_COOKIE_SAMESITE = value
    settings.SESSION_COOKIE_SECURE = False
    assert "helpdesk_oauth.E012" not in ids()


# -- SQLite without WAL / IMMEDIATE transactions (W006) --------------------------------


def sqlite_messages(**databases):
    """The W006 check run on ``databases`` (overriding DATABASES warns; nothing connects)."""
    import warnings

    from django.test import override_settings

    from django_helpdesk_oauth.checks import check_sqlite_concurrency

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with override_settings(DATABASES=databases):
            return check_sqlite_concurrency()


def sqlite(name="/srv/app/db.sqlite3", **options):
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": options}


def test_sqlite_with_django_defaults_warns_with_the_options_to_set():
    [message] = sqlite_messages(default={"ENGINE": "django.db.backends.sqlite3", "NAME": "db"})
    assert message.id == "helpdesk_oauth.W006"
    assert message.level == checks.WARNING
    assert "DATABASES['default']" in message.msg
    assert "WAL" in message.msg and "IMMEDIATE" in message.msg
    assert (
        """{'init_command': 'PRAGMA journal_mode=WAL;', 'transaction_mode': 'IMMEDIATE', """
        """'timeout': 20}""" in message.hint
    )


@pytest.mark.parametrize(
    ("options", "missing", "present"),
    [
        ({"init_command": "PRAGMA journal_mode=WAL;"}, "IMMEDIATE", "WAL"),
        ({"transaction_mode": "IMMEDIATE"}, "WAL", "IMMEDIATE"),
        (
            {"transaction_mode": "DEFERRED", "init_command": "PRAGMA journal_mode=WAL;"},
            "IMMEDIATE",
            "WAL",
        ),
        (
            {"init_command": "PRAGMA journal_mode=DELETE;", "transaction_mode": "IMMEDIATE"},
            "WAL",
            "IMMEDIATE",
        ),
    ],
)
def test_sqlite_missing_one_of_the_two_names_it(options, missing, present):
    [message] = sqlite_messages(default=sqlite(**options), other={"ENGINE": "x.postgresql"})
    assert missing in message.msg and f"without {present}" not in message.msg


@pytest.mark.parametrize(
    "config",
    [
        sqlite(init_command="PRAGMA journal_mode=WAL;", transaction_mode="IMMEDIATE", timeout=20),
        sqlite(
            init_command="PRAGMA journal_mode = wal; PRAGMA synchronous=NORMAL;",
            transaction_mode="immediate",
        ),
        sqlite(":memory:"),
        sqlite("file::memory:?cache=shared"),
        sqlite("file:memdb1?mode=memory&cache=shared"),
        {"ENGINE": "django.db.backends.postgresql", "NAME": "app"},
    ],
)
def test_sqlite_with_wal_and_immediate_or_in_memory_is_clean(config):
    assert sqlite_messages(default=config) == []


def test_the_test_settings_sqlite_database_passes(monkeypatch):
    from tests import settings as test_settings

    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert sqlite_messages(default=test_settings._database()) == []


# -- the package's URLs not included (E010) ---------------------------------------------


@pytest.fixture
def urlconf(monkeypatch, settings):
    """Install a URLconf module made of ``patterns`` (none at all: ``broken``) as ROOT_URLCONF."""
    import sys
    import types

    def use(*patterns, broken=False):
        module = types.ModuleType("tests_checks_urlconf")
        if not broken:
            module.urlpatterns = list(patterns)
        monkeypatch.setitem(sys.modules, module.__name__, module)
        settings.ROOT_URLCONF = module.__name__

    return use


def test_package_urls_not_included(urlconf):
    from django.contrib import admin
    from django.urls import path

    urlconf(path("admin/", admin.site.urls))
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E010"]
    assert message.level == checks.ERROR
    assert "ROOT_URLCONF" in message.msg
    assert 'path("helpdesk/", include("django_helpdesk_oauth.urls"))' in message.hint


@pytest.mark.parametrize(
    "include_args",
    [
        ("django_helpdesk_oauth.urls",),
        (("django_helpdesk_oauth.urls", "helpdesk_oauth"),),
    ],
)
@pytest.mark.parametrize("prefix", ["", "deep/er/integrations/"])
def test_package_urls_under_any_prefix_are_clean(urlconf, prefix, include_args):
    from django.urls import include, path

    urlconf(path(prefix, include(*include_args)))
    assert "helpdesk_oauth.E010" not in ids()


def test_package_urls_under_an_instance_namespace_are_clean(urlconf):
    from django.urls import include, path

    urlconf(path("oauth/", include("django_helpdesk_oauth.urls", namespace="oauth2")))
    assert "helpdesk_oauth.E010" not in ids()


def test_a_broken_urlconf_is_left_to_django(urlconf):
    from django.core.exceptions import ImproperlyConfigured

    from django_helpdesk_oauth.checks import check_urls_included

    urlconf(broken=True)  # no urlpatterns: Django's own URL check reports it
    with pytest.raises(ImproperlyConfigured):
        check_urls_included()


# -- check --deploy: the sandbox and loopback endpoints (E011, W007) --------------------


def deploy_ids():
    return sorted(
        m.id
        for m in checks.run_checks(include_deployment_checks=True)
        if m.id.startswith("helpdesk_oauth")
    )


def test_sandbox_installed_with_debug_off_fails_deploy_checks(settings):
    settings.DEBUG = False
    messages = [
        m
        for m in checks.run_checks(include_deployment_checks=True)
        if m.id == "helpdesk_oauth.E011"
    ]
    [message] = messages
    assert message.level == checks.ERROR
    assert "django_helpdesk_oauth.sandbox" in message.msg and "INSTALLED_APPS" in message.msg
    assert "DEBUG" in message.msg
    assert "helpdesk_oauth.E011" not in ids()  # a deploy check only


def test_sandbox_with_debug_on_is_not_a_deploy_error(settings):
    settings.DEBUG = True
    assert "helpdesk_oauth.E011" not in deploy_ids()


def test_no_sandbox_no_deploy_error(settings):
    from django_helpdesk_oauth.checks import check_sandbox_in_production

    settings.DEBUG = False
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if app != "django_helpdesk_oauth.sandbox"
    ]
    assert [m.id for m in check_sandbox_in_production()] == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/t", "http://localhost/oauth/token", "http://[::1]:8000/t"]
)
def test_loopback_http_endpoint_under_deploy(settings, url):
    configure(settings, PROVIDERS={"gorgias": {"token_url": url}})
    [message] = [
        m
        for m in checks.run_checks(include_deployment_checks=True)
        if m.id == "helpdesk_oauth.W007"
    ]
    assert 'HELPDESK_OAUTH["PROVIDERS"]["gorgias"]' in message.msg
    assert "token_url" in message.msg and repr(url) in message.msg
    assert "helpdesk_oauth.W007" not in ids()  # fine for development and tests


@pytest.mark.parametrize(
    "providers", [{}, {"gorgias": {"token_url": "https://{tenant}.gorgias.example/oauth/token"}}]
)
def test_https_endpoints_are_clean_under_deploy(settings, providers):
    settings.DEBUG = True  # the sandbox error aside
    configure(settings, PROVIDERS=providers)
    assert "helpdesk_oauth.W007" not in deploy_ids()


def test_every_check_id_is_in_the_settings_docs():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = (root / "django_helpdesk_oauth" / "checks.py").read_text()
    source += (root / "django_helpdesk_oauth" / "sandbox" / "checks.py").read_text()
    declared = set(re.findall(r'id="(helpdesk_oauth[a-z_]*\.[EW]\d{3})"', source))
    assert len(declared) >= 15
    docs = (root / "docs" / "settings.md").read_text()
    assert {i for i in declared if f"`{i}`" not in docs} == set()


@pytest.mark.parametrize(
    "value",
    [
        "app.example.com",  # no scheme: the redirect URI would not be absolute
        "https://app.example.com/base",  # a path the callback is not served at
        "https://app.example.com/?x=1",
        "ftp://app.example.com",
        "https://",
        "https://app.example.com:port",
        ["https://app.example.com"],
    ],
)
def test_redirect_base_url_that_is_not_an_origin(settings, value):
    configure(settings, REDIRECT_BASE_URL=value)
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E013"]
    assert message.level == checks.ERROR
    assert 'HELPDESK_OAUTH["REDIRECT_BASE_URL"]' in message.msg
    assert "https://app.example.com" in message.hint


@pytest.mark.parametrize(
    "value", ["", "https://app.example.com", "https://app.example.com/", "http://127.0.0.1:8000"]
)
def test_redirect_base_url_origins_are_clean(settings, value):
    configure(settings, REDIRECT_BASE_URL=value)
    assert "helpdesk_oauth.E013" not in deploy_ids()
    assert "helpdesk_oauth.W008" not in deploy_ids()


def test_http_redirect_base_url_under_deploy(settings):
    configure(settings, REDIRECT_BASE_URL="http://app.example.com")
    [message] = [
        m
        for m in checks.run_checks(include_deployment_checks=True)
        if m.id == "helpdesk_oauth.W008"
    ]
    assert "plain HTTP" in message.msg and "https://app.example.com" in message.hint
    assert "helpdesk_oauth.W008" not in ids()  # a deploy check only


@pytest.mark.parametrize("path", ["/app/", "/app", "/oauth/x/", "/oauth/app/install"])
def test_session_cookie_path_not_covering_the_callback(settings, path):
    # tests.urls mounts the package under /oauth/: the callback is /oauth/app/callback/.
    settings.SESSION_COOKIE_PATH = path
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E014"]
    assert message.level == checks.ERROR
    assert "SESSION_COOKIE_PATH" in message.msg and "/oauth/app/callback/" in message.msg
    assert 'SESSION_COOKIE_PATH = "/"' in message.hint


@pytest.mark.parametrize("path", ["/", "/oauth/", "/oauth", "/oauth/app/"])
def test_session_cookie_path_covering_the_package_urls_is_clean(settings, path):
    settings.SESSION_COOKIE_PATH = path
    assert "helpdesk_oauth.E014" not in ids()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STATE_TTL", "600"),  # TypeError at the first install: a 500
        ("STATE_TTL", 0),  # every authorization request expired at its callback: a 400
        ("REFRESH_MARGIN", "1800"),  # made check itself raise (W003's comparison)
        ("REFRESH_MARGIN", -60),
        ("SECRET_GRACE_PERIOD", "86400"),
        ("SESSION_TOKEN_TTL", float("nan")),
        ("SESSION_TOKEN_TTL", True),
    ],
)
def test_seconds_settings_that_are_not_numbers_of_seconds(settings, name, value):
    settings.CELERY_BEAT_SCHEDULE = {
        "refresh": {"task": "django_helpdesk_oauth.tasks.refresh_expiring_tokens", "schedule": 300}
    }
    configure(settings, **{name: value})
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E015"]
    assert message.level == checks.ERROR
    assert f'HELPDESK_OAUTH["{name}"] = {value!r}' in message.msg
    assert "seconds" in message.hint


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STATE_TTL", 1),
        ("STATE_TTL", 600.0),
        ("REFRESH_MARGIN", 0),
        ("SECRET_GRACE_PERIOD", 0),
        ("SESSION_TOKEN_TTL", 0),
        ("SESSION_TOKEN_TTL", 2.5),
    ],
)
def test_seconds_settings_that_are_numbers_of_seconds_are_clean(settings, name, value):
    configure(settings, **{name: value})
    assert "helpdesk_oauth.E015" not in ids()


@pytest.mark.parametrize(
    "path", ["myapp.perms.nope", "can_uninstall", "django_helpdesk_oauth.conf.DEFAULTS", None]
)
def test_uninstall_permission_that_does_not_import_or_call(settings, path):
    configure(settings, UNINSTALL_PERMISSION=path)
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E016"]
    assert message.level == checks.ERROR
    assert f'HELPDESK_OAUTH["UNINSTALL_PERMISSION"] = {path!r}' in message.msg
    assert "fn(user, installation) -> bool" in message.hint


@pytest.mark.parametrize(
    "path", ["django_helpdesk_oauth.views.can_uninstall", "django.contrib.auth.get_user"]
)
def test_uninstall_permission_that_imports_a_callable_is_clean(settings, path):
    configure(settings, UNINSTALL_PERMISSION=path)
    assert "helpdesk_oauth.E016" not in ids()


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("token_url", "acme.gorgias.com/oauth/token"),  # no scheme: a 500 at the callback
        ("authorize_url", "127.0.0.1:8000/sandbox/gorgias/{tenant}/oauth/authorize"),
        ("api_base_url", "ftp://{tenant}.gorgias.com/api/"),
        ("revoke_url", "/oauth/revoke"),
        ("token_url", 42),
    ],
)
def test_provider_endpoint_that_is_not_an_absolute_url(settings, name, url):
    configure(settings, PROVIDERS={"gorgias": {name: url}})
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E017"]
    assert message.level == checks.ERROR
    assert f'HELPDESK_OAUTH["PROVIDERS"]["gorgias"]["{name}"] = {url!r}' in message.msg
    assert "https://" in message.hint


@pytest.mark.parametrize(
    "providers",
    [
        {"gorgias": {"token_url": "https://{tenant}.gorgias.example/oauth/token"}},
        {"intercom": {"token_url": "https://{api_host}/auth/eagle/token"}},
        {"gorgias": {"token_url": "http://127.0.0.1:8000/sandbox/gorgias/{tenant}/oauth/token"}},
        {"gorgias": {"revoke_url": ""}},
    ],
)
def test_provider_endpoints_that_are_absolute_urls_are_clean(settings, providers):
    configure(settings, PROVIDERS=providers)
    assert "helpdesk_oauth.E017" not in ids()


def test_sandbox_provider_settings_are_absolute_urls(settings):
    from django_helpdesk_oauth.sandbox.endpoints import provider_settings

    configure(settings, PROVIDERS=provider_settings("http://127.0.0.1:8765/sandbox"))
    assert "helpdesk_oauth.E017" not in ids()


@pytest.mark.parametrize(
    "dotted",
    [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
)
def test_session_or_auth_middleware_missing(settings, dotted):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != dotted]
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E018"]
    assert message.level == checks.ERROR
    assert f"'{dotted}' is not in MIDDLEWARE" in message.msg and dotted in message.hint


def test_a_subclass_of_the_session_middleware_is_clean(settings):
    settings.MIDDLEWARE = [
        "tests.test_checks.MySessionMiddleware" if m.endswith(".SessionMiddleware") else m
        for m in settings.MIDDLEWARE
    ]
    assert "helpdesk_oauth.E018" not in ids()


class MySessionMiddleware(SessionMiddleware):
    """A project's own session middleware (E018 accepts subclasses)."""


def test_database_sessions_without_the_sessions_app(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django.contrib.sessions"]
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E019"]
    assert "'django.contrib.sessions' is not in INSTALLED_APPS" in message.msg
    assert "INSTALLED_APPS" in message.hint


@pytest.mark.parametrize(
    ("engine", "app_installed"),
    [
        ("django.contrib.sessions.backends.db", True),
        ("django.contrib.sessions.backends.signed_cookies", False),
        ("django.contrib.sessions.backends.cache", False),
    ],
)
def test_session_engines_with_what_they_need_are_clean(settings, engine, app_installed):
    settings.SESSION_ENGINE = engine
    if not app_installed:
        settings.INSTALLED_APPS = [
            a for a in settings.INSTALLED_APPS if a not in ("django.contrib.sessions",)
        ]
    assert "helpdesk_oauth.E019" not in ids()
    assert "helpdesk_oauth.E018" not in ids()


def without_sandbox_app(settings):
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if app != "django_helpdesk_oauth.sandbox"
    ]


def test_sandbox_urls_included_without_the_sandbox_app(settings):
    without_sandbox_app(settings)  # tests.urls still includes the sandbox under /sandbox/
    [message] = [m for m in checks.run_checks() if m.id == "helpdesk_oauth.E021"]
    assert message.level == checks.ERROR
    assert "'/sandbox/'" in message.msg and "INSTALLED_APPS" in message.msg
    assert "django_helpdesk_oauth.sandbox.urls" in message.hint


def test_sandbox_urls_with_the_app_or_neither_are_clean(settings, urlconf):
    from django.urls import include, path

    assert "helpdesk_oauth.E021" not in ids()  # app and URLs: the test settings
    without_sandbox_app(settings)
    urlconf(path("helpdesk/", include("django_helpdesk_oauth.urls")))
    assert "helpdesk_oauth.E021" not in ids()
