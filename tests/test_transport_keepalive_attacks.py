"""Keep-alive connections in the transport (issue 13) against misbehaving servers
(reviewer brk13): nothing re-sent, nothing of one answer read as the next, fork-safe.

Over loopback HTTP against a scripted server: each request is answered by
``script(n, conn)`` writing raw bytes (``"close"`` closes the connection).
"""

from __future__ import annotations

import multiprocessing
import socket
import struct
import threading

import pytest

from django_helpdesk_oauth import transport
from django_helpdesk_oauth.exceptions import ProviderError, ResponseTooLarge
from django_helpdesk_oauth.providers import registry
from tests.loopback_http import LoopbackHTTPServer, read_request


class ScriptServer(LoopbackHTTPServer):
    """HTTP/1.1 on loopback, connections kept alive; ``requests`` holds
    ``(connection number, body)`` of each request read, ``heads`` their heads,
    ``connections`` counts the connections."""

    def __init__(self, script) -> None:
        self.script = script
        self.requests: list[tuple[int, bytes]] = []
        self.heads: list[bytes] = []
        self.hung_up = threading.Event()
        super().__init__()

    def serve(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        try:
            with conn:
                while True:
                    head, body, buffer = read_request(conn, buffer)
                    self.heads.append(head)
                    self.requests.append((number, body))
                    if self.script(len(self.requests), conn) == "close":
                        return
        except (OSError, EOFError):
            pass
        finally:
            self.hung_up.set()


@pytest.fixture
def script_server():
    servers: list[ScriptServer] = []

    def start(script) -> ScriptServer:
        server = ScriptServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return head % len(body) + body + extra


def numbered(n: int, conn: socket.socket) -> None:
    conn.sendall(ok(b'{"n": %d}' % n))


def post(server: ScriptServer, data: str = "refresh_token=rt-1"):
    return transport.request(
        "POST", server.url(), provider=registry["kustomer"], what="token refresh", data=data
    )


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_reused_connection_closed_after_reading_the_request_is_not_posted_again(
    script_server, how
):
    """The server reads the token POST on the kept-alive connection and hangs up without
    answering: a transient error, and the POST reached it once (a re-send could spend a
    rotated refresh token twice, RFC 6749 §6)."""

    def script(n, conn):
        if n == 1:
            return numbered(n, conn)
        if how == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return "close"

    server = script_server(script)
    assert post(server).json() == {"n": 1}
    with pytest.raises(ProviderError) as excinfo:
        post(server, "refresh_token=rt-2")
    assert excinfo.value.transient and excinfo.value.status is None
    # It reached the provider: never worded as if nothing had been sent.
    assert "could not connect" not in str(excinfo.value)
    assert "may have reached the provider" in str(excinfo.value)
    assert server.hung_up.wait(30)
    assert server.requests == [(1, b"refresh_token=rt-1"), (1, b"refresh_token=rt-2")]
    assert server.connections == 1  # never connected again to re-send it


def test_garbage_instead_of_the_next_answer_is_an_error_and_the_connection_is_not_reused(
    script_server,
):
    def script(n, conn):
        if n == 2:
            conn.sendall(b"garbage\r\n\r\n")
            return "close"
        return numbered(n, conn)

    server = script_server(script)
    post(server)
    with pytest.raises(ProviderError):
        post(server)
    assert post(server).json() == {"n": 3}
    assert [number for number, _ in server.requests] == [1, 1, 2]


@pytest.mark.parametrize("late", [False, True], ids=["same-packet", "after-the-answer"])
def test_bytes_past_content_length_are_never_read_as_the_next_answer(script_server, late):
    """A body longer than its Content-Length whose surplus is a whole HTTP answer: the
    next call gets its own answer (on this or a new connection), never the surplus."""
    forged = ok(b'{"access_token": "forged-0001"}')
    sent = threading.Event()

    def script(n, conn):
        if n == 1:
            conn.sendall(ok(b'{"n": 1}', b"" if late else forged))
            if late:
                conn.sendall(forged)
            sent.set()
            return None
        return numbered(n, conn)

    server = script_server(script)
    assert post(server).json() == {"n": 1}
    assert sent.wait(30)
    assert post(server).json() == {"n": 2}
    assert post(server).json() == {"n": 3}


def test_a_body_over_the_limit_on_a_reused_connection_leaves_nothing_for_the_next_call(
    script_server,
):
    big = b"x" * (transport.MAX_RESPONSE_BYTES + 10)

    def script(n, conn):
        if n != 2:
            return numbered(n, conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(big), 65536):
            part = big[start : start + 65536]
            conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        conn.sendall(b"0\r\n\r\n")
        return None

    server = script_server(script)
    post(server)
    with pytest.raises(ResponseTooLarge):
        post(server)
    assert post(server).json() == {"n": 3}
    assert server.connections == 2  # the refused answer's connection was not reused


def _post_in_child(url, results):
    try:
        answer = transport.request(
            "POST", url, provider=registry["kustomer"], what="token refresh", data="child"
        )
        results.put(answer.json())
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(f"error: {type(exc).__name__}")


def test_a_forked_child_never_uses_the_parents_kept_alive_connection(script_server):
    """Celery's prefork pool forks after import: the child connects on its own and the
    parent's pooled connection keeps working."""
    server = script_server(numbered)
    post(server)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_post_in_child, args=(server.url(), results))
    child.start()
    assert results.get(timeout=30) == {"n": 2}
    child.join(30)
    assert post(server).json() == {"n": 3}
    assert [number for number, _ in server.requests] == [1, 2, 1]


def test_a_thread_that_ends_closes_its_kept_alive_connection(script_server):
    server = script_server(numbered)
    thread = threading.Thread(target=post, args=(server,))
    thread.start()
    thread.join(30)
    assert server.hung_up.wait(30)  # the server saw the connection closed
    assert server.connections == 1


def test_netrc_credentials_are_never_added(script_server, tmp_path, monkeypatch):
    """requests adds ~/.netrc credentials to a request without auth (trust_env): for a
    token request that is a second client authentication (RFC 6749 §2.3). Never sent;
    a request's own auth (client_secret_basic) is sent as given."""
    import base64

    import requests

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    server = script_server(numbered)
    # The file is one requests would use for this URL.
    assert requests.utils.get_netrc_auth(server.url()) == ("netrc-user", "netrc-pass")
    post(server)
    transport.request(
        "POST",
        server.url(),
        provider=registry["kustomer"],
        what="token refresh",
        data="refresh_token=rt-2",
        auth=("client-id", "client-secret"),
    )
    first, second = (head.lower() for head in server.heads)
    assert b"authorization" not in first
    basic = base64.b64encode(b"client-id:client-secret").lower()
    assert b"authorization: basic " + basic in second
    assert base64.b64encode(b"netrc-user:netrc-pass").lower() not in second


@pytest.mark.parametrize("url", ["example.com/oauth/token", "//example.com/oauth/token", ""])
def test_a_url_that_is_not_absolute_is_named_so(url):
    from django_helpdesk_oauth.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError) as excinfo:
        transport.require_secure(url)
    assert "not absolute" in str(excinfo.value) and "None" not in str(excinfo.value)
