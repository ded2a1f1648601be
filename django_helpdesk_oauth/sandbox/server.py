"""Serve a WSGI app (by default this Django project, sandbox included) over real loopback HTTP.

For tests that exercise an OAuth client through its real HTTP stack::

    with SandboxServer() as server:
        settings = provider_settings(server.url + "/sandbox")
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    # Daemon threads: a request still sleeping on an injected delay never blocks exit.
    daemon_threads = True
    allow_reuse_address = True
    # listen() backlog (socketserver's default is 5): benchmarks open 64 connections at
    # once, and a full backlog drops connection attempts (retried by the client 1 s later).
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected in fault tests, not news.
        pass


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class SandboxServer:
    """A multi-threaded stdlib WSGI server on ``127.0.0.1`` and an ephemeral port.

    ``app`` defaults to Django's ``get_wsgi_application()`` (the current
    settings' ``ROOT_URLCONF``, where the sandbox must be mounted). Use it as a
    context manager or call :meth:`start` and :meth:`stop`; :attr:`url` is
    ``http://127.0.0.1:<port>`` without the mount prefix.
    """

    def __init__(self, app: Callable[..., Any] | None = None, host: str = "127.0.0.1") -> None:
        self._app = app
        self.host = host
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` of the running server."""
        if self._server is None:
            raise RuntimeError("the sandbox server is not running")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> SandboxServer:
        """Bind, then serve in a background daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        app = self._app
        if app is None:
            from django.core.wsgi import get_wsgi_application

            app = get_wsgi_application()
        server = _ThreadingWSGIServer((self.host, 0), _QuietHandler)
        server.set_app(app)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="helpdesk-oauth-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (requests in flight finish on their own)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
