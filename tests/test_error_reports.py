"""No code, state, verifier, token, client secret or API key in Django's error reports.

A failure on each path (a signal receiver raising, a failure after the code
exchange) is rendered by Django's own exception reporter — the HTML debug page
with every frame's local variables, the text version, the DEBUG=True page a
browser gets, and the admins' e-mail of ``AdminEmailHandler`` — and none of the
values generated along the way may appear. The values are read after the fact
from the sandbox (codes, every token it issued) and the database, plus the
flow's ``state``, verifier and nonce read while the flow was pending.
"""

from __future__ import annotations

import io
import logging
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.core.signals import got_request_exception
from django.db.models.signals import post_save
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

from django_helpdesk_oauth.models import AuthorizationRequest, ProviderApp, Token
from django_helpdesk_oauth.reporting import OAuthExceptionReporterFilter, redact_query
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services.secrets import register_app
from django_helpdesk_oauth.signals import (
    client_secret_rotated,
    installation_completed,
    token_refreshed,
)
from django_helpdesk_oauth.tasks import refresh_installation_token
from tests.commands.conftest import assert_no_secrets, stored_secrets

pytestmark = pytest.mark.django_db(transaction=True)

ExcInfo = tuple[Any, BaseException, Any]
ADMINS = [("Ops", "ops@example.com")]
ROLES = ["org.admin.apps", "org.permission.apps"]


class ReceiverFailed(RuntimeError):
    """What the test receivers raise (its message names no value)."""


def _fail(*args: Any, **kwargs: Any) -> None:
    raise ReceiverFailed("a receiver failed")


@contextmanager
def failing(signal: Any, sender: Any = None) -> Iterator[None]:
    """A receiver of ``signal`` that raises, connected for the block."""
    uid = f"h5-{id(signal)}"
    signal.connect(_fail, sender=sender, dispatch_uid=uid, weak=False)
    try:
        yield
    finally:
        signal.disconnect(sender=sender, dispatch_uid=uid)


@contextmanager
def captured_requests() -> Iterator[list[tuple[Any, ExcInfo]]]:
    """``(request, exc_info)`` of every request that raised, as Django's handler saw it."""
    seen: list[tuple[Any, ExcInfo]] = []

    def grab(sender: Any, request: Any = None, **kwargs: Any) -> None:
        seen.append((request, sys.exc_info()))

    got_request_exception.connect(grab, dispatch_uid="h5-capture", weak=False)
    try:
        yield seen
    finally:
        got_request_exception.disconnect(dispatch_uid="h5-capture")


@contextmanager
def admin_mail(logger_name: str = "django.request") -> Iterator[logging.Logger]:
    """``AdminEmailHandler`` (with the HTML report) on ``logger_name`` for the block."""
    logger = logging.getLogger(logger_name)
    handler = AdminEmailHandler(include_html=True)
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)


def call(fn: Callable[[], Any]) -> ExcInfo:
    """``fn()``'s exception, caught here: the report starts at this frame, not the test's
    (whose locals hold the values the test looks for)."""
    try:
        fn()
    except BaseException:
        return sys.exc_info()  # type: ignore[return-value]
    raise AssertionError("expected a failure")


def rendered(request: Any, exc_info: ExcInfo) -> list[str]:
    """Django's report for ``exc_info``: the HTML page (frames with their locals) and the text."""
    reporter = ExceptionReporter(request, *exc_info)
    html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    assert "ReceiverFailed" in text or "CommandError" in text or "RuntimeError" in text
    assert "Local vars" in html.replace("Local Vars", "Local vars")  # frames were rendered
    return [html, text]


def mailed(exc_info: ExcInfo, request: Any = None) -> list[str]:
    """The admins' e-mail for ``exc_info`` (text body and HTML alternative)."""
    mail.outbox.clear()
    with admin_mail("tests.h5") as logger:
        logger.error("Failure", exc_info=exc_info, extra={"request": request} if request else {})
    return outbox()


def outbox() -> list[str]:
    assert mail.outbox, "no admin e-mail was sent"
    bodies = []
    for message in mail.outbox:
        bodies.append(message.subject + "\n" + message.body)
        bodies.extend(content for content, _type in getattr(message, "alternatives", []))
    assert any("Local vars" in body or "Local Vars" in body for body in bodies)
    return bodies


def everything(*extra: str) -> set[str]:
    """Every value to keep out: the database's and the sandbox's, and ``extra``."""
    return stored_secrets() | {value for value in extra if value}


def assert_clean(texts: list[str], values: set[str]) -> None:
    for text in texts:
        assert_no_secrets(text, values)


# -- the harness sees locals: a frame outside our code shows them ------------------------


def test_the_reporter_shows_an_undecorated_local():
    marker = "visible-" + secrets.token_urlsafe(16)

    def leaky() -> None:
        value = marker  # noqa: F841  (a local the report prints)
        raise ReceiverFailed("boom")

    html, _text = rendered(None, call(leaky))
    assert marker in html


# -- the install callback ---------------------------------------------------------------


def _pending_flow(browser, sandbox, app) -> tuple[str, set[str]]:
    """Start an install and consent; the callback URL and the flow's one-time values."""
    tenant = "acme"
    params = {"account": tenant} if app.provider == "gorgias" else {"org": tenant}
    start = browser.get(
        f"{sandbox.url}/oauth/{app.slug}/install/",
        params=params,
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 302, start.text
    decision = consent(browser, start, org=tenant if app.provider == "kustomer" else None)
    location = decision.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    pending = AuthorizationRequest.objects.get(app=app)
    values = {query["code"][0], query["state"][0], pending.code_verifier, pending.nonce}
    assert query["code"][0] and query["state"][0]
    if app.provider == "kustomer":
        assert pending.code_verifier  # PKCE: the verifier is among the values checked
    return location, values


def _after_exchange():
    """A failure inside the store transaction, after the provider answered."""
    return failing(post_save, sender=Token)


def _completed():
    return failing(installation_completed)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
@pytest.mark.parametrize("failure", [_completed, _after_exchange], ids=["receiver", "exchange"])
def test_callback_failure_reports_and_mail(
    provider, failure, sandbox, browser, gorgias_app, kustomer_app, settings
):
    """DEBUG=False: Django's report of the request and the admins' e-mail hold no value."""
    settings.ADMINS = ADMINS
    app = gorgias_app if provider == "gorgias" else kustomer_app
    location, flow = _pending_flow(browser, sandbox, app)
    mail.outbox.clear()
    with failure(), captured_requests() as seen, admin_mail():
        response = browser.get(location, allow_redirects=False, timeout=10)
    assert response.status_code == 500
    assert sandbox.state.count(endpoint="token") == 1  # the code was exchanged
    values = everything(*flow, app.client_secret)
    assert len(values) > 6
    ((request, exc_info),) = seen
    assert_clean(rendered(request, exc_info), values)
    assert_clean(outbox(), values)
    assert_clean([response.text], values)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_callback_failure_debug_page(
    provider, sandbox, browser, gorgias_app, kustomer_app, settings
):
    """DEBUG=True: the technical 500 page the browser gets (HTML and text) holds no value."""
    settings.DEBUG = True
    app = gorgias_app if provider == "gorgias" else kustomer_app
    location, flow = _pending_flow(browser, sandbox, app)
    with _completed(), captured_requests() as seen:
        page = browser.get(location, allow_redirects=False, timeout=10)
    assert page.status_code == 500
    assert "ReceiverFailed" in page.text and "Local vars" in page.text.replace(
        "Local Vars", "Local vars"
    )
    values = everything(*flow, app.client_secret)
    ((request, exc_info),) = seen
    assert_clean([page.text, *rendered(request, exc_info)], values)
    # The query keys are still shown, only their values are starred.
    assert "code" in page.text and "********************" in page.text


def test_callback_failure_through_the_test_client(sandbox, browser, kustomer_app, settings):
    """The same through Django's test client (raise_request_exception=True).

    The report is rendered from the handler's ``sys.exc_info()`` (``got_request_exception``):
    the traceback the client re-raises also holds the test client's own frames, which
    build the request from the callback URL and exist in no deployment.
    """
    location, flow = _pending_flow(browser, sandbox, kustomer_app)
    client = Client(raise_request_exception=True)
    client.cookies["sessionid"] = browser.cookies["sessionid"]
    parts = urlsplit(location)
    with _completed(), captured_requests() as seen:
        raised = call(lambda: client.get(f"{parts.path}?{parts.query}"))
    ((request, exc_info),) = seen
    assert raised[0] is ReceiverFailed and raised[1] is exc_info[1]
    assert_clean(rendered(request, exc_info), everything(*flow, kustomer_app.client_secret))


# -- neighbours: the install and uninstall views ----------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_install_view_failure(debug, sandbox, browser, kustomer_app, settings):
    """A failure after the pending request (state, PKCE verifier) is stored."""
    settings.DEBUG = debug
    with failing(post_save, sender=AuthorizationRequest), captured_requests() as seen:
        page = browser.get(
            f"{sandbox.url}/oauth/{kustomer_app.slug}/install/",
            params={"org": "acme"},
            allow_redirects=False,
            timeout=10,
        )
    assert page.status_code == 500
    pending = AuthorizationRequest.objects.get(app=kustomer_app)  # written before the failure
    assert pending.code_verifier
    ((request, exc_info),) = seen
    values = everything(pending.code_verifier, kustomer_app.client_secret)
    assert_clean([page.text, *rendered(request, exc_info)], values)


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_uninstall_view_failure(
    provider, sandbox, installed, gorgias_app, kustomer_app, admin_user, settings
):
    from django_helpdesk_oauth.signals import installation_uninstalled

    settings.ADMINS = ADMINS
    app = gorgias_app if provider == "gorgias" else kustomer_app
    installation = installed(app)
    token = Token.objects.get(installation=installation)
    values = everything(token.access_token, token.refresh_token, app.client_secret)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    mail.outbox.clear()
    with failing(installation_uninstalled), captured_requests() as seen, admin_mail():
        response = client.post(reverse("helpdesk_oauth:uninstall", args=[installation.pk]))
    assert response.status_code == 500
    assert not Token.objects.filter(installation=installation).exists()
    ((request, exc_info),) = seen
    assert exc_info[0] is ReceiverFailed
    assert_clean([*rendered(request, exc_info), *outbox()], values)


# -- refresh ----------------------------------------------------------------------------


def _due(installation) -> set[str]:
    """Make the token due; its current (soon old) values."""
    token = Token.objects.get(installation=installation)
    Token.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    return {token.access_token, token.refresh_token}


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_refresh_failure_through_api_session(
    provider, sandbox, installed, gorgias_app, kustomer_app, settings
):
    settings.ADMINS = ADMINS
    app = gorgias_app if provider == "gorgias" else kustomer_app
    installation = installed(app)
    old = _due(installation)
    with failing(token_refreshed):
        exc_info = call(lambda: installation.api_session().get("users/current"))
    assert exc_info[0] is ReceiverFailed
    assert Token.objects.get(installation=installation).access_token not in old  # refreshed
    values = everything(*old, app.client_secret)
    assert_clean(rendered(None, exc_info), values)
    assert_clean(mailed(exc_info), values)


def test_refresh_failure_debug_true_with_our_default_filter(
    sandbox, installed, kustomer_app, settings
):
    """DEBUG=True outside our views: with the documented DEFAULT_EXCEPTION_REPORTER_FILTER."""
    from django.views.debug import get_default_exception_reporter_filter

    settings.DEBUG = True
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = (
        "django_helpdesk_oauth.reporting.OAuthExceptionReporterFilter"
    )
    get_default_exception_reporter_filter.cache_clear()
    try:
        installation = installed(kustomer_app)
        old = _due(installation)
        with failing(token_refreshed):
            exc_info = call(lambda: installation.api_session().get("users/current"))
        assert_clean(rendered(None, exc_info), everything(*old, kustomer_app.client_secret))
    finally:
        get_default_exception_reporter_filter.cache_clear()


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_refresh_failure_in_the_celery_task(
    provider, sandbox, installed, gorgias_app, kustomer_app, settings
):
    settings.ADMINS = ADMINS
    app = gorgias_app if provider == "gorgias" else kustomer_app
    installation = installed(app)
    old = _due(installation)
    with failing(token_refreshed):
        exc_info = call(
            lambda: refresh_installation_token.apply((installation.pk,), throw=True).get()
        )
    assert exc_info[0] is ReceiverFailed
    values = everything(*old, app.client_secret)
    assert_clean(rendered(None, exc_info), values)
    assert_clean(mailed(exc_info), values)


# -- client secret rotation in the admin ------------------------------------------------


def _api_key(sandbox) -> str:
    key = "key-" + secrets.token_urlsafe(24)
    sandbox.state.add_api_key(key, org="acme", org_id="5f0acme", roles=ROLES)
    return key


def _rotate_url(app) -> str:
    return reverse("admin:helpdesk_oauth_providerapp_rotate", args=[app.pk])


def _rotation(provider, sandbox, gorgias_app) -> tuple[ProviderApp, dict[str, str], set[str]]:
    """The app, the form data to post, and the values known before the rotation."""
    if provider == "gorgias":
        new = "pasted-" + secrets.token_urlsafe(24)
        return gorgias_app, {"new_secret": new}, {gorgias_app.client_secret, new}
    key = _api_key(sandbox)
    app = register_app(provider_key="kustomer", slug="kus", name="rotapp", title="Rot", api_key=key)
    return app, {"api_key": key}, {app.client_secret, key}


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_admin_rotation_failure_reports_and_mail(
    provider, sandbox, gorgias_app, admin_user, settings
):
    settings.ADMINS = ADMINS
    app, data, before = _rotation(provider, sandbox, gorgias_app)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    mail.outbox.clear()
    with failing(client_secret_rotated), captured_requests() as seen, admin_mail():
        response = client.post(_rotate_url(app), data)
    assert response.status_code == 500
    app.refresh_from_db()
    assert app.previous_client_secret in before  # the rotation itself went through
    values = everything(*before, app.client_secret, app.previous_client_secret)
    ((request, exc_info),) = seen
    assert exc_info[0] is ReceiverFailed
    assert_clean(rendered(request, exc_info), values)
    assert_clean(outbox(), values)
    # The form field is named in the report, its value starred.
    assert next(iter(data)) in rendered(request, exc_info)[1]


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_admin_rotation_failure_debug_page(
    provider, accept, sandbox, gorgias_app, admin_user, settings
):
    settings.DEBUG = True
    app, data, before = _rotation(provider, sandbox, gorgias_app)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    with failing(client_secret_rotated):
        response = client.post(_rotate_url(app), data, HTTP_ACCEPT=accept)
    assert response.status_code == 500
    page = response.content.decode()
    assert "ReceiverFailed" in page and "Request information" in page
    app.refresh_from_db()
    assert_clean([page], everything(*before, app.client_secret, app.previous_client_secret))


# -- rotation and registration by command -----------------------------------------------


def _printed_failure(capsys, name: str, *args: str) -> str:
    """What ``manage.py name args`` prints on stderr (it exits 1)."""
    capsys.readouterr()
    command = load_command_class("django_helpdesk_oauth", name)
    with pytest.raises(SystemExit) as exit_info:
        command.run_from_argv(["manage.py", name, *args])
    assert exit_info.value.code == 1
    return capsys.readouterr().err


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_rotate_secret_command_failure(provider, sandbox, gorgias_app, tmp_path, settings, capsys):
    settings.ADMINS = ADMINS
    app, data, before = _rotation(provider, sandbox, gorgias_app)
    option = "--secret-file" if provider == "gorgias" else "--api-key-file"
    first, second = tmp_path / "first", tmp_path / "second"
    if provider == "gorgias":
        again = "pasted-" + secrets.token_urlsafe(24)
        first.write_text(data["new_secret"] + "\n")
        second.write_text(again + "\n")
        before.add(again)
    else:
        first.write_text(data["api_key"] + "\n")
        second.write_text(data["api_key"] + "\n")
    name = "helpdesk_oauth_rotate_secret"
    with failing(client_secret_rotated):
        exc_info = call(
            lambda: call_command(name, app.slug, option, str(first), stdout=io.StringIO())
        )
        printed = _printed_failure(capsys, name, app.slug, option, str(second))
    assert exc_info[0] is CommandError
    assert isinstance(exc_info[1].__cause__, ReceiverFailed)
    message = str(exc_info[1])
    assert "\n" not in message and "may be stored already" in message
    assert printed.startswith("CommandError: Unexpected ReceiverFailed")
    assert printed.count("\n") == 1 and "Traceback" not in printed
    app.refresh_from_db()
    seen_secrets = {app.client_secret, app.previous_client_secret}
    values = everything(*before, *seen_secrets)
    assert_clean([message, printed, *rendered(None, exc_info), *mailed(exc_info)], values)


def test_register_app_command_failure(sandbox, tmp_path, settings):
    settings.ADMINS = ADMINS
    key = _api_key(sandbox)
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    args = ("--provider", "kustomer", "--slug", "reg", "--register", "regapp")
    with failing(post_save, sender=ProviderApp):
        exc_info = call(
            lambda: call_command(
                "helpdesk_oauth_register_app",
                *args,
                "--api-key-file",
                str(key_file),
                stdout=io.StringIO(),
            )
        )
    assert exc_info[0] is CommandError
    message = str(exc_info[1])
    # The create-app service writes nothing on failure: the row is rolled back, and the
    # message names the app the provider registered so it can be recovered.
    assert not ProviderApp.objects.filter(slug="reg").exists()
    (registered,) = sandbox.state.kustomer_apps.values()
    assert "\n" not in message and "could not be stored (ReceiverFailed)" in message
    assert registered.client_id in message and registered.name in message
    client_secret = sandbox.state.get_client("kustomer", registered.client_id).client_secret
    values = everything(key, client_secret)
    assert_clean([message, *rendered(None, exc_info), *mailed(exc_info)], values)


# -- the admin create form --------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_admin_create_form_failure(debug, admin_user, settings, db):
    settings.ADMINS = ADMINS
    settings.DEBUG = debug
    secret = "typed-" + secrets.token_urlsafe(24)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    data = {
        "slug": "created",
        "provider": "gorgias",
        "name": "Created",
        "client_id": "created-client",
        "client_secret": secret,
        "scopes": "",
        "enabled": "on",
    }
    mail.outbox.clear()
    with failing(post_save, sender=ProviderApp), captured_requests() as seen, admin_mail():
        response = client.post(reverse("admin:helpdesk_oauth_providerapp_add"), data)
    assert response.status_code == 500
    assert not ProviderApp.objects.filter(slug="created").exists()  # the admin rolled back
    ((request, exc_info),) = seen
    texts = [response.content.decode(), *rendered(request, exc_info)]
    if not debug:
        texts += outbox()
    assert_clean(texts, everything(secret))


# -- the filter itself ------------------------------------------------------------------


def test_redact_query_stars_every_sensitive_parameter_and_keeps_the_rest():
    url = "/cb/?code=C1&state=S1&x=1&iss=https%3A%2F%2Fa&code_verifier=V&token=T#frag"
    assert redact_query(url) == (
        "/cb/?code=********************&state=********************&x=1&iss=https%3A%2F%2Fa"
        "&code_verifier=********************&token=********************#frag"
    )
    assert redact_query("QUERY_STRING code=abc") == "QUERY_STRING code=abc"  # not a query


def test_the_filter_cleanses_dicts_and_query_dicts_in_frames():
    from django.http import QueryDict

    reporter_filter = OAuthExceptionReporterFilter()
    raw = {"access_token": "A" * 20, "refresh_token": "R" * 20, "expires_in": 3600}
    cleansed = reporter_filter.cleanse_special_types(None, raw)
    assert cleansed["expires_in"] == 3600 and "A" * 20 not in repr(cleansed)
    query = QueryDict("code=abcdefgh&state=stuvwxyz&account=acme")
    cleansed = reporter_filter.cleanse_special_types(None, query)
    assert cleansed["account"] == "acme" and "abcdefgh" not in repr(cleansed)
    assert reporter_filter.is_active(None)  # also with DEBUG=True
