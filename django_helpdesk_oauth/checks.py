"""System checks (``manage.py check``) for the settings this app reads."""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string

from . import crypto
from .conf import DEFAULTS, app_settings
from .exceptions import ConfigurationError, DecryptionError
from .providers import base, registry
from .services.links import URLS_INCLUDE
from .transport import LEASE_SAFETY, LOOPBACK_HOSTS


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Keys present and valid; the SECRET_KEY fallback is a warning."""
    if not app_settings.ENCRYPTION_KEYS:
        return [
            checks.Warning(
                'HELPDESK_OAUTH["ENCRYPTION_KEYS"] is empty: tokens are encrypted with a key '
                "derived from SECRET_KEY; rotating SECRET_KEY without keeping the old one in "
                "SECRET_KEY_FALLBACKS (until helpdesk_oauth_rekey has run) makes them unreadable.",
                hint="Set it to a list of keys from cryptography.fernet.Fernet.generate_key().",
                id="helpdesk_oauth.W001",
            )
        ]
    try:
        crypto.encrypt("check")
    except ConfigurationError as exc:
        return [checks.Error(str(exc), id="helpdesk_oauth.E001")]
    return []


@checks.register(checks.Tags.security)
def check_decrypt_with_secret_key(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``DECRYPT_WITH_SECRET_KEY`` is a boolean (E020); while it is on next to
    ``ENCRYPTION_KEYS`` it is a step of a migration, not a state (W020)."""
    value = app_settings.DECRYPT_WITH_SECRET_KEY
    if not isinstance(value, bool):
        return [
            checks.Error(
                f'HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"] = {value!r} is not True or False: '
                "it is treated as False, so values written before ENCRYPTION_KEYS were set "
                "cannot be decrypted.",
                hint="Set it to True while moving to ENCRYPTION_KEYS (then run "
                "helpdesk_oauth_rekey and remove it), or remove it.",
                id="helpdesk_oauth.E020",
            )
        ]
    if value and crypto.explicit_keys():
        return [
            checks.Warning(
                'HELPDESK_OAUTH["DECRYPT_WITH_SECRET_KEY"] is True: values encrypted with the '
                "key derived from SECRET_KEY (or SECRET_KEY_FALLBACKS) still decrypt, so "
                "SECRET_KEY still protects them.",
                hint="Run helpdesk_oauth_rekey until it re-encrypts 0 values, then remove "
                "DECRYPT_WITH_SECRET_KEY (docs/security.md, 'From SECRET_KEY to "
                "ENCRYPTION_KEYS').",
                id="helpdesk_oauth.W020",
            )
        ]
    return []


#: Stored values of each kind the database check tries to decrypt, at most.
READABLE_SAMPLE = 20


@checks.register(checks.Tags.database)
def check_stored_values_readable(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Stored client secrets and access tokens open with the configured keys.

    A database check: Django runs it on ``migrate`` and on ``check --database <alias>``
    only. It decrypts up to :data:`READABLE_SAMPLE` client secrets and as many access
    tokens per database: E022 when the key derived from ``SECRET_KEY`` opens them (the
    move to ``ENCRYPTION_KEYS`` skipped its first step), W021 when no key does (a key
    removed before re-keying). Before the first ``migrate`` (no tables) it says nothing.
    """
    from django.db import DatabaseError
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from .models import ProviderApp, Token

    unreadable = 0
    derived = 0
    for alias in databases or ():
        for model, field in ((ProviderApp, "client_secret"), (Token, "access_token")):
            # Cast to a plain TextField: the ciphertext as stored, not decrypted on load.
            rows = model._default_manager.using(alias).annotate(
                stored=Cast(field, output_field=TextField())
            )
            try:
                sample = list(rows.values_list("stored", flat=True)[:READABLE_SAMPLE])
            except DatabaseError:
                return []  # not migrated yet
            for ciphertext in sample:
                if not ciphertext:
                    continue
                try:
                    crypto.decrypt(ciphertext)
                except DecryptionError:
                    unreadable += 1
                    derived += crypto.opens_with_secret_key(ciphertext)
                except ConfigurationError:
                    return []  # a bad key: E001 says so
    if derived:
        return [
            checks.Error(
                f"{derived} stored value(s) were encrypted with the key derived from "
                'SECRET_KEY, which HELPDESK_OAUTH["ENCRYPTION_KEYS"] replaced: refreshes, '
                "API calls and installs of those apps fail until they are re-encrypted.",
                hint=crypto.SECRET_KEY_HINT,
                id="helpdesk_oauth.E022",
            )
        ]
    if unreadable:
        return [
            checks.Warning(
                f"{unreadable} stored value(s) cannot be decrypted with any configured key "
                '(HELPDESK_OAUTH["ENCRYPTION_KEYS"], or SECRET_KEY when it is empty).',
                hint="Put back the key that was removed before helpdesk_oauth_rekey ran "
                "(docs/security.md); helpdesk_oauth_status lists the installations affected.",
                id="helpdesk_oauth.W021",
            )
        ]
    return []


@checks.register()
def check_providers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every provider named in ``PROVIDERS`` exists and its endpoint names are known."""
    errors: list[checks.CheckMessage] = []
    for key, overrides in (app_settings.PROVIDERS or {}).items():
        if key not in registry:
            errors.append(
                checks.Error(
                    f'HELPDESK_OAUTH["PROVIDERS"] names an unknown provider {key!r}.',
                    hint=f"Known providers: {', '.join(sorted(registry))}.",
                    id="helpdesk_oauth.E002",
                )
            )
            continue
        for name in overrides or {}:
            if name not in base.ENDPOINTS:
                errors.append(
                    checks.Error(
                        f'HELPDESK_OAUTH["PROVIDERS"]["{key}"] has an unknown endpoint {name!r}.',
                        hint=f"Known endpoints: {', '.join(base.ENDPOINTS)}.",
                        id="helpdesk_oauth.E003",
                    )
                )
    return errors


@checks.register()
def check_success_url(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``SUCCESS_URL`` must stay on this site (an open redirect otherwise: E004), and be
    a URL name that reverses or a path from the root (E008): anything else would be
    followed relative to the callback URL (``/oauth/gorgias/callback/integrations``)."""
    target = str(app_settings.SUCCESS_URL or "")
    reversed_ = False
    if getattr(settings, "ROOT_URLCONF", None):
        with contextlib.suppress(NoReverseMatch):
            # A URL name ("integrations:index") is on-site by definition.
            target, reversed_ = reverse(target), True
    if not url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return [
            checks.Error(
                f'HELPDESK_OAUTH["SUCCESS_URL"] = {app_settings.SUCCESS_URL!r} points off-site.',
                hint="Use a URL name or a path on this site, such as '/integrations/'.",
                id="helpdesk_oauth.E004",
            )
        ]
    if not reversed_ and not target.startswith("/"):
        return [
            checks.Error(
                f'HELPDESK_OAUTH["SUCCESS_URL"] = {app_settings.SUCCESS_URL!r} is neither a URL '
                "name that reverses without arguments nor a path starting with '/': the browser "
                "would be sent to it relative to the callback URL (a 404). At run time the "
                "callback sends it to '/' instead.",
                hint="Use the name of a URL pattern of this project (with its namespace, e.g. "
                "'myapp:integrations') or an absolute path such as '/integrations/'.",
                id="helpdesk_oauth.E008",
            )
        ]
    return []


@checks.register(checks.Tags.urls)
def check_urls_included(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The package's URLs (namespace ``helpdesk_oauth``) are part of ``ROOT_URLCONF``, under
    any prefix. A broken URLconf is Django's own check's to report, not ours."""
    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("helpdesk_oauth:callback", args=["app"])
    except NoReverseMatch:
        return [
            checks.Error(
                f"The URLs of django_helpdesk_oauth are not included in ROOT_URLCONF "
                f"({settings.ROOT_URLCONF!r}): 'helpdesk_oauth:callback' does not reverse, so "
                "no install can start or finish.",
                hint=f"Add {URLS_INCLUDE} to the urlpatterns of {settings.ROOT_URLCONF} "
                "(any prefix will do; keep the namespace).",
                id="helpdesk_oauth.E010",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_session_cookie(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The pending authorization request is bound to the browser's session
    (:data:`~.services.install.SESSION_BINDING_KEY`): the provider's redirect back to the
    callback is a cross-site navigation, on which a ``Strict`` cookie is not sent."""
    samesite = settings.SESSION_COOKIE_SAMESITE
    if isinstance(samesite, str) and samesite.lower() == "strict":
        return [
            checks.Error(
                f"SESSION_COOKIE_SAMESITE = {samesite!r}: browsers do not send the session cookie "
                "on the provider's redirect back to the OAuth callback, so every install ends "
                "with 'This installation link is invalid or has expired' (400).",
                hint='Set SESSION_COOKIE_SAMESITE = "Lax" (Django\'s default).',
                id="helpdesk_oauth.E009",
            )
        ]
    none = isinstance(samesite, str) and samesite.lower() == "none"
    if none and not settings.SESSION_COOKIE_SECURE:
        # Browsers refuse a SameSite=None cookie that is not Secure: no session at all.
        return [
            checks.Error(
                f"SESSION_COOKIE_SAMESITE = {samesite!r} without SESSION_COOKIE_SECURE = True: "
                "browsers refuse such a cookie, so the session (and the pending authorization "
                "request bound to it) never reaches the OAuth callback and every install ends "
                "in a 400.",
                hint='Set SESSION_COOKIE_SAMESITE = "Lax" (Django\'s default), or set '
                "SESSION_COOKIE_SECURE = True and serve the site over HTTPS.",
                id="helpdesk_oauth.E012",
            )
        ]
    return []


#: The SQLite ``OPTIONS`` the test settings and the example project use.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
_SQLITE_ENGINES = ("django.db.backends.sqlite3", "django.contrib.gis.db.backends.spatialite")
_WAL = re.compile(r"journal_mode\s*=\s*'?wal\b", re.IGNORECASE)


def _in_memory(name: object) -> bool:
    text = str(name or "")
    return (
        not text
        or text == ":memory:"
        or text.startswith("file::memory:")
        or (text.startswith("file:") and "mode=memory" in text)
    )


@checks.register()
def check_sqlite_concurrency(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A SQLite file database needs WAL and ``IMMEDIATE`` transactions, or two processes
    writing at once (the web process and a Celery worker: a refresh and an uninstall)
    fail with "database is locked" instead of waiting their turn. In-memory databases
    are skipped (one process)."""
    messages: list[checks.CheckMessage] = []
    for alias, config in (settings.DATABASES or {}).items():
        if config.get("ENGINE") not in _SQLITE_ENGINES or _in_memory(config.get("NAME")):
            continue
        options = config.get("OPTIONS") or {}
        missing = []
        if not _WAL.search(str(options.get("init_command") or "")):
            missing.append("WAL (init_command)")
        if str(options.get("transaction_mode") or "").upper() != "IMMEDIATE":
            missing.append('"transaction_mode": "IMMEDIATE"')
        if missing:
            messages.append(
                checks.Warning(
                    f"DATABASES[{alias!r}] is SQLite without {' and '.join(missing)} in its "
                    "OPTIONS: concurrent refreshes and uninstalls fail with 'database is locked'.",
                    hint=f'Set DATABASES["{alias}"]["OPTIONS"] = {SQLITE_OPTIONS!r}.',
                    id="helpdesk_oauth.W006",
                )
            )
    return messages


@checks.register(checks.Tags.security, deploy=True)
def check_sandbox_in_production(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``check --deploy``: the sandbox providers (consent without a login, tokens for
    anyone) belong in development and tests only."""
    messages: list[checks.CheckMessage] = []
    if apps.is_installed("django_helpdesk_oauth.sandbox") and not settings.DEBUG:
        messages.append(
            checks.Error(
                "'django_helpdesk_oauth.sandbox' is in INSTALLED_APPS while DEBUG is False: the "
                "sandbox providers hand out tokens to anyone and are for development and tests "
                "only.",
                hint="Remove 'django_helpdesk_oauth.sandbox' from INSTALLED_APPS (and its "
                "include() from the URLconf) in production settings.",
                id="helpdesk_oauth.E011",
            )
        )
    for key, provider in registry.items():
        loopback = []
        for name in base.ENDPOINTS:
            template = provider.endpoint_template(name)
            if not isinstance(template, str):
                continue  # E017's to report
            host = urlsplit(template.replace("{tenant}", "t")).hostname
            if template.startswith("http://") and host in LOOPBACK_HOSTS:
                loopback.append(name)
        if loopback:
            first = provider.endpoint_template(loopback[0])
            messages.append(
                checks.Warning(
                    f'HELPDESK_OAUTH["PROVIDERS"]["{key}"] points {", ".join(loopback)} at '
                    f"plain HTTP on loopback ({first!r}): the {key} provider this deployment "
                    "talks to is a local stand-in (the sandbox?), not the real one.",
                    hint=f'Remove the "{key}" overrides (the real endpoints apply) or point '
                    "them at the provider's HTTPS endpoints.",
                    id="helpdesk_oauth.W007",
                )
            )
    return messages


@checks.register(checks.Tags.security)
def check_transport(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Provider endpoints over plain HTTP (other than loopback) are refused at run time;
    with ``DEBUG=False`` a callback served over HTTP leaks codes."""
    messages: list[checks.CheckMessage] = []
    for key, provider in registry.items():
        for name in base.ENDPOINTS:
            template = provider.endpoint_template(name)
            if not isinstance(template, str):
                continue  # E017's to report
            host = urlsplit(template.replace("{tenant}", "t")).hostname
            if template.startswith("http://") and host not in LOOPBACK_HOSTS:
                messages.append(
                    checks.Error(
                        f"The {key} {name} {template!r} is not HTTPS.",
                        hint="OAuth credentials are only sent over HTTPS (or to loopback).",
                        id="helpdesk_oauth.E005",
                    )
                )
    if (
        not settings.DEBUG
        and not settings.SECURE_SSL_REDIRECT
        and not settings.SESSION_COOKIE_SECURE
    ):
        messages.append(
            checks.Warning(
                "DEBUG is False but neither SECURE_SSL_REDIRECT nor SESSION_COOKIE_SECURE is set: "
                "the OAuth redirect URI may be served over HTTP.",
                hint="Serve the callback over HTTPS; providers require HTTPS redirect URIs.",
                id="helpdesk_oauth.W002",
            )
        )
    return messages


def _beat_interval() -> float | None:
    schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None) or {}
    for entry in schedule.values():
        if entry.get("task") == "django_helpdesk_oauth.tasks.refresh_expiring_tokens":
            every = entry.get("schedule")
            if isinstance(every, int | float):
                return float(every)
            if isinstance(every, timedelta):
                return every.total_seconds()
            run_every = getattr(every, "run_every", None)
            if isinstance(run_every, timedelta):
                return run_every.total_seconds()
    return None


@checks.register()
def check_timing(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The margin must leave the beat task time to catch a token; the lease must outlive a call."""
    messages: list[checks.CheckMessage] = []
    interval = _beat_interval()
    margin = app_settings.REFRESH_MARGIN
    # A margin that is not a number is E015's to report (comparing it would raise).
    usable = _seconds(margin, zero_ok=True) is not None
    if interval is not None and usable and margin < 2 * interval:
        messages.append(
            checks.Warning(
                f'HELPDESK_OAUTH["REFRESH_MARGIN"] ({margin} s) is shorter than twice the beat '
                f"interval of refresh_expiring_tokens ({interval:g} s): a token can expire "
                "between two sweeps.",
                hint="Raise REFRESH_MARGIN or run the sweep more often.",
                id="helpdesk_oauth.W003",
            )
        )
    messages.extend(_lease_outlives_the_calls())
    return messages


def _seconds(value: Any, *, zero_ok: bool = False) -> float | None:
    """``value`` as a finite number of seconds, positive (or ``>= 0`` with ``zero_ok``),
    else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if value > 0 or (zero_ok and value == 0) else None


def _lease_outlives_the_calls() -> list[checks.CheckMessage]:
    """HTTP_TIMEOUT is a deadline per call (see :mod:`.transport`); a refresh may make two
    token calls (the secret grace-window retry), so the lease must cover both plus
    ``LEASE_SAFETY``, or a second worker takes the lapsed lease and sends the same
    rotating refresh token while the first is still waiting for its answer."""
    timeout = _seconds(app_settings.HTTP_TIMEOUT)
    if timeout is None:
        return [
            checks.Error(
                f'HELPDESK_OAUTH["HTTP_TIMEOUT"] = {app_settings.HTTP_TIMEOUT!r} is not a '
                "positive number of seconds.",
                hint="Set it to the seconds an outbound OAuth call may take in all, e.g. 10.",
                id="helpdesk_oauth.E007",
            )
        ]
    needed = 2 * timeout + LEASE_SAFETY
    lease = _seconds(app_settings.REFRESH_LEASE)
    if lease is None or lease < needed:
        return [
            checks.Error(
                f'HELPDESK_OAUTH["REFRESH_LEASE"] ({app_settings.REFRESH_LEASE!r} s) is shorter '
                f'than 2 x HELPDESK_OAUTH["HTTP_TIMEOUT"] ({timeout:g} s) + {LEASE_SAFETY} s: '
                "a slow refresh could outlive its lease and send the same refresh token twice.",
                hint=f"Set REFRESH_LEASE to at least {needed:g} or lower HTTP_TIMEOUT.",
                id="helpdesk_oauth.E006",
            )
        ]
    return []


def unknown_key_warnings(
    setting: str, unknown: list[object], known: list[str], *, id: str
) -> list[checks.CheckMessage]:
    """One Warning per unknown key of ``setting``, suggesting the closest known name."""
    messages: list[checks.CheckMessage] = []
    for key in unknown:
        # repr: the key comes from settings; a newline in it must not forge a line.
        text = key if isinstance(key, str) else repr(key)
        close = difflib.get_close_matches(text.upper(), known, n=1, cutoff=0.6)
        hint = (
            f"Did you mean {close[0]!r}?" if close else f"Known names: {', '.join(sorted(known))}."
        )
        messages.append(
            checks.Warning(
                f"{setting} has an unknown key {key!r}: it is ignored, the default applies.",
                hint=hint,
                id=id,
            )
        )
    return messages


@checks.register()
def check_unknown_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Keys of ``HELPDESK_OAUTH`` this app does not read (``REFRESH_MARGN`` would silently
    leave the default margin in force)."""
    return unknown_key_warnings(
        "HELPDESK_OAUTH", app_settings.unknown_names(), list(DEFAULTS), id="helpdesk_oauth.W005"
    )


def _origin_problem(value: object) -> str | None:
    """Why ``value`` is not a bare ``scheme://host[:port]`` origin, or ``None``."""
    if not isinstance(value, str):
        return "it is not a string"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "it is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "it has no http(s) scheme and host"
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return "it has more than a scheme and host (a path, query or user)"
    return None


@checks.register()
def check_redirect_base_url(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``REDIRECT_BASE_URL`` is a scheme and host only: the redirect URI is that origin
    plus the reversed callback path, so a value without a scheme is not an absolute URL
    (the provider refuses it) and a path is one the callback is not served at (a 404)."""
    value = app_settings.REDIRECT_BASE_URL
    if not value:
        return []
    problem = _origin_problem(value)
    if problem is None:
        return []
    return [
        checks.Error(
            f'HELPDESK_OAUTH["REDIRECT_BASE_URL"] = {value!r} is not a scheme and host '
            f"({problem}): the redirect URI would be {value!r} followed by the callback's "
            "path, which the provider refuses or this site does not serve.",
            hint='Set it to the origin registered at the provider, e.g. "https://app.example.com"'
            " (a URL prefix comes from FORCE_SCRIPT_NAME or the include() in the URLconf), "
            "or remove it to use the request's own host.",
            id="helpdesk_oauth.E013",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_redirect_base_url_https(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``check --deploy``: a ``REDIRECT_BASE_URL`` over plain HTTP (other than loopback)
    sends authorization codes in clear, and providers refuse such redirect URIs."""
    value = app_settings.REDIRECT_BASE_URL
    if not value or _origin_problem(value) is not None:
        return []
    parts = urlsplit(value)
    if parts.scheme != "http" or parts.hostname in LOOPBACK_HOSTS:
        return []
    return [
        checks.Warning(
            f'HELPDESK_OAUTH["REDIRECT_BASE_URL"] = {value!r} is plain HTTP: the redirect URI '
            "carries the authorization code in clear, and providers refuse HTTP redirect URIs.",
            hint=f'Use "https://{parts.netloc}" and serve the callback over HTTPS.',
            id="helpdesk_oauth.W008",
        )
    ]


def _cookie_path_covers(cookie_path: str, path: str) -> bool:
    """Whether a cookie with ``Path=cookie_path`` is sent to ``path`` (RFC 6265 §5.1.4)."""
    if path == cookie_path or cookie_path in ("", "/"):
        return True
    return path.startswith(cookie_path if cookie_path.endswith("/") else cookie_path + "/")


@checks.register(checks.Tags.security)
def check_session_cookie_path(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The session cookie must reach the install and callback URLs: the pending
    authorization request is bound to the session, so a ``SESSION_COOKIE_PATH`` that
    does not cover the callback ends every install in a 400."""
    cookie_path = settings.SESSION_COOKIE_PATH
    if not getattr(settings, "ROOT_URLCONF", None) or not isinstance(cookie_path, str):
        return []
    try:
        paths = [reverse(f"helpdesk_oauth:{n}", args=["app"]) for n in ("install", "callback")]
    except NoReverseMatch:
        return []  # E010's to report
    outside = [p for p in paths if not _cookie_path_covers(cookie_path, p)]
    if not outside:
        return []
    return [
        checks.Error(
            f"SESSION_COOKIE_PATH = {cookie_path!r} does not cover {outside[-1]!r}: the browser "
            "does not send the session cookie there, so the pending authorization request is "
            "not found and every install ends with 'This installation link is invalid or has "
            "expired' (400).",
            hint='Set SESSION_COOKIE_PATH = "/" (Django\'s default), or include '
            "django_helpdesk_oauth.urls under that path.",
            id="helpdesk_oauth.E014",
        )
    ]


#: Durations in seconds read at run time (HTTP_TIMEOUT and REFRESH_LEASE: E007/E006),
#: with whether 0 is meaningful ("no grace window", "read every time").
SECONDS_SETTINGS = {
    "STATE_TTL": False,
    "REFRESH_MARGIN": True,
    "SECRET_GRACE_PERIOD": True,
    "SESSION_TOKEN_TTL": True,
}


@checks.register()
def check_seconds_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Each of :data:`SECONDS_SETTINGS` is a number of seconds: a string makes the
    first install, refresh or rotation that reads it fail with a TypeError (a 500), a
    ``STATE_TTL`` of 0 expires every authorization request before its callback (400)."""
    messages: list[checks.CheckMessage] = []
    for name, zero_ok in SECONDS_SETTINGS.items():
        value = getattr(app_settings, name)
        if _seconds(value, zero_ok=zero_ok) is not None:
            continue
        wanted = "a number of seconds >= 0" if zero_ok else "a positive number of seconds"
        messages.append(
            checks.Error(
                f'HELPDESK_OAUTH["{name}"] = {value!r} is not {wanted}.',
                hint=f"Set it to {wanted}, e.g. {DEFAULTS[name]!r} (the default), or remove it.",
                id="helpdesk_oauth.E015",
            )
        )
    return messages


@checks.register()
def check_uninstall_permission(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``UNINSTALL_PERMISSION`` is imported by the uninstall view on every POST: a path
    that does not import (or names something not callable) is a 500 there."""
    path = app_settings.UNINSTALL_PERMISSION
    try:
        target = import_string(path)
    except Exception as exc:  # ImportError, ValueError ("not a dotted path"), TypeError…
        problem = f"does not import ({type(exc).__name__})"
    else:
        if callable(target):
            return []
        problem = "is not callable"
    return [
        checks.Error(
            f'HELPDESK_OAUTH["UNINSTALL_PERMISSION"] = {path!r} {problem}: every POST to the '
            "uninstall URL would fail with a server error (500).",
            hint="Set it to the dotted path of a function fn(user, installation) -> bool, or "
            'remove it for the default ("django_helpdesk_oauth.views.can_uninstall").',
            id="helpdesk_oauth.E016",
        )
    ]


_ANY_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@checks.register()
def check_provider_endpoint_urls(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every endpoint set in ``PROVIDERS`` is an absolute http(s) URL template: one
    without a scheme or host (``"acme.gorgias.com/oauth/token"``) is refused at run
    time, the install or callback answering a 500. Placeholders count as a host."""
    messages: list[checks.CheckMessage] = []
    for key, overrides in (app_settings.PROVIDERS or {}).items():
        if key not in registry or not isinstance(overrides, dict):
            continue  # E002's to report
        for name, template in overrides.items():
            if name not in base.ENDPOINTS or template in ("", None):
                continue  # E003's; an empty value keeps the default
            ok = False
            if isinstance(template, str):
                with contextlib.suppress(ValueError):
                    parts = urlsplit(_ANY_PLACEHOLDER.sub("t", template))
                    ok = parts.scheme in ("https", "http") and bool(parts.hostname)
            if not ok:
                messages.append(
                    checks.Error(
                        f'HELPDESK_OAUTH["PROVIDERS"]["{key}"]["{name}"] = {template!r} is not '
                        "an absolute http(s) URL: the calls and redirects that use it fail "
                        "with a server error (500).",
                        hint="Give the whole URL with its scheme and host, e.g. "
                        f"{registry[key].endpoints.get(name) or 'https://{tenant}.example.com/…'!r}.",
                        id="helpdesk_oauth.E017",
                    )
                )
    return messages


#: Middleware the views read from the request, and what fails without it.
NEEDED_MIDDLEWARE = {
    "django.contrib.sessions.middleware.SessionMiddleware": (
        "the install view binds each authorization request to request.session"
    ),
    "django.contrib.auth.middleware.AuthenticationMiddleware": (
        "the uninstall view reads request.user"
    ),
}
_DB_SESSION_ENGINES = (
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
)


def _has_middleware(dotted: str) -> bool:
    """``dotted`` or a subclass of it is in ``MIDDLEWARE``."""
    wanted = import_string(dotted)
    for entry in settings.MIDDLEWARE or []:
        if entry == dotted:
            return True
        with contextlib.suppress(Exception):  # a broken entry is Django's to report
            found = import_string(entry)
            if isinstance(found, type) and issubclass(found, wanted):
                return True
    return False


@checks.register()
def check_sessions_enabled(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The flows need sessions and authentication on the request (E018) and, with a
    database session engine, the sessions app (E019): without them every install (or
    uninstall) is a 500. Django's admin checks say so only when the admin is installed."""
    messages: list[checks.CheckMessage] = []
    for dotted, why in NEEDED_MIDDLEWARE.items():
        if not _has_middleware(dotted):
            messages.append(
                checks.Error(
                    f"'{dotted}' is not in MIDDLEWARE: {why}, so it fails with a server "
                    "error (500).",
                    hint=f"Add '{dotted}' to MIDDLEWARE (in the order startproject gives).",
                    id="helpdesk_oauth.E018",
                )
            )
    engine = getattr(settings, "SESSION_ENGINE", "")
    if engine in _DB_SESSION_ENGINES and not apps.is_installed("django.contrib.sessions"):
        messages.append(
            checks.Error(
                f"SESSION_ENGINE = {engine!r} stores sessions in the database, but "
                "'django.contrib.sessions' is not in INSTALLED_APPS: every install fails with "
                "a server error (500) when it saves the session.",
                hint="Add 'django.contrib.sessions' to INSTALLED_APPS (and run migrate), or "
                "use another SESSION_ENGINE such as "
                "'django.contrib.sessions.backends.signed_cookies'.",
                id="helpdesk_oauth.E019",
            )
        )
    return messages


@checks.register(checks.Tags.urls)
def check_sandbox_urls_without_the_app(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The sandbox's URLs included while ``django_helpdesk_oauth.sandbox`` is not
    installed (production settings next to a URLconf shared with development): its
    endpoints answer (token, API) but its pages are a 500 (no templates), and E011,
    which looks at ``INSTALLED_APPS``, does not see it."""
    if apps.is_installed("django_helpdesk_oauth.sandbox"):
        return []  # E011 (check --deploy) covers a sandbox left on in production
    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        where = reverse("helpdesk_oauth_sandbox:index")
    except NoReverseMatch:
        return []
    return [
        checks.Error(
            f"The sandbox providers' URLs are included in ROOT_URLCONF ({where!r}) but "
            "'django_helpdesk_oauth.sandbox' is not in INSTALLED_APPS: its endpoints are served "
            "(to anyone) and its consent pages fail with a server error (500).",
            hint='Include "django_helpdesk_oauth.sandbox.urls" only in development, e.g. under '
            '`if "django_helpdesk_oauth.sandbox" in settings.INSTALLED_APPS:` in your urls.py.',
            id="helpdesk_oauth.E021",
        )
    ]
