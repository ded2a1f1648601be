"""Registered OAuth clients, Kustomer admin API keys and private apps."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .records import KustomerApp, SandboxClient, new_secret


class ClientRegistry:
    """The clients (by provider and client id), API keys and provider-registered apps.

    Callers hold the shared lock for compound changes; every method takes it too.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.clients: dict[tuple[str, str], SandboxClient] = {}
        self.api_keys: dict[str, dict[str, Any]] = {}
        self.apps: dict[str, KustomerApp] = {}

    def add(self, client: SandboxClient, replace: bool = True) -> SandboxClient:
        """Store ``client``; with ``replace=False`` an existing one with its id stays."""
        with self._lock:
            key = (client.provider, client.client_id)
            if replace:
                self.clients[key] = client
            return self.clients.setdefault(key, client)

    def listed(self, provider: str | None = None) -> list[SandboxClient]:
        """Every client (of ``provider``), sorted by provider and client id."""
        with self._lock:
            return sorted(
                (c for c in self.clients.values() if provider in (None, c.provider)),
                key=lambda c: (c.provider, c.client_id),
            )

    def get(self, provider: str, client_id: str | None) -> SandboxClient | None:
        """The registered client, or ``None``."""
        if not client_id:
            return None
        with self._lock:
            return self.clients.get((provider, client_id))

    def set_secret(self, provider: str, client_id: str, client_secret: str | None) -> None:
        """Replace a client's secret at once (the old one stops working)."""
        with self._lock:
            self.clients[(provider, client_id)].client_secret = client_secret

    def add_api_key(self, key: str, info: dict[str, Any], replace: bool = True) -> None:
        """Register an admin API key (``org``, ``org_id``, ``roles``)."""
        with self._lock:
            if replace:
                self.api_keys[key] = info
            self.api_keys.setdefault(key, info)

    def register_app(
        self,
        provider: str,
        *,
        app: str,
        version: str,
        title: str,
        visibility: str,
        org: str,
        org_id: str,
    ) -> tuple[KustomerApp, bool]:
        """Register an app (a new version keeps its client); returns ``(app, created)``.

        The app becomes an OAuth client without a secret until :meth:`generate_secret`
        runs. Raises ``ValueError`` if this exact name and version already exist.
        """
        name = f"{app}_{org_id}" if visibility == "private" else app
        with self._lock:
            existing = self.apps.get(name)
            if existing is not None:
                if existing.version == version or existing.org_id != org_id:
                    raise ValueError(f"app {name}-{version} already exists")
                existing.version, existing.title = version, title
                self.clients[(provider, existing.client_id)].title = title
                return existing, False
            registered = KustomerApp(
                app=app,
                name=name,
                version=version,
                title=title,
                visibility=visibility,
                org=org,
                org_id=org_id,
                client_id=new_secret(12),
            )
            self.apps[name] = registered
            self.clients[(provider, registered.client_id)] = SandboxClient(
                provider=provider,
                client_id=registered.client_id,
                client_secret=None,
                title=title,
                org=org if visibility == "private" else None,
            )
            return registered, True

    def generate_secret(self, provider: str, name: str) -> str:
        """Give a registered app a new client secret, replacing the previous one."""
        with self._lock:
            secret = new_secret()
            self.set_secret(provider, self.apps[name].client_id, secret)
            return secret

    def restore(
        self, clients: Iterable[SandboxClient], apps: Iterable[KustomerApp] | None = None
    ) -> None:
        """Replace the clients (and apps) by those read from a state file."""
        with self._lock:
            self.clients = {(c.provider, c.client_id): c for c in clients}
            if apps is not None:
                self.apps = {a.name: a for a in apps}
