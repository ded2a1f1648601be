"""Settings of the example project, 12-factor style through django-environ.

Every value has a demo default, so ``migrate`` + ``runserver`` work on a fresh
clone with no configuration: SQLite (WAL) and a filesystem Celery broker under
``var/``, and the package pointed at the sandbox providers this project serves
itself. A deployment sets environment variables (or ``example_project/.env``):

``SECRET_KEY``, ``DEBUG``, ``ALLOWED_HOSTS``
    The usual Django ones.
``DATABASE_URL``
    e.g. ``postgres://user:pass@db:5432/helpdesk``; default SQLite in ``var/``.
``CELERY_BROKER_URL``
    e.g. ``redis://localhost:6379/0`` or ``amqp://guest@localhost//``;
    default ``filesystem://`` (no server) in ``var/broker/``.
``HELPDESK_OAUTH_KEYS``
    Comma-separated Fernet keys, first one encrypting (the name the docs use).
    Unset: a dev key is generated once into ``var/encryption.key``.
``SANDBOX_BASE_URL``
    Where the sandbox providers are served. Unset (the default): this project
    itself, at the loopback address and port each request came in on
    (``integrations.sandbox_base``), and ``http://127.0.0.1:8000/sandbox``
    outside requests (the Celery worker: set it there when ``runserver`` listens
    on another port). Set it to an empty value to talk to the real providers.
``SANDBOX_TOKEN_LIFETIME``
    Seconds every expiring sandbox access token lives (default: each provider's
    own, e.g. 24 h). ``120`` makes a background refresh visible within minutes:
    the refresh margin is capped at half the lifetime, and the beat sweep then
    runs every quarter of it.
``SANDBOX_KUSTOMER_ENDPOINTS``
    Kustomer's endpoint set in the sandbox: ``per_org`` (default, like the
    package's: the org's own consent page and token host) or ``seed`` (the
    global ones, whose consent page asks for the org; the org is then confirmed
    on its API host before anything is stored).
``EXAMPLE_VAR_DIR``
    Where the default database, broker folders and dev key live (default
    ``example_project/var``).
"""

import os
import tempfile
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from integrations.sandbox_base import SandboxProviders

from django_helpdesk_oauth.sandbox.endpoints import provider_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

# Local state of the demo (git-ignored): database, broker folders, dev encryption key.
VAR_DIR = Path(env("EXAMPLE_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env("SECRET_KEY", default="django-insecure-example-project-demo-only")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_helpdesk_oauth",
    "django_helpdesk_oauth.sandbox",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Inside MessageMiddleware: install/uninstall messages stored with the response.
    "integrations.middleware.FlowMessagesMiddleware",
    "integrations.middleware.DemoApiKeysOnlyInDebugMiddleware",
    "integrations.sandbox_base.SandboxBaseMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process, the Celery worker and beat read while one writes;
    # IMMEDIATE transactions make concurrent writers queue (up to `timeout` s)
    # instead of failing with "database is locked" on lock upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The uninstall view redirects anonymous users here.
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(VAR_DIR / "static"))


# --- Celery ---------------------------------------------------------------------------
# "localhost" only names the (serverless) filesystem transport's host; without it
# kombu warns on every connection.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = VAR_DIR / "broker"
    # One folder for in and out: this process and the worker are producer and
    # consumer of the same queues.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "messages"),
        "data_folder_out": str(BROKER_DIR / "messages"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        # The default (1 s) would make every task wait up to a second to be picked up.
        "polling_interval": 0.05,
    }
    for _folder in ("messages", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The package's tasks ignore their results: no result backend needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
# Short-lived sandbox tokens (seconds), to watch a background refresh; None: the providers'.
SANDBOX_TOKEN_LIFETIME = env.int("SANDBOX_TOKEN_LIFETIME", default=None)
# Plain beat schedule (no django-celery-beat): sweep for tokens due every 5 minutes,
# well under half of REFRESH_MARGIN (30 min); with short-lived sandbox tokens, every
# quarter of their lifetime (their margin is half of it), at least every 10 s.
CELERY_BEAT_SCHEDULE = {
    "helpdesk-oauth-refresh": {
        "task": "django_helpdesk_oauth.tasks.refresh_expiring_tokens",
        "schedule": (
            max(10.0, min(300.0, SANDBOX_TOKEN_LIFETIME / 4)) if SANDBOX_TOKEN_LIFETIME else 300.0
        ),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")


# --- django-helpdesk-oauth ---------------------------------------------------------------
def _encryption_keys() -> list[str]:
    """Keys from the environment; else a dev key generated once into ``var/``.

    Kept on disk so a restart (or the Celery worker) can still decrypt the
    tokens stored before. Written to a temporary file and hard-linked into place,
    so two processes starting together cannot end up with different keys.
    """
    keys = env.list("HELPDESK_OAUTH_KEYS", default=[])
    if keys:
        return keys
    path = VAR_DIR / "encryption.key"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=VAR_DIR, prefix=".encryption.key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its key
        finally:
            os.unlink(tmp)
    return [path.read_text().strip()]


# None (unset): the sandbox this project serves, at the address of each request.
SANDBOX_BASE_URL = env("SANDBOX_BASE_URL", default=None)
SANDBOX_KUSTOMER_ENDPOINTS = env("SANDBOX_KUSTOMER_ENDPOINTS", default="per_org")
# Help Scout sends the user back to the app's registered Redirection URL. A path is
# taken on the sandbox's own address (this project, whatever its port); with an explicit
# SANDBOX_BASE_URL, on that address (…/sandbox stripped).
HELPSCOUT_CALLBACK = "/helpdesk/helpscout-sandbox/callback/"
if SANDBOX_BASE_URL:
    HELPSCOUT_CALLBACK = SANDBOX_BASE_URL.rstrip("/").removesuffix("/sandbox") + HELPSCOUT_CALLBACK

HELPDESK_OAUTH = {
    "ENCRYPTION_KEYS": _encryption_keys(),
    # Empty SANDBOX_BASE_URL: the providers' real endpoints.
    "PROVIDERS": (
        SandboxProviders(kustomer=SANDBOX_KUSTOMER_ENDPOINTS)
        if SANDBOX_BASE_URL is None
        else provider_settings(SANDBOX_BASE_URL, kustomer=SANDBOX_KUSTOMER_ENDPOINTS)
        if SANDBOX_BASE_URL
        else {}
    ),
    # A URL name: the integrations page.
    "SUCCESS_URL": "integrations",
}

# The demo OAuth clients the sandbox providers know; `manage.py seed_sandbox_apps`
# creates the matching ProviderApps. Sandbox-only values, not real credentials.
HELPDESK_OAUTH_SANDBOX = {
    "CLIENTS": [
        {
            "provider": "gorgias",
            "client_id": "demo-gorgias-client",
            "client_secret": "demo-gorgias-secret-sandbox-only-g0rg",
            "title": "Example Gorgias App",
        },
        {
            "provider": "kustomer",
            "client_id": "demo-kustomer-client",
            "client_secret": "demo-kustomer-secret-sandbox-only-kust",
            "title": "Example Kustomer App",
            # Registered at the sandbox's apps API under this name, so the admin and
            # helpdesk_oauth_rotate_secret can rotate its secret with the admin key below.
            "app_name": "demoapp_5f0acme",
            "org_id": "5f0acme",
        },
        {
            "provider": "zendesk",
            "client_id": "demo-zendesk-client",
            "client_secret": "demo-zendesk-secret-sandbox-only-zend",
            "title": "Example Zendesk App",
        },
        {
            "provider": "hubspot",
            "client_id": "demo-hubspot-client",
            "client_secret": "demo-hubspot-secret-sandbox-only-hubs",
            "title": "Example HubSpot App",
        },
        {
            "provider": "intercom",
            "client_id": "demo-intercom-client",
            "client_secret": "demo-intercom-secret-sandbox-only-intc",
            "title": "Example Intercom App",
        },
        {
            "provider": "front",
            "client_id": "demo-front-client",
            "client_secret": "demo-front-secret-sandbox-only-frnt",
            "title": "Example Front App",
        },
        {
            "provider": "helpscout",
            "client_id": "demo-helpscout-client",
            "client_secret": "demo-helpscout-secret-sandbox-only-hlps",
            "title": "Example Help Scout App",
            # Help Scout's authorize URL names no redirect_uri: the user goes back to the
            # Redirection URL registered with the app, i.e. this project's callback.
            "redirect_uris": [HELPSCOUT_CALLBACK],
        },
        {
            "provider": "zoho_desk",
            "client_id": "demo-zoho-desk-client",
            "client_secret": "demo-zoho-desk-secret-sandbox-only-zoho",
            "title": "Example Zoho Desk App",
        },
    ],
    # Tokens and apps the sandbox issued survive runserver restarts (and autoreloads).
    "STATE_FILE": str(VAR_DIR / "sandbox-state.json"),
    # None: each provider's own lifetime.
    "ACCESS_TOKEN_LIFETIME": SANDBOX_TOKEN_LIFETIME,
    # An admin API key of the sandbox's Kustomer apps API (register app, rotate secret).
    "API_KEYS": {
        "demo-kustomer-admin-key": {
            "org": "acme",
            "org_id": "5f0acme",
            "roles": ["org.admin.apps", "org.permission.apps"],
        },
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_oauth_query": {"()": "django_helpdesk_oauth.logredact.RedactOAuthQuery"}},
    "formatters": {
        "plain": {"format": "[{asctime}] {levelname} {name}: {message}", "style": "{"},
        # Django's own runserver format, kept; only the filter below is added.
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            # runserver's access log would otherwise print callback codes and states.
            "filters": ["redact_oauth_query"],
        },
    },
    "loggers": {
        # Not propagated: the Celery worker's root handler would print each line twice.
        "django_helpdesk_oauth": {
            "handlers": ["console"],
            "level": env("HELPDESK_OAUTH_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
