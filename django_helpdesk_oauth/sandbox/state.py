"""In-memory state of the sandbox providers, shared by every request thread.

Everything the emulated authorization servers know lives in the module-level
:data:`state` singleton. It joins parts with one responsibility each
(``sandbox/store/``): the client registry (clients, API keys, Kustomer private
apps), codes and tokens, the request log, faults and reshaped answers, rate
limits, the signing key and the optional state file. How each provider behaves
is not here: that is its profile (``sandbox/profiles/``).

By default nothing is persisted: a process restart or :meth:`SandboxState.reset`
starts from the clients configured in ``settings.HELPDESK_OAUTH_SANDBOX``. With
``HELPDESK_OAUTH_SANDBOX["STATE_FILE"]`` set, the clients, tokens and Kustomer
apps are written there (JSON) after every token and apps-API request and read
back at start, so a development server's restart does not lose them; clients
another process writes there (``manage.py helpdesk_oauth_sandbox_client add``)
are picked up by a running server on its next request.

Tests use the public attributes and methods here to arrange scenarios (revoke a
customer's tokens, make the provider slow or failing, move the clock) and to
assert on what the client under test sent (:attr:`SandboxState.requests`,
:meth:`SandboxState.count`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

# Aliased: SandboxState has a ``requests`` attribute (the request log).
import requests as http
from cryptography.hazmat.primitives.asymmetric import rsa

from . import identities, profiles
from .profile import Profile, RateLimit
from .store.clients import ClientRegistry
from .store.keys import SigningKeys
from .store.persistence import StateFile
from .store.records import (
    AuthorizationCode,
    Fault,
    IssuedToken,
    KustomerApp,
    SandboxClient,
    TokenReshape,
    new_secret,
)
from .store.tokens import TokenStore
from .store.traffic import FaultQueue, RateLimiter, RequestLog

__all__ = [
    "DOCUMENTED_RATE_LIMITS",
    "AuthorizationCode",
    "Fault",
    "IssuedToken",
    "KustomerApp",
    "RateLimit",
    "SandboxClient",
    "SandboxState",
    "TokenReshape",
    "new_secret",
    "state",
]

# The built-in providers' keys (a profile registered at run time is served as well).
GORGIAS = "gorgias"
KUSTOMER = "kustomer"
PROVIDERS = tuple(p.key for p in profiles.BUILTIN)

DEFAULT_LIFETIMES = {p.key: p.access.lifetime for p in profiles.BUILTIN}
DEFAULT_CODE_LIFETIME = 60
#: Documented limits of the built-in providers, applied to the token endpoint per tenant.
DOCUMENTED_RATE_LIMITS: dict[str, RateLimit] = {
    p.key: p.rate_limit for p in profiles.BUILTIN if p.rate_limit is not None
}


class SandboxState:
    """Thread-safe in-memory store of the sandbox providers.

    Public attributes tests may read or set:

    ``requests``
        one dict per token, revoke, API and apps-API request, oldest first, with
        ``provider``, ``tenant``, ``endpoint`` (``"token"``, ``"revoke"``,
        ``"api"``, ``"apps"``), ``grant_type``, ``client_auth`` (``"basic"``,
        ``"body"``, ``"both"``, ``"none"``), ``client_id``, ``token`` and
        ``refresh_token`` (the posted values, for revoke and refresh), ``path``,
        ``method`` and ``status`` (the HTTP status answered). Never a client secret.
    ``lifetimes``
        access-token lifetime in seconds per provider (``{"gorgias": 86400, "kustomer": 86400}``);
        a provider missing here uses its profile's (``None``: never expires).
        ``HELPDESK_OAUTH_SANDBOX["ACCESS_TOKEN_LIFETIME"]`` (seconds) sets every expiring
        provider's at start; a lifetime the client requests (Zendesk's ``expires_in``) wins.
    ``code_lifetime``
        authorization-code lifetime in seconds (60).
    ``now``
        the clock, a callable returning epoch seconds (default :func:`time.time`).
        Replace it, or call :meth:`advance`, to expire codes and tokens without sleeping.
    ``send_iss``
        append RFC 9207's ``iss`` to authorization responses (default ``False``).
    ``consent_by_admin``
        whether the user on the consent page is an administrator of the tenant (default
        ``True``); ``False`` makes a profile with ``admin_consent`` (Front) refuse the
        Allow with its error, as the provider does for a non-admin.
    ``home_regions``
        ``(provider, tenant)`` → the region a data-centre profile (Zoho) names in the
        authorization response (default: the region of the authorize path).
    ``token_delay``
        seconds every token request sleeps before answering (for benchmarks).
    ``reuse_detection``
        when ``True``, reusing a spent (rotated) refresh token also revokes every
        token of its family (RFC 9700 §4.14.2), unless the profile decides;
        default ``False``: only the reused token is refused.
    ``counters``
        a :class:`collections.Counter` of issued things (``codes``,
        ``access_tokens``, ``refresh_tokens``, ``rotations``, ``revocations``, ``replays``).
    ``rate_limits_enabled``
        answer token requests beyond the provider's documented limit with ``429`` and
        ``Retry-After`` (default ``False``; ``HELPDESK_OAUTH_SANDBOX["RATE_LIMITS"] = True``
        turns it on). ``rate_limits`` holds the :class:`RateLimit` per provider
        (the profiles'); replace one to test with a small bucket.
    ``signing_key``
        the RSA key signing the RS256 JWTs (read-only; :attr:`public_jwks` is
        what the JWKS endpoints publish).

    To test a client against odd but successful token answers, use
    :meth:`reshape_token_response`: the grant really happens (a rotated refresh
    token is spent and a new one issued, a code is used up), only the JSON the
    client receives is changed, e.g.
    ``state.reshape_token_response({"expires_in": "3600.0"})``.
    """

    def __init__(self, state_file: str | None = None) -> None:
        self._lock = threading.RLock()
        # A STATE_FILE chosen by the caller (the sandbox client command) over the setting's.
        self._state_file_override = state_file
        self.reset()

    # -- lifecycle -------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything and restore the defaults; settings clients are re-read lazily."""
        with self._lock:
            clock = self._clock
            self.counters: Counter[str] = Counter()
            self.registry = ClientRegistry(self._lock)
            self.tokens = TokenStore(self._lock, clock, self.counters)
            self.log = RequestLog(self._lock, clock)
            self.queue = FaultQueue(self._lock)
            self.limiter = RateLimiter(self._lock, clock)
            self.keys = SigningKeys(self._lock)
            self.file: StateFile | None = None
            self._settings_loaded = False
            self.lifetimes: dict[str, int | None] = {
                p.key: p.access.lifetime for p in profiles.all_profiles()
            }
            self.code_lifetime: int = DEFAULT_CODE_LIFETIME
            self.now: Callable[[], float] = time.time
            self.send_iss = False
            # (provider, tenant) → the data centre the tenant's users live in (Zoho).
            self.home_regions: dict[tuple[str, str], str] = {}
            # False: the user on the consent page is not an administrator of the tenant
            # (a profile with admin_consent then refuses the Allow, as Front does).
            self.consent_by_admin = True
            self.token_delay = 0.0
            self.reuse_detection = False
            self.rate_limits_enabled = False
            self.rate_limits: dict[str, RateLimit] = {
                p.key: p.rate_limit for p in profiles.all_profiles() if p.rate_limit is not None
            }

    def _clock(self) -> float:
        # The parts read the time through here, so replacing ``now`` reaches them.
        return self.now()

    @property
    def lock(self) -> threading.RLock:
        """The lock guarding every compound read-modify-write on this state."""
        return self._lock

    # -- what tests read (the parts' stores under their historical names) --------

    @property
    def codes(self) -> dict[str, AuthorizationCode]:
        return self._token_store().codes

    @property
    def access_tokens(self) -> dict[str, IssuedToken]:
        return self._token_store().access_tokens

    @property
    def refresh_tokens(self) -> dict[str, IssuedToken]:
        return self._token_store().refresh_tokens

    def _token_store(self) -> TokenStore:
        # Settings (and STATE_FILE) first: after a restart the first request may be an
        # API call with an access token issued before it, which only the file knows.
        with self._lock:
            self._load_settings()
            return self.tokens

    @property
    def kustomer_apps(self) -> dict[str, KustomerApp]:
        with self._lock:
            self._load_settings()
            return self.registry.apps

    @property
    def _clients(self) -> dict[tuple[str, str], SandboxClient]:
        with self._lock:
            self._load_settings()
            return self.registry.clients

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.log.entries

    @property
    def faults(self) -> list[Fault]:
        return self.queue.faults

    @property
    def reshapes(self) -> list[TokenReshape]:
        return self.queue.reshapes

    @property
    def state_file(self) -> str | None:
        with self._lock:
            self._load_settings()
            return self.file.path if self.file else None

    @property
    def signing_key(self) -> rsa.RSAPrivateKey:
        """The RSA key signing the JWTs; its public half is at the JWKS endpoints."""
        with self._lock:
            self._load_settings()
            return self.keys.current()

    @property
    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5) verifying the sandbox's JWTs: ``{"keys": [jwk]}``."""
        with self._lock:
            self._load_settings()
            return self.keys.jwks()

    def lifetime(self, profile: Profile) -> int | None:
        """The access-token lifetime in seconds for ``profile`` (``None``: never expires)."""
        with self._lock:
            self._load_settings()
            return self.lifetimes.get(profile.key, profile.access.lifetime)

    # -- settings and persistence -------------------------------------------------

    def _load_settings(self) -> None:
        # Lazily, so override_settings / the settings fixture reach us after a reset().
        if self._settings_loaded:
            if self.file is not None and self.file.changed():
                # Another process (helpdesk_oauth_sandbox_client) registered clients.
                self.file.merge_clients(self.registry)
            return
        from django.conf import settings

        config = getattr(settings, "HELPDESK_OAUTH_SANDBOX", None) or {}
        path = self._state_file_override or config.get("STATE_FILE") or None
        self.file = StateFile(path) if path else None
        if config.get("RATE_LIMITS"):
            self.rate_limits_enabled = True
        lifetime = config.get("ACCESS_TOKEN_LIFETIME")
        if isinstance(lifetime, int) and not isinstance(lifetime, bool) and lifetime >= 1:
            # Every expiring access token lives this long (e.g. 120 s, to watch a background
            # refresh); never-expiring ones stay so. Other values: check E002 refuses them.
            self.lifetimes.update(
                {key: lifetime for key, value in self.lifetimes.items() if value is not None}
            )
        if self.file is not None:
            self.file.restore(self.registry, self.tokens, self.keys)
        for entry in config.get("CLIENTS", ()):
            client = self.registry.add(
                SandboxClient(
                    provider=entry["provider"],
                    client_id=entry["client_id"],
                    client_secret=entry.get("client_secret"),
                    title=entry.get("title", "Sandbox App"),
                    redirect_uris=tuple(entry.get("redirect_uris") or ()),
                    org=entry.get("org"),
                ),
                replace=False,
            )
            if entry.get("app_name"):
                # A client declared as an already-registered app (Kustomer's apps API), so
                # the apps API can rotate its secret (e.g. the example project's demo app).
                name = entry["app_name"]
                self.registry.apps.setdefault(
                    name,
                    KustomerApp(
                        app=name.rsplit("_", 1)[0],
                        name=name,
                        version="0.0.1",
                        title=client.title,
                        visibility="private",
                        org=entry.get("org") or "",
                        org_id=entry.get("org_id") or "",
                        client_id=client.client_id,
                    ),
                )
        for key, info in (config.get("API_KEYS") or {}).items():
            self.registry.add_api_key(key, dict(info), replace=False)
        self._settings_loaded = True

    def save(self) -> None:
        """Write clients, tokens and Kustomer apps to ``STATE_FILE`` (if one is set).

        Atomic (a temporary file renamed over the old one); codes, the request
        log and faults are not kept.
        """
        with self._lock:
            self._load_settings()
            if self.file is not None:
                self.file.save(self.registry, self.tokens, self.keys)

    # -- clients ---------------------------------------------------------------

    def register_client(
        self,
        provider: str,
        client_id: str,
        client_secret: str | None,
        title: str = "Sandbox App",
        redirect_uris: Iterable[str] = (),
        org: str | None = None,
    ) -> SandboxClient:
        """Register (or replace) an OAuth client of ``provider``; returns it.

        Raises ``ValueError`` for a provider no profile serves.
        """
        if profiles.get(provider) is None:
            raise ValueError(f"unknown sandbox provider {provider!r}")
        client = SandboxClient(provider, client_id, client_secret, title, tuple(redirect_uris), org)
        with self._lock:
            self._load_settings()
            return self.registry.add(client)

    def clients(self, provider: str | None = None) -> list[SandboxClient]:
        """Every registered client (of ``provider``), sorted by provider and client id."""
        with self._lock:
            self._load_settings()
            return self.registry.listed(provider)

    def get_client(self, provider: str, client_id: str | None) -> SandboxClient | None:
        """The registered client, or ``None``."""
        with self._lock:
            self._load_settings()
            return self.registry.get(provider, client_id)

    def set_client_secret(self, provider: str, client_id: str, client_secret: str | None) -> None:
        """Replace a client's secret at once (the old one stops working)."""
        with self._lock:
            self._load_settings()
            self.registry.set_secret(provider, client_id, client_secret)

    def add_api_key(self, key: str, org: str, org_id: str, roles: Iterable[str]) -> None:
        """Register a Kustomer admin API key for the apps API."""
        with self._lock:
            self._load_settings()
            self.registry.add_api_key(key, {"org": org, "org_id": org_id, "roles": list(roles)})

    def get_api_key(self, key: str | None) -> dict[str, Any] | None:
        """What a Kustomer API key grants (``org``, ``org_id``, ``roles``), or ``None``."""
        if not key:
            return None
        with self._lock:
            self._load_settings()
            return self.registry.api_keys.get(key)

    def register_kustomer_app(
        self, *, app: str, version: str, title: str, visibility: str, org: str, org_id: str
    ) -> tuple[KustomerApp, bool]:
        """Register a Kustomer app (a new version keeps its client); returns ``(app, created)``.

        Raises ``ValueError`` if this exact name and version already exist.
        """
        with self._lock:
            self._load_settings()
            return self.registry.register_app(
                KUSTOMER,
                app=app,
                version=version,
                title=title,
                visibility=visibility,
                org=org,
                org_id=org_id,
            )

    def generate_kustomer_secret(self, name: str) -> str:
        """Give a registered Kustomer app a new client secret, replacing the previous one."""
        with self._lock:
            self._load_settings()
            secret = self.registry.generate_secret(KUSTOMER, name)
            self.counters["secrets"] += 1
            return secret

    # -- codes and tokens --------------------------------------------------------

    def create_code(self, **binding: Any) -> AuthorizationCode:
        """Issue a single-use code bound to ``binding`` (the :class:`AuthorizationCode` fields)."""
        return self._token_store().create_code(self.code_lifetime, **binding)

    def add_token(self, token: IssuedToken) -> IssuedToken:
        """Store an issued access or refresh token."""
        return self._token_store().add(token)

    def find_access_token(self, token: str | None) -> IssuedToken | None:
        """The access token record if ``token`` is currently usable, else ``None``."""
        return self._token_store().find_access(token)

    def revoke_token(self, token: str) -> bool:
        """Revoke one access or refresh token; ``True`` if it existed."""
        return self._token_store().revoke(token)

    def invalidate_refresh_token(self, token: str) -> bool:
        """Revoke a refresh token as if the customer uninstalled the app; ``True`` if it existed."""
        with self._lock:
            tokens = self._token_store()
            return token in tokens.refresh_tokens and tokens.revoke(token)

    def revoke_family(self, family: str) -> int:
        """Revoke every token descending from one authorization code; returns how many."""
        return self._token_store().revoke_family(family)

    def revoke_all(
        self, tenant: str, provider: str | None = None, *, access_tokens: bool = False
    ) -> int:
        """Revoke every refresh token of ``tenant`` (a customer uninstalling on the provider side).

        With ``access_tokens=True`` the access tokens stop working too (Gorgias
        says they stay valid until they expire, so the default keeps them).
        Returns how many tokens were revoked.
        """
        return self._token_store().revoke_all(tenant, provider, access_tokens)

    def send_deauthorize(
        self,
        provider: str,
        tenant: str,
        url: str,
        *,
        client_id: str | None = None,
        timeout: float = 10,
    ) -> http.Response:
        """Act as ``provider`` uninstalling the app for ``tenant`` on its side: every
        token of ``tenant`` stops working, then the profile's signed deauthorize
        webhook (:class:`~.profile.DeauthorizeWebhook`) is POSTed to ``url`` (the app's
        ``helpdesk_oauth:deauthorize`` URL) and its response returned.

        Signed with the secret of client ``client_id`` (default: the provider's only
        client). Logged as endpoint ``"deauthorize"`` with the status answered. Raises
        ``ValueError`` when the profile sends no webhook or the client is ambiguous,
        unknown or has no secret.
        """
        profile = profiles.get(provider)
        webhook = profile.deauthorize if profile is not None else None
        if webhook is None:
            raise ValueError(f"the sandbox {provider!r} sends no deauthorize webhook")
        candidates = [
            c for c in self.clients(provider) if client_id is None or c.client_id == client_id
        ]
        if len(candidates) != 1 or not candidates[0].client_secret:
            raise ValueError(f"no single {provider!r} client with a secret to sign with")
        client = candidates[0]
        self.revoke_all(tenant, provider, access_tokens=True)
        body = json.dumps(webhook.payload(tenant)).encode()
        headers = {
            "Content-Type": "application/json",
            webhook.header: webhook.sign(body, client.client_secret or ""),
        }
        response = http.post(url, data=body, headers=headers, timeout=timeout)
        self.log_request(
            provider=provider,
            tenant=tenant,
            endpoint="deauthorize",
            client_id=client.client_id,
            path=url,
            method="POST",
            status=response.status_code,
        )
        return response

    def live_refresh_tokens(
        self, provider: str | None = None, tenant: str | None = None
    ) -> list[IssuedToken]:
        """Refresh tokens that would still be accepted, optionally filtered."""
        return self._token_store().live_refresh(provider, tenant)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward by ``seconds`` (expires codes and tokens)."""
        with self._lock:
            previous = self.now
            self.now = lambda: previous() + seconds

    # -- request log ---------------------------------------------------------------

    def log_request(self, **entry: Any) -> dict[str, Any]:
        """Append one entry to :attr:`requests` and return it (views fill in ``status`` later)."""
        return self.log.log(**entry)

    def matching_requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Logged requests whose fields equal every given filter, e.g. ``endpoint="token"``."""
        return self.log.matching(**filters)

    def count(self, **filters: Any) -> int:
        """How many logged requests match, e.g. ``count(endpoint="token", tenant="acme")``."""
        return len(self.log.matching(**filters))

    # -- rate limits -----------------------------------------------------------------

    def rate_limit(self, provider: str, key: str) -> tuple[float | None, dict[str, str]]:
        """Count one token request of ``provider`` for ``key`` (the tenant, or the client).

        Returns ``(retry_after, headers)``: ``retry_after`` is ``None`` when the request
        is within :attr:`rate_limits` (or limits are off: :attr:`rate_limits_enabled`),
        else the seconds until one more request fits; ``headers`` are the provider's
        rate-limit headers for the answer. Uses :attr:`now`, so :meth:`advance` drains.
        """
        with self._lock:
            self._load_settings()
            profile = profiles.get(provider)
            default = profile.rate_limit if profile is not None else None
            limit = self.rate_limits.get(provider, default)
            if not self.rate_limits_enabled or limit is None:
                return None, {}
            return self.limiter.hit(limit, provider, key)

    # -- faults and reshaped answers ---------------------------------------------------

    def inject(
        self,
        endpoint: str = "token",
        status: int | None = 500,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
        times: int = 1,
        provider: str | None = None,
        tenant: str | None = None,
        drip: float = 0.0,
    ) -> Fault:
        """Queue a fault for the next ``times`` requests on ``endpoint``.

        ``endpoint`` is ``"token"``, ``"revoke"``, ``"api"``, ``"apps"``, ``"userinfo"``,
        ``"jwks"``, ``"discovery"`` or ``"*"``;
        ``provider`` / ``tenant`` narrow it. The request sleeps ``delay`` seconds,
        then answers ``status`` with ``headers`` (e.g. ``{"Retry-After": "3"}`` on a
        429) and ``body`` (a dict is sent as JSON; default ``{"error": ...}``).
        ``status=None`` or ``0`` only delays, then answers normally: a slow
        provider for client timeouts. ``drip`` > 0 streams the answer's body (the
        fault's, or with ``status=None`` the normal one) one byte every ``drip``
        seconds after the headers (with its full ``Content-Length``): a provider that
        keeps a client reading; the returned fault's ``sent`` / ``length`` then say
        how many body bytes went out before the client hung up. Faults are consumed
        in order.
        """
        fault = Fault(endpoint, status or None, dict(headers or {}), body, delay, times)
        fault.provider, fault.tenant, fault.drip = provider, tenant, drip
        return self.queue.add_fault(fault)

    def take_fault(self, endpoint: str, provider: str | None, tenant: str | None) -> Fault | None:
        """Consume one use of the first queued fault matching this request, if any."""
        return self.queue.take_fault(endpoint, provider, tenant)

    def reshape_token_response(
        self,
        reshape: Callable[[dict[str, Any]], Any] | dict[str, Any],
        times: int = 1,
        provider: str | None = None,
    ) -> TokenReshape:
        """Change the JSON of the next ``times`` successful token answers (code or refresh).

        The grant itself happens as usual (codes are used up, rotated refresh
        tokens spent and replaced); only the answer differs. ``reshape`` is a dict
        merged over the real body (``{"expires_in": None}`` sends ``null``), or a
        function of the real body (a copy) returning the new body: any JSON
        value (a list, a string…) is sent as JSON, a Django ``HttpResponse`` as is
        (a non-JSON 200). Error answers are not reshaped and do not use one up.
        ``provider`` narrows it to one provider key (``"gorgias"``, ``"kustomer"``…).
        """
        return self.queue.add_reshape(TokenReshape(reshape, times, provider))

    def take_reshape(self, provider: str) -> TokenReshape | None:
        """Consume one use of the first queued reshape for ``provider``, if any."""
        return self.queue.take_reshape(provider)

    # -- identities ------------------------------------------------------------------

    def user_for(self, provider: str, tenant: str) -> dict[str, Any]:
        """The fake user who consents for ``tenant``: stable ``id``, ``name``, ``email``."""
        profile = profiles.get(provider)
        return identities.user_for(provider, tenant, profile.user_id if profile else "hex")

    def issuer_for(
        self, base_url: str, provider: str, tenant: str | None = None, kustomer: str = "per_org"
    ) -> str:
        """The ``iss`` the sandbox served at ``base_url`` sends (:func:`.endpoints.issuer`)."""
        from .endpoints import issuer

        return issuer(base_url, provider, tenant, kustomer=kustomer)


state = SandboxState()
"""The process-wide sandbox state used by every sandbox view."""
