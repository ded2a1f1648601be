"""Test-only providers for the v2 rows "tenant after the exchange", "per-installation
hosts" and "provider-initiated uninstall", each as a sandbox profile (how it behaves,
extended from ``tests/sandbox/profile_testdesk.py``) and a client-side Provider subclass
(what an app developer writes), registered for one test by :func:`registered`.

- ``regiondesk``: Intercom-like. No tenant on the install URL (an identity call names
  the workspace, ``ws-<digits>``), three regions whose hosts the provider maps
  (``?region=`` on the install URL, ``us`` by default), and a deauthorize webhook
  signed ``X-Hub-Signature: sha1=<hex HMAC of the body>`` naming ``app_id``.
- ``hubdesk``: HubSpot-like. The token response names the tenant (``hub_id``, digits).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django_helpdesk_oauth.models import ProviderApp
from django_helpdesk_oauth.providers import registry
from django_helpdesk_oauth.providers.base import DeauthorizeSignature, Provider, Revocation
from django_helpdesk_oauth.sandbox import profiles
from django_helpdesk_oauth.sandbox.endpoints import profile_settings
from django_helpdesk_oauth.sandbox.profile import AuthServer, DeauthorizeWebhook
from tests.sandbox.profile_testdesk import PROFILE as TESTDESK

SECRET = "regiondesk-secret-0001"

# -- how they behave (sandbox profiles) ---------------------------------------------
REGIONDESK_PROFILE = dataclasses.replace(
    TESTDESK,
    key="regiondesk",
    title="Regiondesk",
    regions=("us", "eu", "au"),
    auth_servers={"global": AuthServer("{region}/oauth/authorize", "{region}/oauth/token")},
    revocation=dataclasses.replace(TESTDESK.revocation, path="{region}/api/oauth/token"),
    api=dataclasses.replace(TESTDESK.api, base="{region}/api/"),
    deauthorize=DeauthorizeWebhook(
        payload=lambda tenant: {"type": "app_uninstalled", "app_id": tenant}
    ),
)
HUBDESK_PROFILE = dataclasses.replace(
    TESTDESK,
    key="hubdesk",
    title="Hubdesk",
    token=dataclasses.replace(TESTDESK.token, tenant_field="hub_id"),
)


# -- what the app developer writes (client-side definitions) --------------------------
class _WorkspaceFromIdentity(Provider):
    __test__ = False
    client_auth = "client_secret_post"
    token_request_format = "json"
    default_scopes = ("read_tickets",)
    scope_delimiter = ","
    api_auth_scheme = "Token"
    revocation = Revocation.bearer("DELETE")
    access_tokens_expire = False
    tenant_after_exchange = True
    pkce = False

    def tenant_from_identity(self, body: Any) -> Any:
        workspace = body.get("workspace") if isinstance(body, dict) else None
        return workspace.get("id") if isinstance(workspace, dict) else None


class RegiondeskProvider(_WorkspaceFromIdentity):
    key = "regiondesk"
    name = "Regiondesk"
    endpoints = {
        "authorize_url": "https://{app_host}/oauth/authorize",
        "token_url": "https://{api_host}/oauth/token",
        "revoke_url": "https://{api_host}/auth/uninstall",
        "api_base_url": "https://{api_host}/",
        "identity_url": "https://{api_host}/me",
    }
    regions = {
        "us": {"app_host": "app.regiondesk.example", "api_host": "api.regiondesk.example"},
        "eu": {"app_host": "app.eu.regiondesk.example", "api_host": "api.eu.regiondesk.example"},
        "au": {"app_host": "app.au.regiondesk.example", "api_host": "api.au.regiondesk.example"},
    }
    default_region = "us"
    tenant_label = "Regiondesk workspace"
    tenant_pattern = re.compile(r"ws-[0-9]{1,12}", re.ASCII)
    deauthorize = DeauthorizeSignature(
        header="X-Hub-Signature", algorithm="sha1", prefix="sha1=", tenant_field="app_id"
    )


class HubdeskProvider(_WorkspaceFromIdentity):
    key = "hubdesk"
    name = "Hubdesk"
    endpoints = {
        "authorize_url": "https://app.hubdesk.example/oauth/authorize",
        "token_url": "https://api.hubdesk.example/oauth/token",
        "api_base_url": "https://api.hubdesk.example/api/",
        "identity_url": "https://api.hubdesk.example/api/me",
    }
    revocation = Revocation("none")
    tenant_response_field = "hub_id"
    tenant_pattern = re.compile(r"[0-9]{1,12}|ws-[0-9]{1,12}", re.ASCII)


def regiondesk_settings(base: str) -> dict[str, str]:
    """Endpoint overrides pointing Regiondesk at the sandbox served at ``base``: the host
    is the region's ``{api_host}`` (which :func:`registered` maps per region), the path
    keeps the profile's ``{region}`` segment."""
    urls = profile_settings(base, REGIONDESK_PROFILE)
    return {name: re.sub(r"^http://[^/]+", "http://{api_host}", url) for name, url in urls.items()}


@contextlib.contextmanager
def registered(sandbox, settings, key: str, hosts: dict[str, str] | None = None) -> Iterator[Any]:
    """Serve ``key``'s profile, register its client-side definition (Regiondesk's regions
    mapped to ``hosts``: region → ``host:port``), a sandbox client and a ProviderApp;
    yields the app. Everything is removed after."""
    profile = REGIONDESK_PROFILE if key == "regiondesk" else HUBDESK_PROFILE
    cls: type[Provider] = RegiondeskProvider if key == "regiondesk" else HubdeskProvider
    if key == "regiondesk":
        sandbox_host = sandbox.url.split("//", 1)[1]
        chosen = {region: sandbox_host for region in RegiondeskProvider.regions}
        chosen.update(hosts or {})
        cls = type(
            "LoopbackRegiondesk",
            (RegiondeskProvider,),
            {"regions": {r: {"app_host": h, "api_host": h} for r, h in chosen.items()}},
        )
        overrides = regiondesk_settings(sandbox.base)
    else:
        overrides = profile_settings(sandbox.base, profile)
    profiles.register(profile)
    registry[key] = cls()
    providers = {**settings.HELPDESK_OAUTH.get("PROVIDERS", {}), key: overrides}
    settings.HELPDESK_OAUTH = {**settings.HELPDESK_OAUTH, "PROVIDERS": providers}
    sandbox.state.register_client(key, f"{key}-client", SECRET, title=f"{profile.title} App")
    try:
        yield ProviderApp.objects.create(
            slug=key,
            provider=key,
            name=profile.title,
            client_id=f"{key}-client",
            client_secret=SECRET,
        )
    finally:
        profiles.unregister(key)
        registry.pop(key, None)


class Recorder:
    """A loopback HTTP server that answers 500 to everything and counts what it got:
    the host a forged value would name. ``hits`` is the number of requests."""

    def __init__(self) -> None:
        self.hits = 0
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                recorder.hits += 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
