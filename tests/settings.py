"""Settings for the test suite: SQLite by default, PostgreSQL when DATABASE_URL says so."""

import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_helpdesk_oauth",
    "django_helpdesk_oauth.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"
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


def _database():
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import environ

        return environ.Env.db_url_config(url)
    # A file, not :memory:, so live-server threads and worker threads share it; WAL and
    # IMMEDIATE transactions let concurrent writers queue instead of failing.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(BASE_DIR, "test.sqlite3"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": os.path.join(BASE_DIR, f"test-{os.getpid()}.sqlite3")},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A fixed key, so worker subprocesses of the concurrency tests can decrypt too.
HELPDESK_OAUTH = {
    "ENCRYPTION_KEYS": ["0ZgqjKDh9cbgzJ7b4bUo3o7ncqtLRnMc0Mh3nHPsDlI="],
}

# Tasks are published to an in-memory broker and never run by themselves: tests
# run them with .apply() or inspect what the sweep dispatched.
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = False

# Credentials the sandbox providers know; tests register more at run time.
HELPDESK_OAUTH_SANDBOX = {
    "CLIENTS": [
        {
            "provider": "gorgias",
            "client_id": "gorgias-test-client",
            "client_secret": "gorgias-test-secret-0001",
            "title": "Test Gorgias App",
        },
        {
            "provider": "kustomer",
            "client_id": "kustomer-test-client",
            "client_secret": "kustomer-test-secret-0001",
            "title": "Test Kustomer App",
        },
    ],
    "API_KEYS": {
        "kustomer-admin-key": {
            "org": "acme",
            "org_id": "5f0acme",
            "roles": ["org.admin.apps", "org.permission.apps"],
        },
        "kustomer-weak-key": {
            "org": "acme",
            "org_id": "5f0acme",
            "roles": ["org.permission.customer"],
        },
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_helpdesk_oauth": {"handlers": ["console"], "level": "DEBUG"}},
}
SILENCED_SYSTEM_CHECKS = ["helpdesk_oauth.W002"]  # the live-server tests are plain HTTP on purpose
