"""The provider definition as data (issue 10): each declarative knob honoured end to end.

Behaviours the sandbox does not emulate (JSON token bodies, access-token revocation,
a non-Bearer API header, rotation declared but not done) are tested against a tiny
loopback HTTP server and a Provider subclass defined and registered here only.
"""

from __future__ import annotations

import json
import logging
import threading
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from django_helpdesk_oauth.exceptions import ConfigurationError
from django_helpdesk_oauth.models import Installation, PendingRevocation, ProviderApp, Token
from django_helpdesk_oauth.providers import get_provider, registry
from django_helpdesk_oauth.providers.base import NO_REVOCATION, Provider, Revocation
from django_helpdesk_oauth.signals import refresh_token_not_rotated
from django_helpdesk_oauth.tasks import refresh_installation_token, revoke_pending_token

SECRET = "deftest-client-secret-0001"


class Recorder:
    """A loopback HTTP server recording every request; ``answers[path]`` is a list of
    ``(status, json_body)`` used in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: dict[str, list[tuple[int, object]]] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                recorder.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                queue = recorder.answers.get(path) or [(404, {"error": "not_found"})]
                status, answer = queue.pop(0) if len(queue) > 1 else queue[0]
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]


def token_answer(n: int, **extra: object) -> dict:
    return {
        "access_token": f"at-{n}-abcdefgh",
        "refresh_token": f"rt-{n}-abcdefgh",
        "token_type": "bearer",
        "expires_in": 3600,
        **extra,
    }


@pytest.fixture
def server():
    recorder = Recorder()
    recorder.answers["/oauth/token"] = [(200, token_answer(1))]
    yield recorder
    recorder.server.shutdown()
    recorder.server.server_close()


@pytest.fixture
def define(server, db):
    """``define(**attrs)`` → a ProviderApp of a test provider (key ``deftest``) whose
    endpoints are the recorder's, registered for this test only."""

    def make(**attrs: object) -> ProviderApp:
        endpoints = {
            "authorize_url": server.url + "/as/{tenant}/oauth/authorize",
            "token_url": server.url + "/oauth/token",
            "api_base_url": server.url + "/api/",
            "revoke_url": server.url + "/oauth/revoke",
            **attrs.pop("endpoints", {}),  # type: ignore[dict-item]
        }
        cls = type(
            "DefTestProvider",
            (Provider,),
            {"key": "deftest", "name": "DefTest", "endpoints": endpoints, "pkce": False, **attrs},
        )
        registry["deftest"] = cls()
        return ProviderApp.objects.create(
            slug="deftest",
            provider="deftest",
            name="DefTest",
            client_id="deftest-client",
            client_secret=SECRET,
        )

    yield make
    registry.pop("deftest", None)


def install(client, app: ProviderApp, **callback: str) -> tuple:
    """Install for tenant ``acme`` through the install and callback views."""
    start = client.get(reverse("helpdesk_oauth:install", args=[app.slug]), {"tenant": "acme"})
    assert start.status_code == 302
    location = start["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    done = client.get(
        reverse("helpdesk_oauth:callback", args=[app.slug]),
        {"code": "code-1", "state": state, **callback},
    )
    return location, done


def make_due() -> None:
    Token.objects.update(expires_at=timezone.now())


# -- client authentication, body format, extra parameters, scopes ------------------------


def test_json_token_body_for_the_exchange_and_the_refresh(client, server, define):
    app = define(
        token_request_format="json",
        client_auth="client_secret_post",
        token_params={"audience": "api"},
        refresh_params={"access_type": "offline"},
    )
    _, done = install(client, app)
    assert done.status_code == 302
    (exchange,) = server.to("/oauth/token")
    assert exchange["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in exchange["headers"]
    body = json.loads(exchange["body"])
    assert body == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": body["redirect_uri"],
        "client_id": "deftest-client",
        "client_secret": SECRET,
        "audience": "api",
    }
    assert body["redirect_uri"].endswith(reverse("helpdesk_oauth:callback", args=["deftest"]))

    server.answers["/oauth/token"] = [(200, token_answer(2))]
    make_due()
    installation = Installation.objects.get()
    assert refresh_installation_token.apply((installation.pk,)).get() == "refreshed"
    refresh = json.loads(server.to("/oauth/token")[-1]["body"])
    assert refresh == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1-abcdefgh",
        "client_id": "deftest-client",
        "client_secret": SECRET,
        "access_type": "offline",
    }
    assert Token.objects.get().access_token == "at-2-abcdefgh"


def test_form_body_with_basic_auth_and_static_authorize_params(client, server, define):
    # The old name "basic" still works: normalized to RFC 7591's once, at class creation.
    app = define(client_auth="basic", authorize_params={"prompt": "consent"})
    assert app.provider_spec.client_auth == "client_secret_basic"
    location, done = install(client, app)
    assert done.status_code == 302
    assert parse_qs(urlsplit(location).query)["prompt"] == ["consent"]
    (exchange,) = server.to("/oauth/token")
    assert exchange["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    auth = b64decode(exchange["headers"]["Authorization"].removeprefix("Basic ")).decode()
    assert auth == f"deftest-client:{SECRET}"
    form = parse_qs(exchange["body"].decode())
    assert "client_secret" not in form and "client_id" not in form
    assert form["grant_type"] == ["authorization_code"]


def test_the_computed_hook_refines_the_static_authorize_params(client, server, define):
    app = define(
        authorize_params={"prompt": "consent", "hint": "static"},
        extra_authorize_params=lambda self, tenant: {"hint": tenant},
    )
    location, _ = install(client, app)
    query = parse_qs(urlsplit(location).query)
    assert (query["prompt"], query["hint"]) == (["consent"], ["acme"])


def test_a_provider_without_scopes_sends_no_scope_anywhere(client, server, define):
    app = define(scopes_supported=False, default_scopes=("read",))
    app.scopes = "read write"  # configured anyway: still never sent
    app.save()
    location, done = install(client, app)
    assert done.status_code == 302
    assert "scope" not in parse_qs(urlsplit(location).query)
    make_due()
    refresh_installation_token.apply((Installation.objects.get().pk,))
    for request in server.to("/oauth/token"):
        assert "scope" not in parse_qs(request["body"].decode())


@pytest.mark.parametrize(
    "attrs",
    [
        {"client_auth": "private_key_jwt"},
        {"token_request_format": "xml"},
        {"refresh_token_rotation": "maybe"},
        {"authorize_params": {"state": "fixed"}},
        {"token_params": {"client_secret": "x"}},
        {"refresh_params": {"grant_type": "password"}},
        {"api_auth_scheme": "Bad Scheme"},
        {"api_auth_scheme": ""},
        {"api_headers": {"X-Org": "1\r\nX-Evil: 1"}},
        {"api_headers": {"Authorization": "Basic eA=="}},
        {"api_headers": {"X Bad": "1"}},
        {"revocation": "rfc7009"},
    ],
)
def test_a_bad_declaration_fails_when_the_class_is_created(attrs):
    with pytest.raises(ValueError):
        type("Bad", (Provider,), {"key": "bad", **attrs})


@pytest.mark.parametrize(
    "args",
    [
        ("bearer", "refresh_token"),
        ("rfc7009", "refresh_token", "DELETE"),
        ("smoke",),
        ("none", "id_token"),
    ],
)
def test_a_bad_revocation_value_is_refused(args):
    with pytest.raises(ValueError):
        Revocation(*args)


def test_the_v1_names_are_still_accepted():
    with pytest.warns(DeprecationWarning, match="refresh_token_rotation"):
        legacy = type(
            "Legacy",
            (Provider,),
            {"key": "legacy", "client_auth": "body", "rotates_refresh_tokens": True},
        )()
    assert legacy.client_auth == "client_secret_post"
    assert (legacy.refresh_token_rotation, legacy.rotates_refresh_tokens) == ("always", True)
    assert get_provider("gorgias").rotates_refresh_tokens is False
    assert get_provider("kustomer").rotates_refresh_tokens is True
    with pytest.raises(AttributeError):
        get_provider("gorgias").rotates_refresh_tokens = True  # read-only


# -- the API header ---------------------------------------------------------------------


def test_api_session_sends_the_declared_scheme_and_headers(client, server, define):
    app = define(
        api_auth_scheme="Zoho-oauthtoken", api_headers={"X-Api-Version": "2", "orgId": "7"}
    )
    install(client, app)
    server.answers["/api/tickets"] = [(200, {"data": []})]
    session = Installation.objects.get().api_session()
    response = session.get(
        "tickets", headers={"authorization": "Bearer stolen", "x-api-version": "3"}
    )
    assert response.status_code == 200
    headers = {k.lower(): v for k, v in server.to("/api/tickets")[-1]["headers"].items()}
    assert headers["authorization"] == "Zoho-oauthtoken at-1-abcdefgh"
    assert headers["orgid"] == "7"
    assert headers["x-api-version"] == "3"  # the caller's own header wins over the static one


def test_the_built_in_providers_still_send_bearer():
    for key in ("gorgias", "kustomer"):
        provider = get_provider(key)
        assert (provider.api_auth_scheme, dict(provider.api_headers)) == ("Bearer", {})


# -- revocation strategies ----------------------------------------------------------------


def uninstall(admin_client, installation) -> None:
    response = admin_client.post(reverse("helpdesk_oauth:uninstall", args=[installation.pk]))
    assert response.status_code == 302
    installation.refresh_from_db()
    assert installation.status == "uninstalled"
    assert not Token.objects.exists()


def test_bearer_delete_revokes_with_the_access_token(admin_client, server, define):
    app = define(
        revocation=Revocation.bearer("DELETE"),
        endpoints={"revoke_url": server.url + "/api/v2/oauth/tokens/current.json"},
    )
    assert app.provider_spec.supports_revoke
    install(admin_client, app)
    server.answers["/api/v2/oauth/tokens/current.json"] = [(204, {})]
    uninstall(admin_client, Installation.objects.get())
    (call,) = server.to("/api/v2/oauth/tokens/current.json")
    assert call["method"] == "DELETE" and call["body"] == b""
    assert call["headers"]["Authorization"] == "Bearer at-1-abcdefgh"
    assert not PendingRevocation.objects.exists()


def test_a_transient_bearer_failure_is_retried_with_the_access_token(admin_client, server, define):
    app = define(
        revocation=Revocation.bearer("POST"),
        endpoints={"revoke_url": server.url + "/auth/uninstall"},
    )
    install(admin_client, app)
    server.answers["/auth/uninstall"] = [(503, {}), (200, {})]
    uninstall(admin_client, Installation.objects.get())
    pending = PendingRevocation.objects.get()
    assert (pending.token_kind, pending.token) == ("access_token", "at-1-abcdefgh")
    PendingRevocation.objects.update(next_attempt_at=timezone.now())
    assert revoke_pending_token.apply((pending.pk,)).get() is True
    calls = server.to("/auth/uninstall")
    assert [c["method"] for c in calls] == ["POST", "POST"]
    assert {c["headers"]["Authorization"] for c in calls} == {"Bearer at-1-abcdefgh"}
    assert not PendingRevocation.objects.exists()


def test_a_refresh_token_queued_for_a_bearer_revocation_is_abandoned(server, define):
    # Queued (as a refresh token) before the provider's strategy changed: retrying cannot help.
    app = define(revocation=Revocation.bearer("DELETE"))
    pending = PendingRevocation.objects.create(
        app=app, tenant="acme", token="rt-old-abcdefgh", token_kind="refresh_token"
    )
    assert revoke_pending_token.apply((pending.pk,)).get() is False
    assert not PendingRevocation.objects.exists() and server.requests == []


def test_a_token_in_url_revocation_is_never_logged(admin_client, server, define, caplog):
    token_path = "/oauth/v1/refresh-tokens/"
    app = define(
        revocation=Revocation.token_in_url("DELETE"),
        endpoints={"revoke_url": server.url + token_path + "{token}"},
    )
    refresh_token = "rt-1/+abcdefgh="  # quoted into one path segment
    server.answers["/oauth/token"] = [(200, token_answer(1, refresh_token=refresh_token))]
    install(admin_client, app)
    server.answers[token_path + quote(refresh_token, safe="")] = [(503, {}), (204, {})]
    caplog.set_level(logging.DEBUG)
    uninstall(admin_client, Installation.objects.get())
    pending = PendingRevocation.objects.get()
    assert refresh_token not in pending.last_error and token_path not in pending.last_error
    PendingRevocation.objects.update(next_attempt_at=timezone.now())
    assert revoke_pending_token.apply((pending.pk,)).get() is True
    calls = [r for r in server.requests if r["path"].startswith(token_path)]
    assert [c["method"] for c in calls] == ["DELETE", "DELETE"]
    assert "Authorization" not in calls[0]["headers"] and calls[0]["body"] == b""
    for needle in (refresh_token, quote(refresh_token, safe=""), "refresh-tokens"):
        assert needle not in caplog.text


def test_no_revocation_means_none_is_attempted(admin_client, server, define):
    app = define(revocation=NO_REVOCATION)
    assert not app.provider_spec.supports_revoke
    install(admin_client, app)
    uninstall(admin_client, Installation.objects.get())
    assert server.to("/oauth/revoke") == [] and not PendingRevocation.objects.exists()


def test_rfc7009_with_the_access_token(admin_client, server, define):
    app = define(revocation=Revocation.rfc7009("access_token"), client_auth="client_secret_post")
    install(admin_client, app)
    server.answers["/oauth/revoke"] = [(200, {})]
    uninstall(admin_client, Installation.objects.get())
    (call,) = server.to("/oauth/revoke")
    assert parse_qs(call["body"].decode()) == {
        "token": ["at-1-abcdefgh"],
        "token_type_hint": ["access_token"],
        "client_id": ["deftest-client"],
        "client_secret": [SECRET],
    }


@pytest.mark.parametrize("ends_installation", [False, True])
def test_a_reinstall_revokes_the_replaced_access_token_unless_that_uninstalls(
    client, server, define, ends_installation
):
    strategy = Revocation.bearer("DELETE", ends_installation=ends_installation)
    app = define(revocation=strategy, endpoints={"revoke_url": server.url + "/tokens/current"})
    install(client, app)
    server.answers["/oauth/token"] = [(200, token_answer(2))]
    server.answers["/tokens/current"] = [(503, {})]  # stays queued: inspectable
    _, done = install(client, app)
    assert done.status_code == 302 and Token.objects.get().access_token == "at-2-abcdefgh"
    pending = PendingRevocation.objects.first()
    if ends_installation:
        assert pending is None and server.to("/tokens/current") == []
    else:
        assert (pending.token_kind, pending.token) == ("access_token", "at-1-abcdefgh")


def test_token_is_refused_in_other_endpoint_templates(define, server):
    app = define(endpoints={"api_base_url": server.url + "/api/{token}/"})
    with pytest.raises(ConfigurationError):
        app.provider_spec.endpoint("api_base_url", "acme")


# -- refresh-token rotation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "answer", "stored", "signalled"),
    [
        ("always", {"refresh_token": None}, "rt-1-abcdefgh", "missing"),
        ("always", {"refresh_token": "rt-1-abcdefgh"}, "rt-1-abcdefgh", "unchanged"),
        ("always", {}, "rt-2-abcdefgh", None),
        ("sometimes", {"refresh_token": None}, "rt-1-abcdefgh", None),
        ("sometimes", {}, "rt-2-abcdefgh", None),
        ("never", {"refresh_token": None}, "rt-1-abcdefgh", None),
        ("never", {}, "rt-2-abcdefgh", None),  # whatever comes back is stored
    ],
)
def test_rotation_is_declared_and_honoured(
    client, server, define, caplog, rotation, answer, stored, signalled
):
    app = define(refresh_token_rotation=rotation)
    install(client, app)
    received: list[dict] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    refresh_token_not_rotated.connect(receiver)
    try:
        body = {k: v for k, v in {**token_answer(2), **answer}.items() if v is not None}
        server.answers["/oauth/token"] = [(200, body)]
        make_due()
        installation = Installation.objects.get()
        assert refresh_installation_token.apply((installation.pk,)).get() == "refreshed"
    finally:
        refresh_token_not_rotated.disconnect(receiver)
    token = Token.objects.get()
    assert (token.access_token, token.refresh_token) == ("at-2-abcdefgh", stored)
    if signalled:
        assert [(r["installation"].pk, r["reason"]) for r in received] == [
            (installation.pk, signalled)
        ]
        assert "always rotates refresh tokens" in caplog.text
        assert "rt-1-abcdefgh" not in caplog.text
    else:
        assert received == []


# -- RFC 9207 issuer ----------------------------------------------------------------------


def test_the_declared_issuer_is_checked_at_the_callback(client, server, define):
    app = define(issuer_template=server.url + "/as/{tenant}")
    _, refused = install(client, app, iss=server.url + "/as/evil")
    assert refused.status_code in (400, 403) and not Installation.objects.exists()
    _, done = install(client, app, iss=server.url + "/as/acme")
    assert done.status_code == 302 and Installation.objects.count() == 1


def test_an_unknown_issuer_is_not_compared(client, server, define):
    app = define()  # no issuer_template: the state alone binds the flow
    assert app.provider_spec.issuer("acme") == ""
    _, done = install(client, app, iss="https://anything.example")
    assert done.status_code == 302 and Installation.objects.count() == 1


def test_issuer_resolution(settings):
    gorgias = get_provider("gorgias")
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {}}
    assert gorgias.issuer("Acme") == "https://acme.gorgias.com"
    assert get_provider("kustomer").issuer("acme") == "https://acme.kustomerapp.com"
    moved = {"authorize_url": "https://proxy.example/g/{tenant}/oauth/authorize"}
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {"gorgias": moved}}
    assert gorgias.issuer("acme") == "https://proxy.example/g/acme"  # follows the move
    odd = {"authorize_url": "https://proxy.example/authorize"}
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {"gorgias": odd}}
    assert gorgias.issuer("acme") == ""  # cannot tell: not compared
    named = {**odd, "issuer": "https://issuer.example/{tenant}"}
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": {"gorgias": named}}
    assert gorgias.issuer("acme") == "https://issuer.example/acme"
