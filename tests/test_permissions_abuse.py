"""Issue 9 §7: who may uninstall or refresh, install-URL abuse, forged log lines, revoking
replaced or deleted refresh tokens, and api_session() redirects off the API origin."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.exceptions import HelpdeskOAuthError, RedirectRefused
from django_helpdesk_oauth.models import (
    AuthorizationRequest,
    Installation,
    PendingRevocation,
    Token,
)
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services.install import MAX_PENDING_PER_BROWSER

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-h6-perm-1"


# -- helpers -------------------------------------------------------------------------------


def make_user(name: str, *perms: str, staff: bool = True, superuser: bool = False):
    user = get_user_model().objects.create_user(
        name, password=PASSWORD, is_staff=staff, is_superuser=superuser
    )
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="helpdesk_oauth", codename=codename)
        )
    return user


def login(browser: requests.Session, sandbox, user) -> None:
    """Log the browser in through the admin login page (a real session cookie)."""
    url = f"{sandbox.url}/admin/login/"
    browser.get(url, timeout=10)
    response = browser.post(
        url,
        data={
            "username": user.get_username(),
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": url},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302


def post_uninstall(browser, sandbox, installation):
    url = f"{sandbox.url}/oauth/{installation.pk}/uninstall/"
    return browser.post(
        url,
        data={"csrfmiddlewaretoken": browser.cookies.get("csrftoken", "")},
        headers={"Referer": url},
        allow_redirects=False,
        timeout=10,
    )


def admin_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_untouched(installation, token: Token) -> None:
    installation.refresh_from_db()
    assert installation.status == "active"
    current = Token.objects.get(installation=installation)
    assert (current.access_token, current.refresh_token, current.refresh_count) == (
        token.access_token,
        token.refresh_token,
        token.refresh_count,
    )


def only_the_installer(user, installation) -> bool:
    """A custom UNINSTALL_PERMISSION: the user who installed it, whatever their permissions."""
    return installation.installed_by_id == user.pk


# -- 1. who may uninstall / refresh ----------------------------------------------------------


@pytest.mark.parametrize(
    "perms",
    [(), ("view_installation",), ("view_installation", "change_installation")],
    ids=["staff-no-perms", "view-only", "view-and-change"],
)
def test_uninstall_url_refuses_staff_without_delete_permission(
    sandbox, browser, installed, gorgias_app, perms
):
    installation = installed(gorgias_app)
    token = Token.objects.get()
    login(browser, sandbox, make_user("viewer", *perms))
    response = post_uninstall(browser, sandbox, installation)
    assert response.status_code == 403
    assert "not allowed" in response.text
    assert_untouched(installation, token)
    assert sandbox.state.count(endpoint="revoke") == 0
    assert not PendingRevocation.objects.exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"perms": ("delete_installation",)}, {"perms": (), "superuser": True}],
    ids=["delete-permission", "superuser"],
)
def test_uninstall_url_with_the_permission_uninstalls(
    sandbox, browser, installed, gorgias_app, kwargs
):
    installation = installed(gorgias_app)
    user = make_user("remover", *kwargs["perms"], superuser=kwargs.get("superuser", False))
    login(browser, sandbox, user)
    response = post_uninstall(browser, sandbox, installation)
    assert response.status_code == 302
    installation.refresh_from_db()
    assert installation.status == "uninstalled"
    assert not Token.objects.exists()
    assert sandbox.state.count(endpoint="revoke", status=200) == 1


def test_an_inactive_user_with_the_permission_cannot_uninstall(installed, sandbox, gorgias_app):
    from django_helpdesk_oauth.views import can_uninstall

    installation = installed(gorgias_app)
    user = make_user("gone", "delete_installation")
    user.is_active = False
    assert can_uninstall(user, installation) is False


def test_a_custom_uninstall_permission_is_still_honoured(
    sandbox, browser, installed, gorgias_app, settings
):
    installation = installed(gorgias_app)
    installer = make_user("installer")  # staff (to log in), no model permission
    Installation.objects.filter(pk=installation.pk).update(installed_by=installer)
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "UNINSTALL_PERMISSION": "tests.test_permissions_abuse.only_the_installer",
    }
    token = Token.objects.get()
    # The model permission does not matter under the custom rule …
    login(browser, sandbox, make_user("admin-ish", "delete_installation"))
    assert post_uninstall(browser, sandbox, installation).status_code == 403
    assert_untouched(installation, token)
    # … the rule does.
    with requests.Session() as other:
        login(other, sandbox, installer)
        assert post_uninstall(other, sandbox, installation).status_code == 302
    installation.refresh_from_db()
    assert installation.status == "uninstalled"


def refresh_action(client: Client, *installations):
    return client.post(
        reverse("admin:helpdesk_oauth_installation_changelist"),
        {"action": "refresh_now", "_selected_action": [i.pk for i in installations]},
        follow=True,
    )


def test_admin_refresh_action_needs_change_permission(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    Token.objects.update(expires_at=timezone.now())  # due: a refresh would happen
    token = Token.objects.get()
    viewer = admin_as(make_user("viewer", "view_installation"))
    changelist = viewer.get(reverse("admin:helpdesk_oauth_installation_changelist"))
    assert changelist.status_code == 200
    assert "refresh_now" not in changelist.content.decode()  # not even offered
    response = refresh_action(viewer, installation)
    assert response.status_code == 200
    assert "tokens refreshed" not in response.content.decode()
    assert_untouched(installation, token)
    assert sandbox.state.count(endpoint="token", grant_type="refresh_token") == 0
    # With change permission it runs.
    editor = admin_as(make_user("editor", "view_installation", "change_installation"))
    assert "1 token refreshed." in refresh_action(editor, installation).content.decode()
    assert Token.objects.get().refresh_count == token.refresh_count + 1


def test_admin_uninstall_action_needs_delete_permission(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    token = Token.objects.get()
    changelist = reverse("admin:helpdesk_oauth_installation_changelist")
    # post=yes: the confirmed POST of the action's confirmation page.
    data = {"action": "uninstall_selected", "_selected_action": [installation.pk], "post": "yes"}
    editor = admin_as(make_user("editor", "view_installation", "change_installation"))
    response = editor.post(changelist, data, follow=True)
    assert "installation uninstalled" not in response.content.decode()
    assert_untouched(installation, token)
    remover = admin_as(make_user("remover", "view_installation", "delete_installation"))
    response = remover.post(changelist, data, follow=True)
    assert "1 installation uninstalled (1 revoked at the provider)." in response.content.decode()


# -- 2. install URL abuse --------------------------------------------------------------------


def test_thousands_of_install_gets_from_one_browser_keep_a_few_rows(
    sandbox, browser, gorgias_app, settings
):
    # In-process (fast) for the 2,000 starts; the consent and callback over loopback HTTP.
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "REDIRECT_BASE_URL": sandbox.url}
    script = Client()
    url = reverse("helpdesk_oauth:install", args=[gorgias_app.slug])
    starts = []
    for _ in range(2000):
        start = script.get(url, {"account": "acme"})
        assert start.status_code == 302
        starts.append(start.headers["Location"])
    assert AuthorizationRequest.objects.count() == MAX_PENDING_PER_BROWSER
    assert Session.objects.count() == 1  # one browser, one session
    # A user retrying (or with a few tabs open) still finishes with any of the newest.
    browser.cookies.set("sessionid", script.cookies["sessionid"].value)
    decision = consent(browser, starts[-MAX_PENDING_PER_BROWSER])
    finish = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
    assert finish.status_code == 302
    assert Installation.objects.get(tenant="acme").status == "active"
    # An older one was dropped: its state is refused, nothing more written.
    decision = consent(browser, starts[-MAX_PENDING_PER_BROWSER - 1])
    stale = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
    assert stale.status_code == 400
    assert Token.objects.count() == 1


def test_another_browsers_requests_are_not_dropped(client, gorgias_app):
    url = reverse("helpdesk_oauth:install", args=[gorgias_app.slug])
    assert client.get(url, {"account": "acme"}).status_code == 302
    other = Client()
    for _ in range(MAX_PENDING_PER_BROWSER + 3):
        assert other.get(url, {"account": "acme"}).status_code == 302
    assert AuthorizationRequest.objects.count() == MAX_PENDING_PER_BROWSER + 1


@pytest.mark.parametrize(
    ("slug", "query"),
    [
        ("gorgias", {"account": "evil.com/x"}),
        ("gorgias", {}),
        ("kustomer", {}),  # the form asking for the org
        ("kustomer", {"org": ["a", "b"]}),
        ("nope", {"account": "acme"}),
    ],
    ids=["bad-tenant", "no-tenant", "ask-form", "repeated", "unknown-app"],
)
def test_install_pages_that_start_nothing_store_nothing(gorgias_app, kustomer_app, slug, query):
    response = Client().get(f"/oauth/{slug}/install/", query)
    assert response.status_code in (200, 400, 404)
    assert not Session.objects.exists()
    assert not AuthorizationRequest.objects.exists()


def test_expired_requests_from_many_clients_are_purged(gorgias_app, settings):
    url = reverse("helpdesk_oauth:install", args=[gorgias_app.slug])
    for _ in range(40):  # each a new anonymous client: its own binding
        assert Client().get(url, {"account": "acme"}).status_code == 302
    assert AuthorizationRequest.objects.count() == 40
    # Just expired: the beat sweep deletes them.
    AuthorizationRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = Client()
    fresh.get(url, {"account": "acme"})  # not expired: survives the sweep
    tasks.refresh_expiring_tokens.apply()
    assert AuthorizationRequest.objects.count() == 1
    # Long expired: the next install start deletes them even without the sweep.
    for _ in range(3):
        Client().get(url, {"account": "acme"})
    AuthorizationRequest.objects.update(expires_at=timezone.now() - timedelta(hours=2))
    assert Client().get(url, {"account": "acme"}).status_code == 302
    assert AuthorizationRequest.objects.count() == 1


def test_the_sweep_purges_in_batches(gorgias_app):
    now = timezone.now()
    past, future = now - timedelta(seconds=5), now + timedelta(minutes=5)
    AuthorizationRequest.objects.bulk_create(
        AuthorizationRequest(
            state_hash=f"{i:064x}",
            app=gorgias_app,
            tenant="acme",
            browser_binding=f"b{i}",
            redirect_uri="http://testserver/cb",
            scopes="",
            expires_at=past if i < 23 else future,
        )
        for i in range(26)
    )
    assert tasks.purge_expired_authorization_requests(batch=7) == 23
    assert AuthorizationRequest.objects.count() == 3


# -- 3. untrusted values in logs ------------------------------------------------------------

CONTROL = ["acme\nINFO Install flow refused (forged): admin", "acme\r\nx", "\x1b[31macme\x1b[0m"]


@pytest.mark.parametrize("value", CONTROL, ids=["newline", "crlf", "ansi"])
@pytest.mark.parametrize(
    ("slug", "param"),
    [("gorgias", "account"), ("gorgias", "tenant"), ("kustomer", "org")],
)
def test_control_characters_in_the_tenant_stay_on_one_log_line(
    client, caplog, gorgias_app, kustomer_app, value, slug, param
):
    caplog.set_level(logging.DEBUG, logger="django_helpdesk_oauth")
    response = client.get(reverse("helpdesk_oauth:install", args=[slug]), {param: value})
    assert response.status_code == 400
    assert "not a valid" in response.content.decode()
    records = [r for r in caplog.records if r.name.startswith("django_helpdesk_oauth")]
    assert records, "the refusal is logged"
    for record in records:
        message = record.getMessage()
        assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert not AuthorizationRequest.objects.exists()


def test_control_characters_in_callback_parameters_stay_on_one_log_line(
    client, caplog, gorgias_app
):
    caplog.set_level(logging.DEBUG, logger="django_helpdesk_oauth")
    url = reverse("helpdesk_oauth:callback", args=["gorgias"])
    for query in ({"state": "x\ny", "code": "c\r\nd"}, {"state": ["a\n", "b"]}, {"error": "\x1b["}):
        assert client.get(url, query).status_code == 400
    for record in caplog.records:
        message = record.getMessage()
        assert "\n" not in message and "\r" not in message and "\x1b" not in message


# -- 4. deleting or replacing a refresh token revokes it ------------------------------------


def delete_view(client: Client, installation):
    url = reverse("admin:helpdesk_oauth_installation_delete", args=[installation.pk])
    return client.post(url, {"post": "yes"})


def test_admin_delete_revokes_the_refresh_token(admin_client, sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    assert delete_view(admin_client, installation).status_code == 302
    assert not Installation.objects.exists() and not Token.objects.exists()
    [revoke] = sandbox.state.matching_requests(endpoint="revoke")
    assert (revoke["token"], revoke["status"]) == (refresh_token, 200)
    assert not sandbox.state.live_refresh_tokens(tenant="acme")
    assert not PendingRevocation.objects.exists()


def test_admin_bulk_delete_revokes_each(admin_client, sandbox, installed, gorgias_app):
    installations = [installed(gorgias_app, "acme"), installed(gorgias_app, "beta")]
    tokens = {t.refresh_token for t in Token.objects.all()}
    response = admin_client.post(
        reverse("admin:helpdesk_oauth_installation_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [i.pk for i in installations],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not Installation.objects.exists()
    assert {r["token"] for r in sandbox.state.matching_requests(endpoint="revoke")} == tokens
    assert not sandbox.state.live_refresh_tokens(provider="gorgias")


def test_admin_delete_queues_the_revocation_when_the_provider_is_down(
    admin_client, sandbox, installed, gorgias_app
):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    sandbox.state.inject("revoke", status=503, headers={"Retry-After": "1"})
    assert delete_view(admin_client, installation).status_code == 302
    assert not Installation.objects.exists()
    pending = PendingRevocation.objects.get()
    assert pending.token == refresh_token and pending.tenant == "acme"
    PendingRevocation.objects.update(next_attempt_at=timezone.now())
    assert tasks.revoke_pending_token.apply((pending.pk,)).get() is True
    assert not sandbox.state.live_refresh_tokens(tenant="acme")


def test_admin_delete_of_a_provider_without_revocation_just_deletes(
    admin_client, sandbox, installed, kustomer_app
):
    installation = installed(kustomer_app)
    assert delete_view(admin_client, installation).status_code == 302
    assert not Installation.objects.exists()
    assert sandbox.state.count(endpoint="revoke") == 0
    assert not PendingRevocation.objects.exists()


def test_a_view_only_user_cannot_delete(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    token = Token.objects.get()
    assert (
        delete_view(admin_as(make_user("viewer", "view_installation")), installation).status_code
        == 403
    )
    assert_untouched(installation, token)
    assert sandbox.state.count(endpoint="revoke") == 0


def test_reinstall_revokes_the_replaced_refresh_token(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    old = Token.objects.get().refresh_token
    assert installed(gorgias_app).pk == installation.pk
    new = Token.objects.get().refresh_token
    assert new != old
    pending = PendingRevocation.objects.get()  # queued for the background, not in the callback
    assert pending.token == old
    assert tasks.revoke_pending_token.apply((pending.pk,)).get() is True
    assert [r["token"] for r in sandbox.state.matching_requests(endpoint="revoke")] == [old]
    assert [t.token for t in sandbox.state.live_refresh_tokens(tenant="acme")] == [new]
    assert installation.api_session().get("account").status_code == 200


@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_a_refresh_in_flight_during_a_reinstall_cannot_overwrite_the_new_grant(
    sandbox, installed, gorgias_app, kustomer_app, provider
):
    from django_helpdesk_oauth.services.refresh import Outcome, refresh_installation

    app = gorgias_app if provider == "gorgias" else kustomer_app
    installation = installed(app)
    Token.objects.update(expires_at=timezone.now())
    # The provider holds the refresh of the old grant open while the user re-installs.
    sandbox.state.inject("token", status=None, delay=2.0, times=1, provider=provider)
    outcome = {}

    def refresh():
        try:
            outcome["value"] = refresh_installation(installation.pk)
        finally:
            from django.db import connections

            connections.close_all()

    worker = threading.Thread(target=refresh)
    worker.start()
    deadline = timezone.now() + timedelta(seconds=10)
    while not sandbox.state.count(endpoint="token", grant_type="refresh_token"):
        assert timezone.now() < deadline, "the refresh never reached the provider"
    installed(app)  # the re-install completes while the refresh is in flight
    new = Token.objects.get().refresh_token
    worker.join(timeout=15)
    assert outcome["value"] is Outcome.FRESH  # its answer was discarded
    assert Token.objects.get().refresh_token == new
    assert new in {t.token for t in sandbox.state.live_refresh_tokens(provider=provider)}
    assert installation.api_session().get("account" if provider == "gorgias" else "customers")


def test_reinstall_after_uninstall_or_without_revocation_queues_nothing(
    sandbox, installed, gorgias_app, kustomer_app
):
    from django_helpdesk_oauth.services import uninstall

    uninstall(installed(gorgias_app))
    assert sandbox.state.count(endpoint="revoke") == 1
    installed(gorgias_app)  # nothing stored to replace
    installed(kustomer_app)
    installed(kustomer_app)  # Kustomer has no revocation
    assert not PendingRevocation.objects.exists()


def test_reinstall_returning_the_same_refresh_token_revokes_nothing(
    sandbox, browser, installed, gorgias_app
):
    gorgias_app.scopes = "offline write:all"  # no openid: no id_token to forge below
    gorgias_app.save()
    installed(gorgias_app)
    old = Token.objects.get().refresh_token
    start = browser.get(
        f"{sandbox.url}/oauth/gorgias/install/",
        params={"account": "acme"},
        allow_redirects=False,
        timeout=10,
    )
    decision = consent(browser, start)
    sandbox.state.inject(
        "token",
        status=200,
        body={
            "access_token": "at-same-rt-0001",
            "refresh_token": old,
            "expires_in": 86400,
            "token_type": "Bearer",
        },
    )
    finish = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
    assert finish.status_code == 302
    token = Token.objects.get()
    assert (token.access_token, token.refresh_token) == ("at-same-rt-0001", old)
    assert not PendingRevocation.objects.exists()
    assert sandbox.state.count(endpoint="revoke") == 0


# -- 5. api_session() redirects ---------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        body = b'{"foreign": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def foreign():
    """Another origin (same loopback host, another port) recording what reaches it."""
    handler = type("Recorder", (_Recorder,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler.seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("form", ["absolute", "scheme-relative", "userinfo"])
def test_a_redirect_off_the_api_origin_is_refused(
    sandbox, installed, gorgias_app, foreign, status, form
):
    installation = installed(gorgias_app)
    access_token = Token.objects.get().access_token
    port = foreign[0].server_address[1]
    location = {
        "absolute": f"http://127.0.0.1:{port}/steal?x=1",
        "scheme-relative": f"//127.0.0.1:{port}/steal",
        "userinfo": f"http://user:hunter2@127.0.0.1:{port}/steal",
    }[form]
    sandbox.state.inject("api", status=status, headers={"Location": location}, body="")
    with pytest.raises(RedirectRefused) as caught:
        installation.api_session().get("account")
    assert foreign[1] == []  # nothing at all reached the other host
    error = caught.value
    assert isinstance(error, HelpdeskOAuthError) and isinstance(error, requests.RequestException)
    assert error.status == status and error.location == f"http://127.0.0.1:{port}"
    assert access_token not in str(error) and access_token[-8:] not in str(error)
    assert "hunter2" not in str(error) and "steal" not in str(error)


def test_a_chain_that_leaves_the_origin_later_is_refused(sandbox, installed, gorgias_app, foreign):
    installation = installed(gorgias_app)
    port = foreign[0].server_address[1]
    same = urljoin(installation.api_base_url, "account")
    sandbox.state.inject("api", status=302, headers={"Location": same}, body="")
    sandbox.state.inject(
        "api", status=307, headers={"Location": f"http://127.0.0.1:{port}/"}, body=""
    )
    with pytest.raises(RedirectRefused):
        installation.api_session().get("account")
    assert foreign[1] == []
    assert sandbox.state.count(endpoint="api") == 2


def test_a_same_origin_redirect_is_followed_with_the_token(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    parts = urlsplit(urljoin(installation.api_base_url, "account"))
    # The same origin spelled differently (host in capitals) is still the same.
    target = parts._replace(netloc=parts.netloc.upper()).geturl()
    sandbox.state.inject("api", status=302, headers={"Location": target}, body="")
    response = installation.api_session().get("account")
    assert response.status_code == 200  # the sandbox API accepted the bearer token
    assert [r["status"] for r in sandbox.state.matching_requests(endpoint="api")] == [302, 200]


def test_allow_redirects_false_hands_back_the_redirect(sandbox, installed, gorgias_app, foreign):
    installation = installed(gorgias_app)
    port = foreign[0].server_address[1]
    location = f"http://127.0.0.1:{port}/"
    sandbox.state.inject("api", status=302, headers={"Location": location}, body="")
    response = installation.api_session().get("account", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == location
    assert foreign[1] == []


def test_the_purge_query_uses_the_expiry_index(gorgias_app):
    from django.db import connection

    sql, params = (
        AuthorizationRequest.objects.filter(expires_at__lte=timezone.now())
        .values_list("pk", flat=True)[:10]
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "expires_at" in plan.lower() or "helpdesk_oauth_authorizationrequest_expires" in plan
