"""Every sandbox test starts from a clean sandbox state, with the sandbox mounted at /sandbox/."""

import importlib

import pytest

from django_helpdesk_oauth.sandbox.state import state


@pytest.fixture(autouse=True)
def _clean_state():
    state.reset()
    yield
    state.reset()


@pytest.fixture(autouse=True)
def _urlconf(settings):
    # tests/urls.py also mounts the package's own URLs, which other work may leave
    # unimportable for a while; the sandbox sits at /sandbox/ in both.
    try:
        importlib.import_module(settings.ROOT_URLCONF)
    except Exception:
        settings.ROOT_URLCONF = "tests.sandbox.urls"
