"""The sandbox profile model: how one emulated provider *behaves*, as data.

One :class:`Profile` per provider (``sandbox/profiles/``) feeds one generic
engine (``grants``, ``views``): the engine has no provider names in it. A
profile is written from the provider's documentation (PROVIDERS.md), never
derived from the client-side definition in ``django_helpdesk_oauth.providers``
(an import-linter contract keeps the sandbox from importing it), so a test run
against the sandbox checks the client against the provider, not against itself.

Paths in a profile are templates relative to ``{base}/{key}/`` (``base`` is where
the sandbox is mounted). Loopback has no subdomains, so a provider's per-tenant
host becomes a ``{tenant}`` path segment (``acme.gorgias.com/oauth/token`` →
``gorgias/acme/oauth/token``) and a region host a ``{region}`` segment; a
template without ``{tenant}`` is a global host (the tenant comes from the
consent page, then from the token).

Slots other providers need (regions, ``expires_at``, ``sometimes`` rotation,
access-token revocation by ``DELETE``, the deauthorize webhook) are typed here and
implemented by the engine, so adding Zendesk, HubSpot, Intercom, Front, Help Scout
or Zoho Desk is one more profile module.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ClientAuth = Literal["client_secret_basic", "client_secret_post"]
BodyFormat = Literal["form", "json"]
#: What a token answer says about the access token's lifetime:
#: ``expires_in`` (seconds), ``expires_in_zero`` (``0`` although it expires: read the JWT
#: ``exp``), ``absent`` (no field: a JWT ``exp`` only), ``expires_at`` (epoch seconds).
#: A lifetime of ``None`` never expires and sends no field whatever this says.
LifetimeField = Literal["expires_in", "expires_in_zero", "absent", "expires_at"]
Rotation = Literal["always", "sometimes", "never"]
RevocationKind = Literal["rfc7009", "access_token_request", "none"]


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


@dataclass(frozen=True)
class AuthServer:
    """Where one set of authorize + token endpoints lives (a provider may have several).

    ``authorize`` / ``token`` are path templates; with ``{tenant}`` the tenant is
    known from the URL (per-tenant host), without it the consent page asks for it
    (a global host: Kustomer's seed endpoints, a workspace picker).
    ``issuer`` is the template of the RFC 9207 ``iss`` / JWT ``iss`` below the
    provider's root. ``name_infix`` makes the URL names (``kustomer-org-token``).
    """

    authorize: str
    token: str
    issuer: str = ""
    name_infix: str = ""

    @property
    def tenant_in_url(self) -> bool:
        """Whether the tenant is a path segment of these endpoints."""
        return "{tenant}" in self.authorize


@dataclass(frozen=True)
class TokenEndpoint:
    """How the token endpoint authenticates clients, reads requests and words answers.

    ``client_auth``: the methods accepted (RFC 7591 names; both = either, never
    both at once). ``body_formats``: ``form`` and/or ``json`` request bodies.
    ``field_order``: the answer's key order (keys not listed come last).
    ``tenant_field``: the member of the code exchange's answer naming the tenant
    (HubSpot's ``hub_id``); ``""``: the answer names none.
    """

    client_auth: frozenset[ClientAuth]
    body_formats: frozenset[BodyFormat] = frozenset({"form"})
    token_type: str = "Bearer"
    grant_type_required: bool = True
    field_order: tuple[str, ...] = ()
    tenant_field: str = ""


@dataclass(frozen=True)
class AccessTokens:
    """The access token: ``lifetime`` seconds (``None``: never expires; tests override it
    per provider through ``state.lifetimes``), what the answer says about it, and whether
    it is an RS256 JWT (signed with the sandbox key, ``exp`` claim) or an opaque string.

    ``lifetime_param``: a token-request parameter with which the client chooses the
    lifetime (Zendesk's ``expires_in``: a JSON integer, or digits in a form), accepted
    within ``lifetime_param_range`` (seconds, inclusive; ``invalid_request`` outside);
    when sent, the token lives that long and the answer carries ``expires_in`` whatever
    ``lifetime_field`` says. ``""``: no such parameter (it is ignored as unknown)."""

    lifetime: int | None
    lifetime_field: LifetimeField = "expires_in"
    jwt: bool = False
    lifetime_param: str = ""
    lifetime_param_range: tuple[int, int] = (1, 365 * 24 * 3600)


@dataclass(frozen=True)
class RefreshTokens:
    """Refresh tokens: when one is issued, how refresh answers treat it.

    ``issue``: ``always``, ``with_scope`` (only when ``scope`` was granted, e.g.
    ``offline_access``) or ``never`` (no refresh token: the access token must not
    expire). ``rotation``: ``always`` (the old one is spent), ``sometimes`` (a new
    one once the old is ``rotate_after`` seconds old, else the same one again), or
    ``never`` (the answer carries none; keep the old). ``reuse_revokes_family``:
    a spent token's reuse revokes every token of its grant (``None``: as
    ``state.reuse_detection`` says). ``lifetime``: seconds, ``None`` never expires.
    ``rotation_revokes_access``: a rotating refresh also revokes the access tokens its
    grant issued before (Zendesk deletes "the previous access and refresh tokens").
    """

    issue: Literal["always", "with_scope", "never"] = "always"
    scope: str = ""
    rotation: Rotation = "never"
    rotate_after: float = 0.0
    reuse_revokes_family: bool | None = None
    lifetime: int | None = None
    nbytes: int = 32
    rotation_revokes_access: bool = False


@dataclass(frozen=True)
class Scopes:
    """``separator`` between scopes in requests and answers; ``None``: the provider takes
    no scope parameter at all (scopes live in the app's settings)."""

    separator: str | None = " "


@dataclass(frozen=True)
class Pkce:
    """``optional``: an S256 challenge, when sent, binds the code; ``required``: one
    must be sent; ``ignored``: the parameters are ignored like unknown ones."""

    mode: Literal["ignored", "optional", "required"] = "ignored"


@dataclass(frozen=True)
class OpenID:
    """OpenID Connect: an ``id_token`` when ``openid`` is granted (RS256, ``nonce``
    echoed), plus discovery, JWKS and userinfo under the issuer.

    ``metadata``: the discovery document besides its URLs. ``scope_claims``: which
    userinfo claims each scope releases. ``id_token_on_refresh``: whether a refresh
    answer carries a new one.
    """

    metadata: dict[str, Any] = field(default_factory=dict)
    scope_claims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    id_token_on_refresh: bool = False
    userinfo: str = "{tenant}/oauth/userinfo"


@dataclass(frozen=True)
class Revocation:
    """How a client revokes: ``rfc7009`` (POST ``token=`` with client authentication;
    ``token_kinds`` says which kinds it really revokes, the others are a no-op as for
    stateless JWTs), ``access_token_request`` (``method`` on ``path`` with the access
    token in the API's Authorization header; ``scope``: ``token`` revokes that token,
    ``grant`` every token of its grant), or ``none`` (no endpoint).
    ``status`` / ``body``: the success answer (``body`` ``None``: empty)."""

    kind: RevocationKind = "none"
    path: str = ""
    method: str = "POST"
    token_kinds: tuple[str, ...] = ("refresh",)
    scope: Literal["token", "grant"] = "token"
    status: int = 200
    body: Any = field(default_factory=dict)


class ApiError(Exception):
    """An API answer other than 200: ``status``, a short ``code`` and a ``message``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True)
class ApiContext:
    """What an API route handler gets: the query, the tenant, the token's record
    (``client_id``, ``scope``, ``tenant``), the route's match, the profile and the
    request's headers."""

    query: Any  # a QueryDict
    tenant: str
    token: Any  # an IssuedToken
    match: Any  # re.Match
    profile: Profile
    #: The request's headers (Zoho Desk's mandatory ``orgId``); ``None`` outside a request.
    headers: Any = None


Handler = Callable[[ApiContext], Any]


@dataclass(frozen=True)
class Api:
    """The provider's API a token unlocks.

    ``base``: path template of the API root (with ``{tenant}``: a per-tenant host,
    the token must be that tenant's; without: a global host, the token names the
    tenant). ``auth_scheme``: the Authorization scheme (``Bearer``,
    ``Zoho-oauthtoken`` …). ``routes``: ``(regex fullmatching the path below base,
    handler)``; read-only (GET/HEAD). ``named``: ``(URL name suffix, path)`` routes
    reversible by name. ``error_body`` / ``unauthorized_body``: the provider's error
    documents.
    """

    base: str
    routes: tuple[tuple[str, Handler], ...]
    error_body: Callable[[ApiError], dict[str, Any]]
    unauthorized_body: Callable[[str], dict[str, Any]]
    auth_scheme: str = "Bearer"
    named: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Identity:
    """The call that names the tenant after the exchange: an API route (``path`` below
    the API base) whose ``body`` hook builds the answer from the tenant and the fake user
    (``state.user_for``). ``advertise``: put it in the client settings as ``identity_url``."""

    path: str
    body: Callable[[str, dict[str, Any]], dict[str, Any]]
    advertise: bool = True


@dataclass(frozen=True)
class DeauthorizeWebhook:
    """Provider-initiated uninstall (Intercom style): the provider POSTs ``payload`` to the
    app's URL, signed as ``prefix + HMAC(client secret, body)`` in ``header``."""

    header: str = "X-Hub-Signature"
    algorithm: str = "sha1"
    prefix: str = "sha1="
    payload: Callable[[str], dict[str, Any]] = lambda tenant: {"app_id": tenant}

    def sign(self, body: bytes, client_secret: str) -> str:
        """The header value for ``body``."""
        digest = hmac.new(client_secret.encode(), body, getattr(hashlib, self.algorithm))
        return self.prefix + digest.hexdigest()


@dataclass(frozen=True)
class AdminOnlyConsent:
    """Only an administrator of the tenant may approve an app (Front: "End users
    authorizing OAuth apps must be admins"). When the consenting user is not one
    (``state.consent_by_admin = False``), Allow sends the browser back to the client with
    ``error`` and ``error_description`` (RFC 6749 §4.1.2.1) and no code."""

    error: str = "access_denied"
    description: str = "Only an administrator may authorize this request."


def _rfc6749_error(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}


@dataclass(frozen=True)
class Profile:
    """Everything the engine needs to emulate one provider. See the module docstring.

    ``key``: the URL segment and the ``provider`` of clients and tokens. ``title``:
    shown on the consent page. ``auth_servers``: endpoint sets by name, the first
    being the default. ``user_id``: ``int`` or ``hex`` ids of the fake users.
    ``rate_limited_body``: the 429 body. ``oauth_error_body``: the token
    endpoint's error document (RFC 6749 §5.2 unless a provider differs).
    ``regions``: the values a ``{region}`` path segment may take (``callback_params`` /
    ``token_fields``: what a data-centre provider says about them). ``extra_settings``:
    more ``HELPDESK_OAUTH["PROVIDERS"]`` URLs, ``(name, path below the root)``.
    ``admin_consent``: only administrators may approve (:class:`AdminOnlyConsent`);
    ``None``: any user may.
    ``redirect``: ``parameter`` (RFC 6749: the authorization request names its
    ``redirect_uri`` and ``response_type=code``) or ``registered`` (Help Scout: the
    request carries only ``client_id`` and ``state``, other parameters are ignored; the
    user goes back to the client's first registered redirect URI, and the code exchange
    needs none: one sent must still match it).
    """

    key: str
    title: str
    auth_servers: dict[str, AuthServer]
    token: TokenEndpoint
    access: AccessTokens
    refresh: RefreshTokens
    api: Api
    scopes: Scopes = Scopes()
    pkce: Pkce = Pkce()
    openid: OpenID | None = None
    revocation: Revocation = Revocation()
    identity: Identity | None = None
    deauthorize: DeauthorizeWebhook | None = None
    rate_limit: RateLimit | None = None
    rate_limited_body: dict[str, Any] = field(
        default_factory=lambda: {"error": "temporarily_unavailable"}
    )
    oauth_error_body: Callable[[str, str], dict[str, Any]] = _rfc6749_error
    user_id: Literal["int", "hex"] = "hex"
    regions: tuple[str, ...] = ()
    #: Data centres (Zoho): the parameters the authorization response adds for the
    #: user's home region (``state.home_regions``, else the authorize path's region),
    #: and the members every token answer adds for the token endpoint's region.
    callback_params: Callable[[str], dict[str, str]] | None = None
    token_fields: Callable[[str], dict[str, Any]] | None = None
    extra_settings: tuple[tuple[str, str], ...] = ()
    redirect: Literal["parameter", "registered"] = "parameter"
    admin_consent: AdminOnlyConsent | None = None

    @property
    def default_auth_server(self) -> str:
        """The name of the first endpoint set."""
        return next(iter(self.auth_servers))

    def split_scope(self, raw: str | None) -> list[str]:
        """The scopes of a request parameter, by the declared separator (and whitespace)."""
        if not raw or self.scopes.separator is None:
            return []
        return " ".join(raw.split(self.scopes.separator)).split()

    def join_scope(self, scopes: list[str] | str) -> str:
        """``scopes`` (a list, or space-separated) as the provider writes them."""
        items = scopes.split() if isinstance(scopes, str) else scopes
        return (self.scopes.separator or " ").join(items)
