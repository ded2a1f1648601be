"""In-memory state of the sandbox providers, shared by every request thread.

Everything the emulated authorization servers know lives in the module-level
:data:`state` singleton: registered clients, authorization codes, access and
refresh tokens, Kustomer private apps, a log of the requests they served,
queued fault injections and token lifetimes. By default nothing is persisted:
a process restart or :meth:`SandboxState.reset` starts from the clients
configured in ``settings.HELPDESK_OAUTH_SANDBOX``. With
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

import hashlib
import json
import math
import os
import secrets
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from . import jwt

GORGIAS = "gorgias"
KUSTOMER = "kustomer"
PROVIDERS = (GORGIAS, KUSTOMER)

DEFAULT_LIFETIMES = {GORGIAS: 86400, KUSTOMER: 86400}
DEFAULT_CODE_LIFETIME = 60


@dataclass(frozen=True)
class RateLimit:
    """A provider's documented request limit, emulated as a leaky bucket.

    ``capacity`` requests may arrive at once; the bucket drains ``capacity`` per
    ``window`` seconds. ``headers`` maps a response header to a template using
    ``{used}``, ``{remaining}`` and ``{limit}``, sent with every limited answer.
    """

    capacity: int
    window: float
    headers: tuple[tuple[str, str], ...] = ()
    source: str = ""


# Documented limits, applied to the token endpoint per tenant (the providers count per
# account / org; their token endpoints have no separately documented limit).
DOCUMENTED_RATE_LIMITS: dict[str, RateLimit] = {
    # developers.gorgias.com/reference/limitations: leaky bucket, OAuth2 apps 80 requests
    # per 20 s window per account; 429 with Retry-After and X-Gorgias-Account-Api-Call-Limit.
    GORGIAS: RateLimit(
        80,
        20.0,
        (("X-Gorgias-Account-Api-Call-Limit", "{used}/{limit}"),),
        "https://developers.gorgias.com/reference/limitations",
    ),
    # developer.kustomer.com/kustomer-api-docs/reference/rate-limiting: per org, 60 s
    # interval, 300 rpm on the smallest plan (Professional); x-ratelimit-* headers.
    KUSTOMER: RateLimit(
        300,
        60.0,
        (("x-ratelimit-limit", "{limit}"), ("x-ratelimit-remaining", "{remaining}")),
        "https://developer.kustomer.com/kustomer-api-docs/reference/rate-limiting",
    ),
}


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe string, used for codes, tokens, client ids and secrets."""
    return secrets.token_urlsafe(nbytes)


@dataclass
class SandboxClient:
    """An OAuth client (app) the sandbox provider knows.

    ``redirect_uris`` empty means any http(s) redirect URI is accepted.
    ``client_secret`` is ``None`` for a Kustomer private app whose secret was
    not generated yet: token requests fail with ``invalid_client``.
    ``org`` restricts a Kustomer private app to the org that registered it.
    """

    provider: str
    client_id: str
    client_secret: str | None = field(repr=False)
    title: str = "Sandbox App"
    redirect_uris: tuple[str, ...] = ()
    org: str | None = None


@dataclass
class KustomerApp:
    """A private app registered through the Kustomer apps API."""

    app: str
    name: str  # namespaced: "<app>_<orgId>"
    version: str
    title: str
    visibility: str
    org: str
    org_id: str
    client_id: str

    def as_json(self, client_secret: str | None = None) -> dict[str, Any]:
        """The apps API's ``available_app`` document (shape of the seed's responses)."""
        attributes: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "auth": {},
            "version": self.version,
            "visibility": self.visibility,
            "redirectUris": [],
            "clientId": self.client_id,
        }
        if client_secret is not None:
            attributes["clientSecret"] = client_secret
        return {
            "data": {
                "type": "available_app",
                "id": f"{self.name}-{self.version}",
                "attributes": attributes,
            }
        }


@dataclass
class AuthorizationCode:
    """An issued authorization code and everything it is bound to."""

    code: str = field(repr=False)
    provider: str
    client_id: str
    redirect_uri: str
    tenant: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issuer: str
    expires_at: float
    used: bool = False
    # Tokens issued on first use, revoked if the code is replayed (RFC 6749 §4.1.2).
    issued_tokens: list[str] = field(default_factory=list, repr=False)


@dataclass
class IssuedToken:
    """An access or refresh token.

    ``expires_at`` is ``None`` for tokens that never expire (refresh tokens).
    ``spent`` marks a rotated Kustomer refresh token; ``revoked`` a revoked one.
    ``family`` groups every token descending from one authorization code.
    """

    token: str = field(repr=False)
    kind: str  # "access" or "refresh"
    provider: str
    client_id: str
    tenant: str
    scope: str
    issued_at: float
    expires_at: float | None
    family: str
    revoked: bool = False
    spent: bool = False

    def usable(self, now: float) -> bool:
        """Not revoked, not spent, not expired at ``now``."""
        if self.revoked or self.spent:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass
class Fault:
    """A queued fault; see :meth:`SandboxState.inject`."""

    endpoint: str
    status: int | None
    headers: dict[str, str]
    body: Any
    delay: float
    times: int
    provider: str | None = None
    tenant: str | None = None
    #: Seconds between the bytes of the answer's body (0: sent at once).
    drip: float = 0.0
    #: Body bytes of the last dripped answer handed to the server so far, and its length.
    sent: int = 0
    length: int = 0

    def matches(self, endpoint: str, provider: str | None, tenant: str | None) -> bool:
        """Whether this fault applies to a request on ``endpoint``."""
        return (
            self.endpoint in (endpoint, "*")
            and self.provider in (None, provider)
            and self.tenant in (None, tenant)
        )


@dataclass
class TokenReshape:
    """A queued change of successful token answers; see
    :meth:`SandboxState.reshape_token_response`."""

    reshape: Callable[[dict[str, Any]], Any] | dict[str, Any]
    times: int
    provider: str | None = None

    def apply(self, body: dict[str, Any]) -> Any:
        """The answer to send instead of ``body``."""
        if callable(self.reshape):
            return self.reshape(dict(body))
        return {**body, **self.reshape}


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
        access-token lifetime in seconds per provider (``{"gorgias": 86400, "kustomer": 86400}``).
    ``code_lifetime``
        authorization-code lifetime in seconds (60).
    ``now``
        the clock, a callable returning epoch seconds (default :func:`time.time`).
        Replace it, or call :meth:`advance`, to expire codes and tokens without sleeping.
    ``send_iss``
        append RFC 9207's ``iss`` to authorization responses (default ``False``).
    ``token_delay``
        seconds every token request sleeps before answering (for benchmarks).
    ``reuse_detection``
        when ``True``, reusing a spent Kustomer refresh token also revokes every
        token of its family (RFC 9700 §4.14.2); default ``False``: only the
        reused token is refused.
    ``counters``
        a :class:`collections.Counter` of issued things (``codes``,
        ``access_tokens``, ``refresh_tokens``, ``rotations``, ``revocations``, ``replays``).
    ``rate_limits_enabled``
        answer token requests beyond the provider's documented limit with ``429`` and
        ``Retry-After`` (default ``False``; ``HELPDESK_OAUTH_SANDBOX["RATE_LIMITS"] = True``
        turns it on). ``rate_limits`` holds the :class:`RateLimit` per provider
        (:data:`DOCUMENTED_RATE_LIMITS`); replace one to test with a small bucket.
    ``signing_key``
        the RSA key signing Gorgias's RS256 JWTs (read-only; :attr:`public_jwks` is
        what the JWKS endpoint publishes).

    To test a client against odd but successful token answers, use
    :meth:`reshape_token_response`: the grant really happens (a Kustomer refresh
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
            self._clients: dict[tuple[str, str], SandboxClient] = {}
            self._api_keys: dict[str, dict[str, Any]] = {}
            self._settings_loaded = False
            self.state_file: str | None = None
            self.codes: dict[str, AuthorizationCode] = {}
            self.access_tokens: dict[str, IssuedToken] = {}
            self.refresh_tokens: dict[str, IssuedToken] = {}
            self.kustomer_apps: dict[str, KustomerApp] = {}
            self.requests: list[dict[str, Any]] = []
            self.counters: Counter[str] = Counter()
            self.faults: list[Fault] = []
            self.reshapes: list[TokenReshape] = []
            self.lifetimes: dict[str, int] = dict(DEFAULT_LIFETIMES)
            self.code_lifetime: int = DEFAULT_CODE_LIFETIME
            self.now: Callable[[], float] = time.time
            self.send_iss = False
            self.token_delay = 0.0
            self.reuse_detection = False
            self.rate_limits_enabled = False
            self.rate_limits: dict[str, RateLimit] = dict(DOCUMENTED_RATE_LIMITS)
            self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
            # (mtime, size, inode) of STATE_FILE when this process last read or wrote it.
            self._file_stamp: tuple[int, int, int] | None = None
            # Signs the Gorgias JWTs (RS256); made on first use (RSA key generation takes
            # ~50 ms), a new one per reset so old tokens stop verifying.
            self._signing_key: rsa.RSAPrivateKey | None = None

    @property
    def signing_key(self) -> rsa.RSAPrivateKey:
        """The RSA key signing Gorgias's JWTs; its public half is at the JWKS endpoint."""
        with self._lock:
            self._load_settings()
            if self._signing_key is None:
                self._signing_key = jwt.new_key()
            return self._signing_key

    @property
    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5) verifying the sandbox's JWTs: ``{"keys": [jwk]}``."""
        return {"keys": [jwt.public_jwk(self.signing_key.public_key())]}

    @property
    def lock(self) -> threading.RLock:
        """The lock guarding every compound read-modify-write on this state."""
        return self._lock

    def _load_settings(self) -> None:
        # Lazily, so override_settings / the settings fixture reach us after a reset().
        if self._settings_loaded:
            if self.state_file and self._stat_state_file() != self._file_stamp:
                # Another process (helpdesk_oauth_sandbox_client) registered clients.
                self._merge_clients_from_file(self.state_file)
            return
        from django.conf import settings

        config = getattr(settings, "HELPDESK_OAUTH_SANDBOX", None) or {}
        self.state_file = self._state_file_override or config.get("STATE_FILE") or None
        if config.get("RATE_LIMITS"):
            self.rate_limits_enabled = True
        if self.state_file and os.path.exists(self.state_file):
            self._restore(self.state_file)
        for entry in config.get("CLIENTS", ()):
            client = SandboxClient(
                provider=entry["provider"],
                client_id=entry["client_id"],
                client_secret=entry.get("client_secret"),
                title=entry.get("title", "Sandbox App"),
                redirect_uris=tuple(entry.get("redirect_uris") or ()),
                org=entry.get("org"),
            )
            self._clients.setdefault((client.provider, client.client_id), client)
            if client.provider == KUSTOMER and entry.get("app_name"):
                # A client declared as an already-registered Kustomer app, so the apps
                # API can rotate its secret (e.g. the example project's demo app).
                name = entry["app_name"]
                self.kustomer_apps.setdefault(
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
            self._api_keys.setdefault(key, dict(info))
        self._settings_loaded = True

    # -- persistence (optional) ------------------------------------------------

    def save(self) -> None:
        """Write clients, tokens and Kustomer apps to ``STATE_FILE`` (if one is set).

        Atomic (a temporary file renamed over the old one); codes, the request
        log and faults are not kept.
        """
        with self._lock:
            self._load_settings()
            if not self.state_file:
                return
            data = {
                "clients": [asdict(c) for c in self._clients.values()],
                "access_tokens": [asdict(t) for t in self.access_tokens.values()],
                "refresh_tokens": [asdict(t) for t in self.refresh_tokens.values()],
                "kustomer_apps": [asdict(a) for a in self.kustomer_apps.values()],
                "signing_key": jwt.key_to_pem(self.signing_key),
            }
            directory = os.path.dirname(os.path.abspath(self.state_file))
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sandbox-state-")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out)
            os.replace(tmp, self.state_file)
            self._file_stamp = self._stat_state_file()

    def _stat_state_file(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.state_file or "")
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    @staticmethod
    def _read_clients(data: dict[str, Any]) -> list[SandboxClient]:
        return [
            SandboxClient(**{**c, "redirect_uris": tuple(c["redirect_uris"])})
            for c in data["clients"]
        ]

    def _merge_clients_from_file(self, path: str) -> None:
        """Take the clients another process wrote to ``path``; this process keeps its tokens.

        Only clients are merged (the file's win): the sandbox client command changes
        nothing else, and this process already saved every token it issued.
        """
        stamp = self._stat_state_file()
        try:
            with open(path) as source:
                clients = self._read_clients(json.load(source))
        except (OSError, ValueError, KeyError, TypeError):
            return  # being replaced or damaged: try again on the next request
        self._clients.update({(c.provider, c.client_id): c for c in clients})
        self._file_stamp = stamp

    def _restore(self, path: str) -> None:
        stamp = self._stat_state_file()
        try:
            with open(path) as source:
                data = json.load(source)
            clients = self._read_clients(data)
            access = [IssuedToken(**t) for t in data["access_tokens"]]
            refresh = [IssuedToken(**t) for t in data["refresh_tokens"]]
            apps = [KustomerApp(**a) for a in data["kustomer_apps"]]
            # A file written before the RS256 keys has none: a new key is made then.
            pem = data.get("signing_key")
            signing_key = jwt.key_from_pem(pem) if pem else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return  # a damaged file: start afresh rather than fail every request
        self._clients = {(c.provider, c.client_id): c for c in clients}
        self.access_tokens = {t.token: t for t in access}
        self.refresh_tokens = {t.token: t for t in refresh}
        self.kustomer_apps = {a.name: a for a in apps}
        self._signing_key = signing_key
        self._file_stamp = stamp

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
        """Register (or replace) an OAuth client of ``provider``; returns it."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown sandbox provider {provider!r}")
        client = SandboxClient(provider, client_id, client_secret, title, tuple(redirect_uris), org)
        with self._lock:
            self._load_settings()
            self._clients[(provider, client_id)] = client
        return client

    def clients(self, provider: str | None = None) -> list[SandboxClient]:
        """Every registered client (of ``provider``), sorted by provider and client id."""
        with self._lock:
            self._load_settings()
            return sorted(
                (c for c in self._clients.values() if provider in (None, c.provider)),
                key=lambda c: (c.provider, c.client_id),
            )

    def get_client(self, provider: str, client_id: str | None) -> SandboxClient | None:
        """The registered client, or ``None``."""
        if not client_id:
            return None
        with self._lock:
            self._load_settings()
            return self._clients.get((provider, client_id))

    def set_client_secret(self, provider: str, client_id: str, client_secret: str | None) -> None:
        """Replace a client's secret at once (the old one stops working)."""
        with self._lock:
            self._load_settings()
            self._clients[(provider, client_id)].client_secret = client_secret

    def add_api_key(self, key: str, org: str, org_id: str, roles: Iterable[str]) -> None:
        """Register a Kustomer admin API key for the apps API."""
        with self._lock:
            self._load_settings()
            self._api_keys[key] = {"org": org, "org_id": org_id, "roles": list(roles)}

    def get_api_key(self, key: str | None) -> dict[str, Any] | None:
        """What a Kustomer API key grants (``org``, ``org_id``, ``roles``), or ``None``."""
        if not key:
            return None
        with self._lock:
            self._load_settings()
            return self._api_keys.get(key)

    # -- codes and tokens --------------------------------------------------------

    def create_code(self, **binding: Any) -> AuthorizationCode:
        """Issue a single-use code bound to ``binding`` (the :class:`AuthorizationCode` fields)."""
        with self._lock:
            code = AuthorizationCode(
                code=new_secret(), expires_at=self.now() + self.code_lifetime, **binding
            )
            self.codes[code.code] = code
            self.counters["codes"] += 1
            return code

    def add_token(self, token: IssuedToken) -> IssuedToken:
        """Store an issued access or refresh token."""
        with self._lock:
            store = self.access_tokens if token.kind == "access" else self.refresh_tokens
            store[token.token] = token
            self.counters[f"{token.kind}_tokens"] += 1
            return token

    def find_access_token(self, token: str | None) -> IssuedToken | None:
        """The access token record if ``token`` is currently usable, else ``None``."""
        if not token:
            return None
        with self._lock:
            record = self.access_tokens.get(token)
            return record if record is not None and record.usable(self.now()) else None

    def revoke_token(self, token: str) -> bool:
        """Revoke one access or refresh token; ``True`` if it existed."""
        with self._lock:
            record = self.refresh_tokens.get(token) or self.access_tokens.get(token)
            if record is None:
                return False
            record.revoked = True
            self.counters["revocations"] += 1
            return True

    def invalidate_refresh_token(self, token: str) -> bool:
        """Revoke a refresh token as if the customer uninstalled the app; ``True`` if it existed."""
        with self._lock:
            if token not in self.refresh_tokens:
                return False
            return self.revoke_token(token)

    def revoke_family(self, family: str) -> int:
        """Revoke every token descending from one authorization code; returns how many."""
        with self._lock:
            records = [
                t
                for t in (*self.access_tokens.values(), *self.refresh_tokens.values())
                if t.family == family and not t.revoked
            ]
            for record in records:
                record.revoked = True
            self.counters["revocations"] += len(records)
            return len(records)

    def revoke_all(
        self, tenant: str, provider: str | None = None, *, access_tokens: bool = False
    ) -> int:
        """Revoke every refresh token of ``tenant`` (a customer uninstalling on the provider side).

        With ``access_tokens=True`` the access tokens stop working too (Gorgias
        says they stay valid until they expire, so the default keeps them).
        Returns how many tokens were revoked.
        """
        with self._lock:
            stores = [self.refresh_tokens] + ([self.access_tokens] if access_tokens else [])
            records = [
                t
                for store in stores
                for t in store.values()
                if t.tenant == tenant and provider in (None, t.provider) and not t.revoked
            ]
            for record in records:
                record.revoked = True
            self.counters["revocations"] += len(records)
            return len(records)

    def live_refresh_tokens(
        self, provider: str | None = None, tenant: str | None = None
    ) -> list[IssuedToken]:
        """Refresh tokens that would still be accepted, optionally filtered."""
        with self._lock:
            return [
                t
                for t in self.refresh_tokens.values()
                if t.usable(self.now())
                and provider in (None, t.provider)
                and tenant in (None, t.tenant)
            ]

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward by ``seconds`` (expires codes and tokens)."""
        with self._lock:
            previous = self.now
            self.now = lambda: previous() + seconds

    # -- Kustomer apps API -------------------------------------------------------

    def register_kustomer_app(
        self, *, app: str, version: str, title: str, visibility: str, org: str, org_id: str
    ) -> tuple[KustomerApp, bool]:
        """Register a Kustomer app (a new version keeps its client); returns ``(app, created)``.

        The app becomes a Kustomer OAuth client without a secret until
        :meth:`generate_kustomer_secret` runs. Raises ``ValueError`` if this
        exact name and version already exist.
        """
        name = f"{app}_{org_id}" if visibility == "private" else app
        with self._lock:
            self._load_settings()
            existing = self.kustomer_apps.get(name)
            if existing is not None:
                if existing.version == version or existing.org_id != org_id:
                    raise ValueError(f"app {name}-{version} already exists")
                existing.version, existing.title = version, title
                self._clients[(KUSTOMER, existing.client_id)].title = title
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
            self.kustomer_apps[name] = registered
            self._clients[(KUSTOMER, registered.client_id)] = SandboxClient(
                provider=KUSTOMER,
                client_id=registered.client_id,
                client_secret=None,
                title=title,
                org=org if visibility == "private" else None,
            )
            return registered, True

    def generate_kustomer_secret(self, name: str) -> str:
        """Give a registered Kustomer app a new client secret, replacing the previous one."""
        with self._lock:
            secret = new_secret()
            self.set_client_secret(KUSTOMER, self.kustomer_apps[name].client_id, secret)
            self.counters["secrets"] += 1
            return secret

    # -- request log ---------------------------------------------------------------

    def log_request(self, **entry: Any) -> dict[str, Any]:
        """Append one entry to :attr:`requests` and return it (views fill in ``status`` later)."""
        with self._lock:
            entry.setdefault("time", self.now())
            self.requests.append(entry)
            return entry

    def matching_requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Logged requests whose fields equal every given filter, e.g. ``endpoint="token"``."""
        with self._lock:
            return [r for r in self.requests if all(r.get(k) == v for k, v in filters.items())]

    def count(self, **filters: Any) -> int:
        """How many logged requests match, e.g. ``count(endpoint="token", tenant="acme")``."""
        return len(self.matching_requests(**filters))

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
            limit = self.rate_limits.get(provider)
            if not self.rate_limits_enabled or limit is None:
                return None, {}
            now = self.now()
            rate = limit.capacity / limit.window  # requests drained per second
            level, since = self._buckets.get((provider, key), (0.0, now))
            level = max(0.0, level - (now - since) * rate)
            retry_after = None
            if level + 1 > limit.capacity:
                retry_after = (level + 1 - limit.capacity) / rate
            else:
                level += 1
            self._buckets[(provider, key)] = (level, now)
            used = min(limit.capacity, math.ceil(level))
            values = {"used": used, "remaining": limit.capacity - used, "limit": limit.capacity}
            headers = {name: template.format(**values) for name, template in limit.headers}
            return retry_after, headers

    # -- faults --------------------------------------------------------------------

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
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, endpoint: str, provider: str | None, tenant: str | None) -> Fault | None:
        """Consume one use of the first queued fault matching this request, if any."""
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(endpoint, provider, tenant):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
            return None

    # -- reshaped token answers ------------------------------------------------------

    def reshape_token_response(
        self,
        reshape: Callable[[dict[str, Any]], Any] | dict[str, Any],
        times: int = 1,
        provider: str | None = None,
    ) -> TokenReshape:
        """Change the JSON of the next ``times`` successful token answers (code or refresh).

        The grant itself happens as usual (codes are used up, Kustomer refresh
        tokens spent and rotated); only the answer differs. ``reshape`` is a dict
        merged over the real body (``{"expires_in": None}`` sends ``null``), or a
        function of the real body (a copy) returning the new body: any JSON
        value (a list, a string…) is sent as JSON, a Django ``HttpResponse`` as is
        (a non-JSON 200). Error answers are not reshaped and do not use one up.
        ``provider`` narrows it to ``"gorgias"`` or ``"kustomer"``.
        """
        shape = TokenReshape(reshape, times, provider)
        with self._lock:
            self.reshapes.append(shape)
        return shape

    def take_reshape(self, provider: str) -> TokenReshape | None:
        """Consume one use of the first queued reshape for ``provider``, if any."""
        with self._lock:
            for shape in self.reshapes:
                if shape.times > 0 and shape.provider in (None, provider):
                    shape.times -= 1
                    if shape.times <= 0:
                        self.reshapes.remove(shape)
                    return shape
            return None

    # -- identities ------------------------------------------------------------------

    def user_for(self, provider: str, tenant: str) -> dict[str, Any]:
        """The fake user who consents for ``tenant``: stable ``id``, ``name``, ``email``."""
        digest = hashlib.sha256(f"{provider}:{tenant}".encode()).hexdigest()
        user_id: Any = int(digest[:6], 16) if provider == GORGIAS else digest[:24]
        return {"id": user_id, "name": "Sandbox Admin", "email": f"admin@{tenant}.example.com"}

    def issuer_for(
        self, base_url: str, provider: str, tenant: str | None = None, kustomer: str = "per_org"
    ) -> str:
        """The ``iss`` the sandbox served at ``base_url`` sends (:func:`.endpoints.issuer`)."""
        from .endpoints import issuer

        return issuer(base_url, provider, tenant, kustomer=kustomer)


state = SandboxState()
"""The process-wide sandbox state used by every sandbox view."""
