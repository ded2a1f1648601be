"""``HELPDESK_OAUTH_SANDBOX["STATE_FILE"]``: clients, tokens, apps and the key as JSON."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from typing import Any

from .. import jwt
from .clients import ClientRegistry
from .keys import SigningKeys
from .records import IssuedToken, KustomerApp, SandboxClient
from .tokens import TokenStore


def _read_clients(data: dict[str, Any]) -> list[SandboxClient]:
    return [
        SandboxClient(**{**c, "redirect_uris": tuple(c["redirect_uris"])}) for c in data["clients"]
    ]


class StateFile:
    """Writes the state atomically after changes, reads it back at start, and picks up
    clients another process (the sandbox client command) wrote since."""

    def __init__(self, path: str) -> None:
        self.path = path
        # (mtime, size, inode) of the file when this process last read or wrote it.
        self.stamp: tuple[int, int, int] | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def changed(self) -> bool:
        """Whether someone else wrote the file since this process last read or wrote it."""
        return self._stat() != self.stamp

    def save(self, clients: ClientRegistry, tokens: TokenStore, keys: SigningKeys) -> None:
        """Write everything but codes, the request log and faults (temp file + rename),
        creating the file's directory if needed (``BASE_DIR / "var"`` in a fresh project)."""
        data = {
            "clients": [asdict(c) for c in clients.clients.values()],
            "access_tokens": [asdict(t) for t in tokens.access_tokens.values()],
            "refresh_tokens": [asdict(t) for t in tokens.refresh_tokens.values()],
            "kustomer_apps": [asdict(a) for a in clients.apps.values()],
            "signing_key": jwt.key_to_pem(keys.current()),
        }
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sandbox-state-")
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, self.path)
        self.stamp = self._stat()

    def merge_clients(self, clients: ClientRegistry) -> None:
        """Take the clients another process wrote (the file's win); tokens stay this process's."""
        stamp = self._stat()
        try:
            with open(self.path) as source:
                read = _read_clients(json.load(source))
        except (OSError, ValueError, KeyError, TypeError):
            return  # being replaced or damaged: try again on the next request
        clients.clients.update({(c.provider, c.client_id): c for c in read})
        self.stamp = stamp

    def restore(self, clients: ClientRegistry, tokens: TokenStore, keys: SigningKeys) -> None:
        """Load the file if it exists; a damaged one is ignored (start afresh)."""
        if not os.path.exists(self.path):
            return
        stamp = self._stat()
        try:
            with open(self.path) as source:
                data = json.load(source)
            read = _read_clients(data)
            access = [IssuedToken(**t) for t in data["access_tokens"]]
            refresh = [IssuedToken(**t) for t in data["refresh_tokens"]]
            apps = [KustomerApp(**a) for a in data["kustomer_apps"]]
            # A file written before the RS256 keys has none: a new key is made then.
            pem = data.get("signing_key")
            signing_key = jwt.key_from_pem(pem) if pem else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        clients.restore(read, apps)
        tokens.access_tokens = {t.token: t for t in access}
        tokens.refresh_tokens = {t.token: t for t in refresh}
        keys.key = signing_key
        self.stamp = stamp
