"""Intercom: the lifecycle contract, plus its own quirks, over loopback HTTP.

The contract derives the rest from the definition and the profile: body client auth,
no lifetime and no refresh token (never expires), the workspace learnt after the
exchange, revocation by ``POST /auth/uninstall`` with the access token, and the signed
Uninstall URL webhook. Here: the region hosts (chosen on the install URL only), the
token that never expires as the sweep, the status command and the admin see it, the
workspace from ``/me``, the bare authorize URL and token request, the uninstall call
never made for a token a re-install replaced, and the webhook's signature cases.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from io import StringIO
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.models import AuthorizationRequest, Installation, Token
from django_helpdesk_oauth.providers import get_provider
from django_helpdesk_oauth.providers.intercom import IntercomProvider
from django_helpdesk_oauth.sandbox.testing import consent
from django_helpdesk_oauth.services import uninstall

from .contract import TENANT, ProviderContract

HOSTS = {
    "us": ("app.intercom.com", "api.intercom.io"),
    "eu": ("app.eu.intercom.com", "api.eu.intercom.io"),
    "au": ("app.au.intercom.com", "api.au.intercom.io"),
}


def _paths(sandbox) -> list[str]:
    return [r["path"] for r in sandbox.state.matching_requests(provider="intercom")]


def _region_of(path: str) -> str:
    return path.split("/intercom/", 1)[1].split("/", 1)[0]


def _sign(body: bytes, secret: str, algorithm: str = "sha1") -> str:
    return "sha1=" + hmac.new(secret.encode(), body, algorithm).hexdigest()


class TestIntercom(ProviderContract):
    provider = "intercom"

    # -- regions ---------------------------------------------------------------------
    @pytest.mark.parametrize("region", ["us", "eu", "au"])
    def test_each_region_maps_to_intercoms_own_hosts(self, settings, region):
        settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {}}
        spec, config = self.spec, {"region": region}
        app_host, api_host = HOSTS[region]
        assert spec.endpoint("authorize_url", "", config) == f"https://{app_host}/oauth"
        assert spec.endpoint("token_url", "", config) == f"https://{api_host}/auth/eagle/token"
        assert spec.endpoint("revoke_url", "", config) == f"https://{api_host}/auth/uninstall"
        assert spec.endpoint("identity_url", "", config) == f"https://{api_host}/me"
        assert spec.endpoint("api_base_url", "", config) == f"https://{api_host}/"

    def test_no_region_means_the_us(self, sandbox, browser, app):
        assert self.run_install(browser, sandbox, app).status_code == 302
        assert Installation.objects.get().connection_config == {"region": "us"}
        assert {_region_of(p) for p in _paths(sandbox)} == {"us"}

    @pytest.mark.parametrize("region", ["eu", "au"])
    def test_the_install_urls_region_is_used_for_every_call(self, sandbox, browser, app, region):
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/",
            params={"region": region},
            allow_redirects=False,
            timeout=10,
        )
        assert urlsplit(start.headers["Location"]).path.endswith(f"/intercom/{region}/app/oauth")
        decision = consent(browser, start, org=TENANT)
        response = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        installation = Installation.objects.get()
        assert (installation.tenant, installation.connection_config) == (TENANT, {"region": region})
        assert installation.api_session().get("conversations").status_code == 200
        assert uninstall(installation).revoked
        # The exchange, /me, the API call and /auth/uninstall: all at that region's hosts.
        paths = _paths(sandbox)
        assert [p.rsplit(f"/intercom/{region}/", 1)[1] for p in paths] == [
            "api/auth/eagle/token",
            "api/me",
            "api/conversations",
            "api/auth/uninstall",
        ]

    @pytest.mark.parametrize(
        "query",
        [
            {"region": "EU"},
            {"region": "europe"},
            {"region": ""},
            {"region": "eu/../us"},
            {"region": "api.eu.intercom.io"},
            [("region", "us"), ("region", "eu")],
        ],
        ids=["upper", "unknown", "empty", "traversal", "a-host", "repeated"],
    )
    def test_a_bad_region_is_refused_before_anything(self, sandbox, browser, app, query):
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/?{urlencode(query)}",
            allow_redirects=False,
            timeout=10,
        )
        assert start.status_code == 400
        assert not AuthorizationRequest.objects.exists() and not Installation.objects.exists()
        assert _paths(sandbox) == []

    @pytest.mark.parametrize(
        "forged",
        [{"region": "eu"}, {"api_host": "127.0.0.1:9"}, {"region": "au", "app_host": "evil.test"}],
    )
    def test_a_region_or_host_on_the_callback_changes_nothing(self, sandbox, browser, app, forged):
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
        )
        decision = consent(browser, start, org=TENANT)
        callback = decision.headers["Location"] + "&" + urlencode(forged)
        assert browser.get(callback, allow_redirects=False, timeout=10).status_code == 302
        assert Installation.objects.get().connection_config == {"region": "us"}
        assert {_region_of(p) for p in _paths(sandbox)} == {"us"}

    # -- the bare authorize URL and token request ----------------------------------------
    def test_the_authorize_url_and_token_request_carry_only_what_intercom_takes(
        self, sandbox, browser, app
    ):
        app.scopes = "read_conversations"  # ignored: Intercom has no scope parameter
        app.save()
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
        )
        query = parse_qs(urlsplit(start.headers["Location"]).query)
        assert set(query) == {"client_id", "state", "redirect_uri", "response_type"}
        decision = consent(browser, start, org=TENANT)
        assert browser.get(decision.headers["Location"], allow_redirects=False).status_code == 302
        [exchange] = sandbox.state.matching_requests(endpoint="token")
        assert exchange["client_auth"] == "body" and exchange["status"] == 200
        token = Token.objects.get()
        assert token.scope == "" and token.refresh_token == ""

    def test_the_sandbox_takes_a_token_request_without_grant_type(self, sandbox, browser, app):
        """How Intercom behaves ("Using OAuth": code, client_id, client_secret only)."""
        start = browser.get(
            f"{sandbox.url}/oauth/{app.slug}/install/", allow_redirects=False, timeout=10
        )
        decision = consent(browser, start, org=TENANT)
        callback = parse_qs(urlsplit(decision.headers["Location"]).query)
        redirect_uri = parse_qs(urlsplit(start.headers["Location"]).query)["redirect_uri"][0]
        fields = {"code": callback["code"][0], "client_id": app.client_id}
        token_url = self.spec.endpoint("token_url", "", {"region": "us"})
        answer = requests.post(
            token_url,
            data={**fields, "client_secret": app.client_secret, "redirect_uri": redirect_uri},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "Bearer" and body["access_token"]
        assert not {"expires_in", "expires_at", "refresh_token", "scope"} & set(body)
        # Without the secret the code is not redeemed.
        assert requests.post(token_url, data=fields, timeout=10).status_code in (400, 401)

    # -- never expires ------------------------------------------------------------------
    def test_a_token_that_never_expires_is_never_swept_and_says_so(
        self, sandbox, installation, admin_client
    ):
        token = Token.objects.get()
        assert token.expires_at is None and token.lifetime is None
        assert not Token.objects.due().exists()
        tasks.refresh_expiring_tokens.apply()
        assert tasks.refresh_installation_token.apply((installation.pk,)).get() != "refreshed"
        assert self.refreshes(sandbox) == [] and Token.objects.get().refresh_count == 0
        out = StringIO()
        call_command("helpdesk_oauth_status", stdout=out)
        [row] = [
            line for line in out.getvalue().splitlines() if line.startswith(f"{installation.pk} ")
        ]
        assert "never expires" in row and token.access_token[-8:] not in out.getvalue()
        out = StringIO()
        call_command("helpdesk_oauth_status", "--json", stdout=out)
        [entry] = json.loads(out.getvalue())
        assert entry["never_expires"] is True and entry["expires_at"] is None
        assert entry["due"] is False

    def test_an_expires_at_moved_by_hand_never_marks_it_needs_reauth(self, sandbox, installation):
        # An operator forcing a refresh on a token that never expires: nothing to refresh
        # with, and nothing wrong with the grant: it stays active and usable.
        Token.objects.update(expires_at=timezone.now())
        call_command("helpdesk_oauth_refresh", "--all", stdout=StringIO(), stderr=StringIO())
        installation.refresh_from_db()
        assert installation.status == "active" and installation.last_error == ""
        assert self.refreshes(sandbox) == []
        assert installation.api_session().get("me").status_code == 200

    def test_the_admin_list_says_never_expires(self, installation, admin_client):
        page = admin_client.get(reverse("admin:helpdesk_oauth_installation_changelist"))
        assert page.status_code == 200
        assert "never expires" in page.content.decode()
        assert Token.objects.get().access_token[-8:] not in page.content.decode()

    # -- the API --------------------------------------------------------------------------
    def test_the_api_answers_the_workspaces_data_and_intercoms_errors(self, installation):
        session = installation.api_session()
        conversations = session.get("conversations", params={"per_page": 2}).json()
        assert conversations["type"] == "list" and len(conversations["conversations"]) == 2
        assert conversations["pages"]["next"]["starting_after"] == "2"
        assert session.get("conversations/1000").json()["type"] == "conversation"
        assert session.get("admins").json()["type"] == "admin.list"
        missing = session.get("conversations/999999")
        assert missing.status_code == 404
        assert missing.json()["type"] == "error.list"
        assert missing.json()["errors"][0]["code"] == "not_found"
        bad = session.get("contacts", params={"per_page": 500})
        assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid_parameter"

    # -- the workspace from /me -----------------------------------------------------------
    def test_the_workspace_comes_from_me(self, sandbox, browser, app):
        assert self.run_install(browser, sandbox, app, org="a86dr8yl").status_code == 302
        assert Installation.objects.get().tenant == "a86dr8yl"
        [me] = sandbox.state.matching_requests(endpoint="api")
        assert me["path"].endswith("/intercom/us/api/me") and me["tenant"] == "a86dr8yl"

    @pytest.mark.parametrize(
        "answer",
        [
            {"status": 200, "body": {"type": "admin", "id": "1"}},
            {"status": 200, "body": {"type": "admin", "app": {"id_code": "AC_ME!"}}},
            {"status": 200, "body": {"type": "admin", "app": {"id_code": 42}}},
            {"status": 200, "body": {"type": "admin", "app": {"id_code": "a" * 40}}},
            {"status": 200, "body": ["not", "an", "object"]},
            {"status": 403, "body": None},
            {"status": 503, "body": None},
        ],
        ids=["no-app", "bad-id", "int-id", "too-long", "not-an-object", "403", "503"],
    )
    def test_a_me_answer_naming_no_valid_workspace_stores_nothing(
        self, sandbox, browser, app, answer
    ):
        sandbox.state.inject("api", provider="intercom", **answer)
        response = self.run_install(browser, sandbox, app)
        assert response.status_code == 502
        assert not Installation.objects.exists() and not Token.objects.exists()
        assert "access_token" not in response.text

    # -- uninstall ------------------------------------------------------------------------
    def test_a_reinstall_never_uninstalls_the_app_for_the_replaced_token(
        self, sandbox, browser, app, installation
    ):
        first = Token.objects.get().access_token
        assert self.run_install(browser, sandbox, app).status_code == 302
        assert Token.objects.get().access_token != first
        # POST /auth/uninstall would remove the app from the workspace: never sent here.
        assert sandbox.state.matching_requests(endpoint="revoke") == []
        assert Installation.objects.get().api_session().get("me").status_code == 200

    def test_uninstall_posts_auth_uninstall_with_the_bearer_token(self, sandbox, installation):
        access = Token.objects.get().access_token
        assert uninstall(installation).revoked
        [call] = sandbox.state.matching_requests(endpoint="revoke")
        assert (call["method"], call["token"], call["status"]) == ("POST", access, 200)
        assert call["path"].endswith("/intercom/us/api/auth/uninstall")
        assert sandbox.state.find_access_token(access) is None

    # -- the Uninstall URL webhook ------------------------------------------------------------
    def post_webhook(self, sandbox, app, body: bytes, signature: str | None):
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        url = sandbox.url + reverse("helpdesk_oauth:deauthorize", args=[app.slug])
        return requests.post(url, data=body, headers=headers, timeout=10)

    def assert_unchanged(self, installation, access: str) -> None:
        installation.refresh_from_db()
        assert installation.status == "active"
        assert Token.objects.get(installation=installation).access_token == access

    def test_a_webhook_signed_with_the_client_secret_uninstalls(self, sandbox, app, installation):
        body = json.dumps({"app_id": TENANT}).encode()
        response = self.post_webhook(sandbox, app, body, _sign(body, app.client_secret))
        assert response.status_code == 200
        installation.refresh_from_db()
        assert installation.status == "uninstalled" and not Token.objects.exists()
        assert sandbox.state.matching_requests(endpoint="revoke") == []

    @pytest.mark.parametrize(
        "signature",
        [
            None,
            "",
            "sha1=",
            "sha1=" + "0" * 40,
            "OTHER_SECRET",
            "SHA256",
            "NO_PREFIX",
            "TAMPERED",
        ],
        ids=[
            "missing",
            "empty",
            "prefix-only",
            "zeros",
            "another-secret",
            "sha256",
            "no-prefix",
            "other-body",
        ],
    )
    def test_a_webhook_not_signed_by_the_client_secret_is_401_and_changes_nothing(
        self, sandbox, app, installation, signature
    ):
        access = Token.objects.get().access_token
        body = json.dumps({"app_id": TENANT}).encode()
        secret = app.client_secret
        signature = {
            "OTHER_SECRET": _sign(body, "not-the-client-secret"),
            "SHA256": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "NO_PREFIX": _sign(body, secret).removeprefix("sha1="),
            "TAMPERED": _sign(json.dumps({"app_id": "other"}).encode(), secret),
        }.get(signature or "", signature)
        response = self.post_webhook(sandbox, app, body, signature)
        assert response.status_code == 401
        self.assert_unchanged(installation, access)

    def test_a_signed_webhook_for_another_workspace_changes_nothing_here(
        self, sandbox, app, installation
    ):
        access = Token.objects.get().access_token
        body = json.dumps({"app_id": "globex"}).encode()
        response = self.post_webhook(sandbox, app, body, _sign(body, app.client_secret))
        assert response.status_code == 200
        self.assert_unchanged(installation, access)


def test_the_workspace_is_read_from_app_id_code():
    spec = IntercomProvider()
    assert spec.tenant_from_identity({"type": "admin", "app": {"id_code": "a86dr8yl"}}) == (
        "a86dr8yl"
    )
    for body in (None, [], {"app": None}, {"app": {"id_code": ""}}, {"app": {"id_code": 7}}):
        assert spec.tenant_from_identity(body) is None
    assert get_provider("intercom").tenant_from_deauthorize({"app_id": "a86dr8yl"}) == "a86dr8yl"
