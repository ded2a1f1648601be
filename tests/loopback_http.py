"""A scripted HTTP/1.1 server on loopback for transport tests: raw bytes on the wire,
connections kept alive as long as the test's answers say.

:class:`LoopbackHTTPServer` accepts connections on ``127.0.0.1`` and serves each on a
thread of its own (:meth:`~LoopbackHTTPServer.serve`, written by the test module's
subclass); :func:`read_request` reads one request off a connection.
"""

from __future__ import annotations

import socket
import threading


class LoopbackHTTPServer:
    """Listens on ``127.0.0.1`` (``port``); each accepted connection is served by
    :meth:`serve` on a thread of its own; ``connections`` counts them. A subclass sets
    its own attributes before calling ``super().__init__()``: serving starts here."""

    def __init__(self) -> None:
        self.connections = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/oauth/token") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, conn: socket.socket, number: int) -> None:
        """Answer the requests of connection ``number`` (from 1) on ``conn``."""
        raise NotImplementedError

    def close(self) -> None:
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn, self.connections), daemon=True).start()


def read_request(conn: socket.socket, buffer: bytes) -> tuple[bytes, bytes, bytes]:
    """``(head, body, rest)`` of the next request on ``conn``, after what ``buffer``
    already holds (the body by its Content-Length; ``rest``: bytes read past it).
    Raises :class:`EOFError` when the client closes the connection first."""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        rest += chunk
    return head, rest[:length], rest[length:]
