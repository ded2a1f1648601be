"""The outbound OAuth transport: one deadline per call, bodies bounded to 1 MiB, no redirects.

Issue 9 §4: a token endpoint sending a byte a second held a refresh far longer
than HTTP_TIMEOUT, past its lease. Every test here goes over real loopback HTTP:
the sandbox (with ``inject(drip=...)``) or a tiny raw socket server that drips
or floods where the sandbox cannot (the status line and headers, a body without
Content-Length, a gzip bomb).
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_helpdesk_oauth import client, tasks, transport
from django_helpdesk_oauth.exceptions import ProviderError, ResponseTooLarge
from django_helpdesk_oauth.models import Installation, PendingRevocation, ProviderApp, Token
from django_helpdesk_oauth.providers import registry
from django_helpdesk_oauth.services import Outcome, refresh_installation
from django_helpdesk_oauth.services.secrets import register_app
from tests import flows
from tests.commands.conftest import ADMIN_KEY
from tests.loopback_http import LoopbackHTTPServer, read_request
from tests.workers import run_as_worker

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = transport.MAX_RESPONSE_BYTES
BIG = "x" * (LIMIT + 1)


# -- helpers -------------------------------------------------------------------------


class RawServer:
    """One-connection-at-a-time HTTP server on loopback that answers ``payload`` raw.

    ``delay`` seconds pass between the bytes it sends; ``sent`` counts the bytes
    written; ``hung_up`` turns true when the client closed the connection on it.
    """

    def __init__(self, payload: bytes, delay: float = 0.0) -> None:
        self.payload, self.delay = payload, delay
        self.sent = 0
        self.hung_up = threading.Event()
        self.requests = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(30)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/oauth/token") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except OSError:
            return
        self.requests += 1
        with conn:
            conn.recv(65536)
            step = 1 if self.delay else 65536
            try:
                for start in range(0, len(self.payload), step):
                    conn.sendall(self.payload[start : start + step])
                    self.sent += len(self.payload[start : start + step])
                    if self.delay:
                        time.sleep(self.delay)
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(30)
                while conn.recv(65536):  # until the client closes
                    pass
            except OSError:
                pass
        self.hung_up.set()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def start(payload: bytes, delay: float = 0.0) -> RawServer:
        server = RawServer(payload, delay)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def point(settings, provider: str, **endpoints: str) -> None:
    """Point some of ``provider``'s endpoints elsewhere, keeping the sandbox's others."""
    providers = dict(settings.HELPDESK_OAUTH.get("PROVIDERS") or {})
    providers[provider] = {**providers.get(provider, {}), **endpoints}
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": providers}


def deadline_of(settings, seconds: float) -> None:
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "HTTP_TIMEOUT": seconds}


def make_due(installation) -> None:
    Token.objects.filter(installation=installation).update(expires_at=timezone.now())


def snapshot(installation):
    token = Token.objects.get(installation=installation)
    return (token.access_token, token.refresh_token, token.expires_at, token.refresh_count)


def no_transport_thread_left() -> bool:
    """Every worker thread of the transport ends (joined; not a timing assertion)."""
    for thread in threading.enumerate():
        if thread.name.startswith("helpdesk-oauth-"):
            thread.join(timeout=30)
    return not any(t.name.startswith("helpdesk-oauth-") for t in threading.enumerate())


def token_json(**extra) -> bytes:
    body = {"access_token": "at-new-1", "token_type": "bearer", "expires_in": 3600, **extra}
    return json.dumps(body).encode()


# -- the deadline: a body dripped by the sandbox -------------------------------------


def test_a_dripping_token_endpoint_is_cut_off_and_the_refresh_retries_later(
    sandbox, installed, kustomer_app, settings
):
    installation = installed(kustomer_app)
    make_due(installation)
    before = snapshot(installation)
    deadline_of(settings, 1)
    body = {
        "access_token": "at-dripped-0001",
        "refresh_token": "rt-dripped-0002",
        "expires_in": 3600,
        "token_type": "bearer",
    }
    # About 100 bytes at 0.1 s each: ~10 s to send; the call may take 1 s in all.
    fault = sandbox.state.inject("token", status=200, body=body, drip=0.1)
    retry = run_as_worker(installation.pk)
    assert retry.when > 0  # transient: rescheduled with backoff
    assert 0 < fault.sent < fault.length  # cut off mid-body, not read to the end
    assert snapshot(installation) == before  # the token is untouched
    installation.refresh_from_db()
    assert installation.status == "active"
    assert "Kustomer token refresh timed out (deadline 1 s)" in installation.last_error
    [request] = sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    assert request["refresh_token"] == before[1]
    assert no_transport_thread_left()


def test_the_real_answer_dripped_is_cut_off_too(sandbox, installed, gorgias_app, settings):
    # status=None: the provider really issues a new access token, but sends it too slowly.
    installation = installed(gorgias_app)
    make_due(installation)
    before = snapshot(installation)
    deadline_of(settings, 1)
    fault = sandbox.state.inject("token", status=None, drip=0.05)
    retry = run_as_worker(installation.pk)
    assert retry.when > 0
    assert 0 < fault.sent < fault.length
    assert snapshot(installation) == before
    [request] = sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    assert request["status"] == 200  # the provider answered; the answer never arrived in time


def test_after_the_cut_off_the_next_run_uses_the_same_refresh_token(
    sandbox, installed, gorgias_app, settings
):
    # Run eagerly, the cut-off run says "retry-later" (never an immediate retry); the
    # dripped answer was a fault, the refresh token is still good at the provider, so
    # the next run (same token) succeeds.
    installation = installed(gorgias_app)
    make_due(installation)
    _, refresh_token, _, count = snapshot(installation)
    deadline_of(settings, 1)
    fault = sandbox.state.inject("token", status=200, body={"access_token": "a" * 200}, drip=0.1)
    assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == "retry-later"
    assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == "refreshed"
    assert fault.sent < fault.length
    refreshes = sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    assert [r["refresh_token"] for r in refreshes] == [refresh_token, refresh_token]
    token = Token.objects.get()
    assert token.refresh_count == count + 1 and token.access_token != "a" * 200


def test_a_slow_start_then_drip_still_ends_at_the_one_deadline(sandbox, installed, kustomer_app):
    # 0.6 s before the headers, then a drip: each phase alone is under 1 s; together over.
    installation = installed(kustomer_app)
    provider = registry["kustomer"]
    url = provider.endpoint("token_url", installation.tenant)
    fault = sandbox.state.inject("token", status=200, body={"pad": "p" * 100}, delay=0.6, drip=0.1)
    with pytest.raises(ProviderError) as excinfo:
        transport.request(
            "POST", url, provider=provider, what="token refresh", deadline=time.monotonic() + 1
        )
    assert excinfo.value.transient and excinfo.value.status is None
    assert "timed out" in str(excinfo.value)
    assert fault.sent < fault.length


def test_the_lease_bounds_the_call_even_when_http_timeout_would_not(
    sandbox, installed, kustomer_app, settings
):
    # A lease shorter than the checks allow (E006): the call must still end LEASE_SAFETY
    # seconds before the lease lapses, whatever HTTP_TIMEOUT says, so no second worker
    # can take the lease over while our refresh token is in flight.
    installation = installed(kustomer_app)
    make_due(installation)
    before = snapshot(installation)
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "HTTP_TIMEOUT": 60,
        "REFRESH_LEASE": transport.LEASE_SAFETY + 1,
    }
    body = {"access_token": "at-late-0001", "refresh_token": "rt-late-0002", "expires_in": 3600}
    fault = sandbox.state.inject("token", status=200, body=body, drip=0.1)  # ~8 s to send
    retry = run_as_worker(installation.pk)
    assert retry.when > 0
    assert 0 < fault.sent < fault.length
    assert snapshot(installation) == before
    installation.refresh_from_db()
    assert "timed out (deadline" in installation.last_error
    token = Token.objects.get()
    assert token.lease_owner == ""  # released at once, not left to lapse


# -- the deadline: status line and headers dripped by a raw server -------------------


def test_headers_dripped_one_byte_at_a_time_are_cut_off_on_uninstall(
    sandbox, installed, gorgias_app, settings, raw_server
):
    installation = installed(gorgias_app)
    refresh_token = Token.objects.get().refresh_token
    headers = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: yes\r\n" * 50 + b"Content-Length: 2\r\n\r\n{}"
    server = raw_server(headers, delay=0.05)  # ~35 s to send in full
    point(settings, "gorgias", revoke_url=server.url("/oauth/revoke"))
    deadline_of(settings, 1)
    out = io.StringIO()
    call_command("helpdesk_oauth_uninstall", str(installation.pk), stdout=out)
    assert "revocation pending" in out.getvalue()
    assert server.hung_up.wait(30)  # we closed the connection…
    assert server.sent < len(headers)  # …before the status line and headers were through
    pending = PendingRevocation.objects.get()
    assert pending.token == refresh_token and pending.attempts == 1
    assert "Gorgias revoke timed out (deadline 1 s)" in pending.last_error
    assert Installation.objects.get().status == "uninstalled"
    assert not Token.objects.exists()
    assert no_transport_thread_left()


def test_status_line_dripped_to_client_revoke_raises_a_transient_error(
    gorgias_app, settings, raw_server
):
    server = raw_server(b"HTTP/1.1 200 OK\r\n\r\n", delay=0.2)
    point(settings, "gorgias", revoke_url=server.url("/oauth/revoke"))
    deadline_of(settings, 0.5)
    from django_helpdesk_oauth.services.creds import credentials

    with pytest.raises(ProviderError) as excinfo:
        client.revoke(credentials(gorgias_app, "acme"), token="rt-secret-value-1234")
    assert excinfo.value.transient
    assert str(excinfo.value) == "Gorgias revoke timed out (deadline 0.5 s)."
    assert server.hung_up.wait(30) and server.sent < 19


def test_an_unreachable_host_is_a_transient_error_without_the_url(gorgias_app, settings):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    point(settings, "gorgias", revoke_url=f"http://127.0.0.1:{port}/revoke?token=t0k3n-in-url")
    from django_helpdesk_oauth.services.creds import credentials

    with pytest.raises(ProviderError) as excinfo:
        client.revoke(credentials(gorgias_app, "acme"), token="rt-secret-value-1234")
    assert excinfo.value.transient
    assert "could not connect" in str(excinfo.value)
    assert "t0k3n" not in str(excinfo.value) and str(port) not in str(excinfo.value)


# -- the transport's own contract -----------------------------------------------------


def test_a_deadline_already_past_sends_nothing(sandbox):
    provider = registry["gorgias"]
    url = provider.endpoint("token_url", "acme")
    with pytest.raises(ProviderError) as excinfo:
        transport.request(
            "POST", url, provider=provider, what="token refresh", deadline=time.monotonic() - 1
        )
    assert excinfo.value.transient and "timed out" in str(excinfo.value)
    assert sandbox.state.requests == []


def test_the_body_is_read_before_returning_and_redirects_are_not_followed(raw_server):
    server = raw_server(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/steal\r\n"
        b"Content-Length: 9\r\nConnection: close\r\n\r\n" + b'{"a": 1}\n'
    )
    response = transport.request(
        "POST", server.url(), provider=registry["gorgias"], what="revoke", data={"token": "t"}
    )
    assert response.status_code == 302  # returned as is, never followed
    assert response.json() == {"a": 1}
    assert server.requests == 1


@pytest.mark.parametrize("name", ["timeout", "stream", "allow_redirects"])
def test_the_transport_owns_timeout_stream_and_redirects(name):
    with pytest.raises(TypeError):
        transport.request(
            "GET", "https://x.invalid/", provider=registry["gorgias"], what="t", **{name: 5}
        )


def test_plain_http_off_loopback_is_refused_before_sending():
    from django_helpdesk_oauth.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError):
        transport.request("GET", "http://example.com/", provider=registry["gorgias"], what="t")


# -- the size bound ------------------------------------------------------------------


def test_a_huge_refresh_answer_is_refused_and_nothing_is_written(sandbox, installed, kustomer_app):
    installation = installed(kustomer_app)
    make_due(installation)
    before = snapshot(installation)
    sandbox.state.inject("token", status=200, body=BIG)
    assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == "failed"
    assert snapshot(installation) == before
    installation.refresh_from_db()
    assert installation.status == "active"
    assert f"larger than {LIMIT} bytes" in installation.last_error
    assert "xxxxxxxx" not in installation.last_error


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * (LIMIT + 1),
            id="no-content-length",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(b"10000\r\n" + b"y" * 0x10000 + b"\r\n" for _ in range(17))
            + b"0\r\n\r\n",
            id="chunked",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n"
            + gzip.compress(b'{"access_token": "' + b"z" * (4 * LIMIT) + b'"}'),
            id="gzip-bomb",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{}" % (LIMIT + 1),
            id="declared-length-refused-before-reading",
        ),
    ],
)
def test_a_huge_refresh_answer_counted_while_reading(
    sandbox, installed, gorgias_app, settings, raw_server, answer
):
    installation = installed(gorgias_app)
    make_due(installation)
    before = snapshot(installation)
    server = raw_server(answer)
    point(settings, "gorgias", token_url=server.url())
    assert tasks.refresh_installation_token.apply(args=[installation.pk]).get() == "failed"
    assert snapshot(installation) == before
    installation.refresh_from_db()
    assert installation.status == "active"
    assert f"larger than {LIMIT} bytes" in installation.last_error


def test_transport_raises_the_typed_error_with_provider_what_and_limit(sandbox):
    sandbox.state.inject("token", status=503, body=BIG)
    provider = registry["gorgias"]
    with pytest.raises(ResponseTooLarge) as excinfo:
        transport.request(
            "POST", provider.endpoint("token_url", "acme"), provider=provider, what="token refresh"
        )
    error = excinfo.value
    assert str(error).startswith(f"Gorgias token refresh: the response is larger than {LIMIT}")
    assert error.limit == LIMIT and error.status == 503 and error.transient
    assert "xxxx" not in str(error)


def test_a_body_of_exactly_the_limit_is_read(raw_server):
    body = b'"' + b"k" * (LIMIT - 2) + b'"'
    server = raw_server(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
    response = transport.request("GET", server.url(), provider=registry["gorgias"], what="t")
    assert len(response.content) == LIMIT


def test_a_huge_token_answer_on_the_callback_is_a_clean_error_page(sandbox, browser, gorgias_app):
    sandbox.state.inject("token", status=200, body=BIG)
    response = flows.install(browser, sandbox, gorgias_app.slug, {"account": "acme"})
    assert 400 <= response.status_code < 600 and response.status_code != 500
    assert "xxxxxxxx" not in response.text
    assert not Installation.objects.exists() and not Token.objects.exists()


def test_a_huge_revoke_answer_is_not_a_revocation(sandbox, installed, gorgias_app):
    installation = installed(gorgias_app)
    sandbox.state.inject("revoke", status=503, body=BIG)
    out = io.StringIO()
    call_command("helpdesk_oauth_uninstall", str(installation.pk), stdout=out)
    assert "revocation pending" in out.getvalue()  # a huge 503 is still a 503: retried
    pending = PendingRevocation.objects.get()
    assert f"larger than {LIMIT} bytes" in pending.last_error
    assert not Token.objects.exists()


def test_a_huge_answer_from_the_apps_api_registers_nothing(sandbox, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(ADMIN_KEY)
    sandbox.state.inject("apps", status=200, body=BIG)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "helpdesk_oauth_register_app",
            *("--provider", "kustomer", "--slug", "kus-private", "--register", "myoauthapp"),
            *("--api-key-file", str(key_file)),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    message = str(excinfo.value)
    assert f"larger than {LIMIT} bytes" in message and "\n" not in message.strip()
    assert ADMIN_KEY not in message
    assert not ProviderApp.objects.exists()
    assert sandbox.state.kustomer_apps == {}


def test_a_huge_answer_from_the_apps_api_rotates_nothing(sandbox, tmp_path):
    app = register_app(
        provider_key="kustomer", slug="kus", name="rotapp", title="Rot", api_key=ADMIN_KEY
    )
    secret = app.client_secret
    key_file = tmp_path / "key"
    key_file.write_text(ADMIN_KEY)
    sandbox.state.inject("apps", status=200, body=BIG)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "helpdesk_oauth_rotate_secret",
            "kus",
            "--api-key-file",
            str(key_file),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert f"larger than {LIMIT} bytes" in str(excinfo.value)
    app.refresh_from_db()
    assert app.client_secret == secret and not app.previous_client_secret


# -- keep-alive connections (issue 13) -------------------------------------------------


class KeepAliveServer(LoopbackHTTPServer):
    """HTTP/1.1 server on loopback that keeps its connections alive.

    Request ``n`` (from 1) is answered with ``answer(n)`` (bytes: a body, sent with
    Content-Length and no ``Connection: close``). ``close_after_answer`` closes each
    connection once its answer is sent, as a server closing idle keep-alive
    connections does (``closed`` is set then); from request ``drip_from`` on, the
    answer is dripped a byte every ``delay`` seconds. ``connections`` counts the
    connections accepted, ``requests`` holds each request's head and body.
    """

    def __init__(self, answer, *, close_after_answer=False, drip_from=None, delay=0.1, cookie=""):
        self.answer, self.close_after_answer = answer, close_after_answer
        self.drip_from, self.delay, self.cookie = drip_from, delay, cookie
        self.requests: list[tuple[bytes, bytes]] = []
        self.closed = threading.Event()
        super().__init__()

    def serve(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        try:
            with conn:
                while True:
                    head, body, buffer = read_request(conn, buffer)
                    self.requests.append((head, body))
                    payload = self.answer(len(self.requests))
                    cookie = f"Set-Cookie: {self.cookie}\r\n" if self.cookie else ""
                    response = (
                        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{cookie}"
                        f"Content-Length: {len(payload)}\r\n\r\n"
                    ).encode() + payload
                    if self.drip_from and len(self.requests) >= self.drip_from:
                        for index in range(len(response)):
                            conn.sendall(response[index : index + 1])
                            time.sleep(self.delay)
                    else:
                        conn.sendall(response)
                    if self.close_after_answer:
                        break
        except (OSError, EOFError):
            pass
        finally:
            self.closed.set()


@pytest.fixture
def keep_alive_server():
    servers: list[KeepAliveServer] = []

    def start(answer, **options) -> KeepAliveServer:
        server = KeepAliveServer(answer, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def post(server: KeepAliveServer, **options):
    return transport.request(
        "POST",
        server.url(),
        provider=registry["gorgias"],
        what="revoke",
        data={"token": "t"},
        **options,
    )


def test_a_connection_is_kept_alive_between_calls(keep_alive_server):
    server = keep_alive_server(lambda n: b'{"n": %d}' % n)
    assert post(server).json() == {"n": 1}
    assert post(server).json() == {"n": 2}
    assert len(server.requests) == 2
    assert server.connections == 1  # the second call reused the first one's connection


def test_a_kept_alive_connection_the_server_closed_is_replaced_and_posted_once(
    sandbox, installed, kustomer_app, settings, keep_alive_server
):
    """The server closes the idle connection: the next refresh connects again and its
    token POST reaches the server exactly once (never re-sent: RFC 6749 §6)."""
    installation = installed(kustomer_app)
    server = keep_alive_server(
        lambda n: token_json(access_token=f"at-kept-{n:04d}", refresh_token=f"rt-kept-{n:04d}"),
        close_after_answer=True,
    )
    point(settings, "kustomer", token_url=server.url())
    make_due(installation)
    assert refresh_installation(installation.pk) is Outcome.REFRESHED
    assert server.closed.wait(30)  # the server has closed the connection we keep
    make_due(installation)
    assert refresh_installation(installation.pk) is Outcome.REFRESHED
    assert server.connections == 2
    bodies = [body.decode() for _, body in server.requests]
    assert len(bodies) == 2  # one POST per refresh
    assert "refresh_token=rt-kept-0001" in bodies[1]  # the token the first answer rotated in
    token = Token.objects.get()
    assert (token.refresh_token, token.refresh_count) == ("rt-kept-0002", 2)


def test_a_reused_connection_dripping_is_cut_off_at_the_deadline(keep_alive_server):
    """A pooled connection is registered with the call's guard when it is handed out:
    the second answer (~120 bytes at 0.1 s each, on the first call's connection) is
    cut off at the call's deadline, as on a new connection."""
    server = keep_alive_server(lambda n: b'{"answer": "%s"}' % (b"x" * 40), drip_from=2)
    post(server)
    with pytest.raises(ProviderError) as excinfo:
        post(server, deadline=time.monotonic() + 0.5)
    assert excinfo.value.transient and "timed out" in str(excinfo.value)
    assert server.connections == 1 and len(server.requests) == 2
    assert server.closed.wait(30)  # the server saw the connection shut down
    assert no_transport_thread_left()
    # The connection that was cut off is not reused: the next call connects again.
    server.drip_from = None
    post(server)
    assert server.connections == 2


def test_a_cookie_set_by_one_answer_is_not_sent_with_the_next_call(keep_alive_server):
    server = keep_alive_server(lambda n: b"{}", cookie="tenant=acme; Path=/")
    post(server)
    post(server)
    assert server.connections == 1
    assert b"cookie:" not in server.requests[1][0].lower()
