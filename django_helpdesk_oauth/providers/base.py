"""The declarative provider definition and its few hooks.

A provider is data (endpoint templates, client authentication, scopes, tenant
rules, token behaviour) plus hooks a subclass may override. Provider modules
never touch the ORM; the service layer drives them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from ..conf import app_settings
from ..exceptions import (
    ConfigurationError,
    IdTokenMismatch,
    InvalidConnectionConfig,
    InvalidTenant,
)
from ..jwt import unverified_claims

# A ``{name}`` in an endpoint template; its name as a connection_config key.
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]{0,39})\}", re.ASCII)
_PLACEHOLDER_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}", re.ASCII)
# A region name: short, lowercase, URL-safe.
_CONFIG_VALUE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?", re.ASCII)

# One DNS label, lowercase ASCII: what a helpdesk subdomain / org name can be.
SUBDOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)

ENDPOINTS = (
    "authorize_url",
    "token_url",
    "revoke_url",
    "api_base_url",
    "apps_api_url",
    # Where the tenant is read after the code exchange (a provider that learns it then).
    "identity_url",
    # RFC 9207 issuer identifier: compared with a callback's ``iss``, never fetched.
    "issuer",
)
#: The only endpoints whose template may carry ``{token}`` (DESIGN.md: a provider that
#: offers no other way, e.g. HubSpot's v1 refresh-token revocation). Never logged.
TOKEN_IN_URL_ENDPOINTS = ("revoke_url", "identity_url")

#: RFC 7591 §2 ``token_endpoint_auth_method`` values this client implements.
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
#: The names used before RFC 7591's: still accepted, normalized at class creation.
CLIENT_AUTH_ALIASES = {"basic": "client_secret_basic", "body": "client_secret_post"}
ClientAuth = Literal["client_secret_basic", "client_secret_post", "basic", "body"]

#: Parameters the client sets itself (RFC 6749 §4.1, RFC 7636, OpenID Connect): a
#: provider's static extra parameters may not name them.
RESERVED_PARAMS = frozenset(
    {
        "client_id",
        "client_secret",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code",
        "code_verifier",
        "code_challenge",
        "code_challenge_method",
        "grant_type",
        "refresh_token",
        "token",
        "token_type_hint",
    }
)

#: The standard authorization-request parameters a provider may declare it does not take
#: (:attr:`Provider.authorize_omits`); ``client_id`` and ``state`` are always sent.
OMITTABLE_AUTHORIZE_PARAMS = frozenset({"response_type", "redirect_uri"})

RefreshTokenRotation = Literal["always", "sometimes", "never"]
TokenKind = Literal["refresh_token", "access_token"]

# RFC 9110 §5.6.2 token: what an auth scheme and a header name may be.
_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
# A header value we send: visible ASCII and inner spaces (no CR/LF, no control bytes).
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?", re.ASCII)


@dataclass(frozen=True)
class Revocation:
    """How a provider revokes a grant: one declared value (:attr:`Provider.revocation`).

    ``style``:

    - ``"rfc7009"``: ``POST revoke_url`` with the form ``token=…&token_type_hint=…``,
      the client authenticated the provider's way (RFC 7009 §2.1). Gorgias, with the
      refresh token.
    - ``"bearer"``: ``method revoke_url`` with the access token in the
      ``Authorization`` header (the provider's :attr:`Provider.api_auth_scheme`), no
      body, no client credentials: Zendesk ``DELETE /api/v2/oauth/tokens/current.json``,
      Intercom ``POST /auth/uninstall``.
    - ``"token_in_url"``: ``method revoke_url`` whose template holds ``{token}`` (the
      token, URL-quoted), no client credentials: HubSpot's v1
      ``DELETE /oauth/v1/refresh-tokens/{token}``. That URL is never logged.
    - ``"none"``: the provider documents no revocation; an uninstall erases locally.

    ``token``: which token the call takes, ``"refresh_token"`` or ``"access_token"``
    (``"bearer"`` always takes the access token). ``method``: the HTTP method.
    ``ends_installation``: the call uninstalls the app for the whole tenant
    (Intercom's ``/auth/uninstall``) rather than revoking one grant; it is then made
    on uninstall only, never for a grant a re-install replaced.

    Raises ``ValueError`` when the combination makes no sense.
    """

    style: Literal["rfc7009", "bearer", "token_in_url", "none"]
    token: TokenKind = "refresh_token"
    method: str = "POST"
    ends_installation: bool = False

    def __post_init__(self) -> None:
        if self.style not in ("rfc7009", "bearer", "token_in_url", "none"):
            raise ValueError(f"unknown revocation style {self.style!r}")
        if self.token not in ("refresh_token", "access_token"):
            raise ValueError(f"unknown token kind {self.token!r}")
        if self.method not in ("POST", "DELETE", "GET", "PUT"):
            raise ValueError(f"unsupported revocation method {self.method!r}")
        if self.style == "bearer" and self.token != "access_token":
            raise ValueError("a bearer revocation sends the access token")
        if self.style == "rfc7009" and self.method != "POST":
            raise ValueError("RFC 7009 revocation is a POST")

    @classmethod
    def rfc7009(cls, token: TokenKind = "refresh_token") -> Revocation:  # noqa: S107
        """RFC 7009 with ``token`` (Gorgias: the refresh token)."""
        return cls("rfc7009", token)

    @classmethod
    def bearer(cls, method: str = "POST", *, ends_installation: bool = False) -> Revocation:
        """``method revoke_url`` authorized by the access token (Zendesk, Intercom)."""
        return cls("bearer", "access_token", method, ends_installation)

    @classmethod
    def token_in_url(
        cls,
        method: str = "DELETE",
        token: TokenKind = "refresh_token",  # noqa: S107  (a kind, not a password)
    ) -> Revocation:
        """``method revoke_url`` with ``{token}`` in its path (HubSpot v1)."""
        return cls("token_in_url", token, method)


#: The provider documents no revocation.
NO_REVOCATION = Revocation("none")


@dataclass(frozen=True)
class DeauthorizeSignature:
    """How a provider signs its provider-initiated uninstall (:attr:`Provider.deauthorize`).

    The provider POSTs a JSON body to ``helpdesk_oauth:deauthorize`` with header
    ``header`` = ``prefix`` + the hex HMAC (``algorithm``, a :mod:`hashlib` name) of the
    raw body keyed with the app's client secret (Intercom: ``X-Hub-Signature:
    sha1=<hex>``). ``tenant_field``: the top-level member of the JSON body naming the
    tenant (Intercom: ``app_id``, the workspace id).

    Raises ``ValueError`` for an unknown algorithm.
    """

    header: str = "X-Hub-Signature"
    algorithm: str = "sha1"
    prefix: str = "sha1="
    tenant_field: str = "app_id"

    def __post_init__(self) -> None:
        if self.algorithm not in hashlib.algorithms_guaranteed:
            raise ValueError(f"unknown HMAC algorithm {self.algorithm!r}")
        if not _HTTP_TOKEN.fullmatch(self.header):
            raise ValueError(f"{self.header!r} is not a header name")

    def verify(self, body: bytes, signature: str | None, secrets: list[str]) -> bool:
        """Whether ``signature`` (the header's value, ``None`` if absent) signs ``body``
        with one of ``secrets`` (non-empty ones); compared in constant time. No I/O."""
        if not signature:
            return False
        given = signature.strip().encode("ascii", "replace")
        ok = False
        for secret in secrets:
            if not secret:
                continue
            digest = hmac.new(secret.encode(), body, self.algorithm).hexdigest()
            # Every secret is tried (no early exit), each compare in constant time.
            ok |= hmac.compare_digest(given, (self.prefix + digest).encode("ascii"))
        return ok


@dataclass(frozen=True)
class AdminConsent:
    """How a provider refuses an approval by a user who is not an administrator of the
    tenant (:attr:`Provider.admin_consent`; Front: only company admins may connect an app).

    The provider sends the browser back to the callback with the RFC 6749 §4.1.2.1
    ``?error=`` code ``error`` (``None``: whatever code, when the provider documents only
    the words) and an ``error_description`` containing ``description`` (compared
    case-insensitively). Such a callback raises
    :class:`~django_helpdesk_oauth.exceptions.AdminConsentRequired` (403) instead of the
    generic error for its code; every other ``?error=`` keeps its usual meaning.

    Raises ``ValueError`` when ``description`` is blank or ``error`` is ``""`` (a rule
    that would match every Deny).
    """

    error: str | None = "access_denied"
    description: str = ""

    def __post_init__(self) -> None:
        if self.error == "" or not self.description.strip():
            raise ValueError("AdminConsent needs the words of the description to match")

    def matches(self, error: object, description: object) -> bool:
        """Whether a callback's ``error`` and ``error_description`` (raw query values,
        ``None`` when absent) are this refusal. No I/O; never raises."""
        if not isinstance(error, str) or not isinstance(description, str):
            return False
        if self.error is not None and error != self.error:
            return False
        return self.description.strip().casefold() in description.casefold()


#: The longest access-token lifetime we believe, in seconds (a year). A provider
#: figure beyond it (``expires_in: 1e12``, a JWT ``exp`` of ``1e20``) is garbage:
#: trusting it would mean never refreshing, so the next source is used instead.
MAX_TOKEN_LIFETIME = 365 * 24 * 3600
#: Used when a provider's own ``fallback_lifetime`` is not a sane number.
DEFAULT_FALLBACK_LIFETIME = 3600

_NUMERIC = re.compile(r"\s*[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)


def _number(value: Any) -> float | None:
    """A finite number from a JSON value: int, float or ASCII numeric string; else ``None``."""
    if isinstance(value, bool):
        return None  # JSON true is not 1 second
    if isinstance(value, str):
        if not _NUMERIC.fullmatch(value):
            return None
        value = float(value)
    if isinstance(value, int) and abs(value) > 2**53:
        return None  # beyond any lifetime or epoch; float() could even overflow
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _lifetime(seconds: float | None) -> float | None:
    """``seconds`` if it is a believable lifetime, ``(0, MAX_TOKEN_LIFETIME]``; else ``None``."""
    if seconds is None or not 0 < seconds <= MAX_TOKEN_LIFETIME:
        return None
    return seconds


#: An absolute ``expires_at`` above this is read as epoch *milliseconds* (10^11 seconds
#: is the year 5138; 10^11 milliseconds is 1973).
EPOCH_MILLISECONDS_ABOVE = 10**11


@dataclass(frozen=True)
class ExpiryInfo:
    """When an access token expires, where that figure came from, and the lifetime granted.

    ``expires_at`` is ``None`` (and ``source`` ``"never"``) for a token that never
    expires; ``lifetime`` is the granted lifetime (``expires_at`` minus the time the
    answer was read), ``None`` for a never-expiring token. The refresh margin is
    capped by it (:meth:`~django_helpdesk_oauth.models.Token.is_due`).
    """

    expires_at: datetime | None
    source: Literal["expires_at", "expires_in", "jwt_exp", "fallback", "never"]
    lifetime: timedelta | None = None


class Provider:
    """Base provider definition. Subclasses set the class attributes below."""

    #: Registry key stored in ``ProviderApp.provider``.
    key: ClassVar[str] = ""
    #: Human name.
    name: ClassVar[str] = ""
    #: Default endpoint URL templates; ``{tenant}`` is substituted. Settings override them.
    endpoints: ClassVar[Mapping[str, str]] = {}
    #: How the client authenticates at the token and RFC 7009 revoke endpoints, under
    #: RFC 7591 §2's names: ``"client_secret_basic"`` (HTTP Basic, RFC 6749 §2.3.1) or
    #: ``"client_secret_post"`` (``client_id``/``client_secret`` in the body). The old
    #: ``"basic"``/``"body"`` are accepted and normalized when the class is created.
    client_auth: ClassVar[ClientAuth] = "client_secret_basic"
    #: Body of the code exchange and the refresh: ``"form"`` (RFC 6749 §4.1.3,
    #: ``application/x-www-form-urlencoded``) or ``"json"`` (the same fields as a JSON
    #: object; Zendesk accepts it, PROVIDERS.md).
    token_request_format: ClassVar[Literal["form", "json"]] = "form"
    #: Static extra parameters of the authorization URL (beside the computed
    #: :meth:`extra_authorize_params`), the code exchange and the refresh. They may not
    #: name a parameter the client sets itself (:data:`RESERVED_PARAMS`). A token or
    #: refresh parameter may be an ``int``: a JSON number in a JSON body (Zendesk's
    #: ``expires_in`` is an integer), its digits in a form.
    authorize_params: ClassVar[Mapping[str, str]] = {}
    token_params: ClassVar[Mapping[str, str | int]] = {}
    refresh_params: ClassVar[Mapping[str, str | int]] = {}
    #: Standard parameters the provider's authorization URL does not take, left out of
    #: it: any of :data:`OMITTABLE_AUTHORIZE_PARAMS` (Help Scout's URL takes only
    #: ``client_id`` and ``state``: ``{"response_type", "redirect_uri"}``). Without
    #: ``redirect_uri`` the provider sends the user back to the redirect URL registered
    #: with the app, and the code exchange leaves it out too (RFC 6749 §4.1.3 requires it
    #: there only when the authorization request carried it).
    authorize_omits: ClassVar[frozenset[str]] = frozenset()
    #: Scopes requested when the ``ProviderApp`` sets none.
    default_scopes: ClassVar[tuple[str, ...]] = ()
    #: What joins the scopes in the authorize URL (RFC 6749: a space; Zoho: a comma).
    scope_delimiter: ClassVar[str] = " "
    #: ``False`` for a provider without scopes (Intercom, Front, Help Scout): no
    #: ``scope`` parameter is ever sent, whatever the app configures.
    scopes_supported: ClassVar[bool] = True
    #: The scheme of the ``Authorization`` header ``api_session()`` sends (RFC 6750
    #: ``Bearer``; Zoho Desk: ``Zoho-oauthtoken``). An RFC 9110 token.
    api_auth_scheme: ClassVar[str] = "Bearer"
    #: Static headers every ``api_session()`` request carries (a caller's own header of
    #: the same name wins; ``Authorization`` is always ours).
    api_headers: ClassVar[Mapping[str, str]] = {}
    #: How a grant is revoked (:class:`Revocation`); used only when ``revoke_url`` is
    #: configured. Default: RFC 7009 with the refresh token.
    revocation: ClassVar[Revocation] = Revocation.rfc7009()
    #: RFC 9207 issuer identifier template (``{tenant}`` substituted), compared with a
    #: callback's ``iss``; ``""``: unknown, ``iss`` is then not checked (the state still
    #: binds the flow to its tenant and app). See :meth:`issuer`.
    issuer_template: ClassVar[str] = ""
    #: Query parameters the install view reads the tenant from, in order.
    tenant_params: ClassVar[tuple[str, ...]] = ("tenant",)
    #: What the tenant is called in pages and messages.
    tenant_label: ClassVar[str] = "account"
    #: The kind of thing a tenant is, in a sentence ("another <name> <noun>").
    tenant_noun: ClassVar[str] = "account"
    #: Help text shown where the user types the tenant.
    tenant_hint: ClassVar[str] = ""
    tenant_pattern: ClassVar[re.Pattern[str]] = SUBDOMAIN_LABEL
    #: Show a form asking for the tenant when it is missing (instead of a 400).
    ask_for_tenant: ClassVar[bool] = False
    #: ``True`` for a provider that names the tenant only after the code exchange
    #: (HubSpot hub, Intercom workspace, Front company): the install URL needs no tenant
    #: (one given there is then only checked against the learned one). The tenant is
    #: read from the token response's :attr:`tenant_response_field` when the answer has
    #: it, else from a call to ``identity_url`` read by :meth:`tenant_from_identity`;
    #: either way validated by :attr:`tenant_pattern` before anything is stored.
    tenant_after_exchange: ClassVar[bool] = False
    #: The token-response member naming the tenant (HubSpot: ``"hub_id"``); ``""``: none.
    tenant_response_field: ClassVar[str] = ""
    #: Per-installation hosts: region name → the values its endpoint templates use as
    #: ``{placeholders}`` (Intercom: ``{"us": {"api_host": "api.intercom.io"}, "eu":
    #: {"api_host": "api.eu.intercom.io"}, …}``); ``{region}`` itself is the name. The
    #: region comes only from the install URL (:attr:`region_param`, else
    #: :attr:`default_region`), is stored in ``connection_config`` and never comes from
    #: the callback. ``{}``: one set of hosts.
    regions: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    default_region: ClassVar[str] = ""
    #: The install URL's query parameter choosing the region.
    region_param: ClassVar[str] = "region"
    #: ``(callback parameter, region value key)`` for a provider whose authorization
    #: response names the user's data centre (Zoho: ``("accounts-server",
    #: "accounts_server")``, the callback carrying ``accounts-server=https://accounts.zoho.eu``).
    #: The region whose :attr:`regions` value under that key *equals* the parameter's
    #: value replaces the install URL's region before the code exchange; a value naming
    #: no declared region is refused (:class:`InvalidConnectionConfig`, 400) before any
    #: URL is built or request sent. Absent: the install URL's region stays. ``()``: the
    #: callback never chooses (DESIGN.md's rule; Zoho is its documented exception).
    callback_region: ClassVar[tuple[str, str] | tuple[()]] = ()
    #: Token-response members that must name the installation's region: member → the
    #: region value key it must equal (Zoho: ``{"api_domain": "api_domain"}``). Checked
    #: after the code exchange, before any other request; a different value refuses the
    #: install (:class:`InvalidConnectionConfig`). A member the answer lacks is not checked.
    token_region_fields: ClassVar[Mapping[str, str]] = {}
    #: Other ``connection_config`` keys a provider accepts, each with the pattern its
    #: value must fullmatch (an allow-list as a regex); any other key is refused.
    connection_config_patterns: ClassVar[Mapping[str, re.Pattern[str]]] = {}
    #: Provider-initiated uninstall (``helpdesk_oauth:deauthorize``): how the provider
    #: signs it (:class:`DeauthorizeSignature`); ``None``: it sends none (404 there).
    deauthorize: ClassVar[DeauthorizeSignature | None] = None
    #: A provider's own error members, read from an error answer (3xx-5xx) that has no
    #: RFC 6749 ``error``: member name → {its value → the RFC 6749 code it means}.
    #: HubSpot's v1 endpoints answer ``{"status": "BAD_REFRESH_TOKEN", "message": …}``
    #: only: ``{"status": {"BAD_REFRESH_TOKEN": "invalid_grant", …}}``. An ``error``
    #: member, when present, always wins; an unlisted value is no code. ``{}``: none.
    error_code_aliases: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    #: How the provider refuses a non-administrator's approval (:class:`AdminConsent`;
    #: Front); ``None``: anyone who may approve does, or the provider does not say.
    admin_consent: ClassVar[AdminConsent | None] = None
    #: Whether a refresh answer carries a new refresh token (spending the old one):
    #: ``"always"`` (Kustomer, Zendesk), ``"sometimes"`` (Front: near the end of its
    #: life), ``"never"`` (Gorgias, HubSpot, Zoho). Whatever comes back is stored, else
    #: the old one is kept; ``"always"`` with none back is logged and signalled
    #: (``refresh_token_not_rotated``).
    refresh_token_rotation: ClassVar[RefreshTokenRotation] = "never"
    #: Lifetime in seconds assumed when the token answer states none (no usable
    #: ``expires_at``, ``expires_in`` or JWT ``exp``): the provider's documented lifetime.
    fallback_lifetime: ClassVar[int] = 3600
    #: ``False`` only for a provider whose access tokens never expire (Intercom): an
    #: answer that states no lifetime then gives a token with ``expires_at`` NULL, which
    #: is never due (never swept, never refreshed). A lifetime the answer does state is
    #: still used. ``True`` (the default): :attr:`fallback_lifetime` applies instead.
    access_tokens_expire: ClassVar[bool] = True
    #: Send PKCE (S256). Servers ignore parameters they do not know.
    pkce: ClassVar[bool] = True
    #: Send an OpenID Connect ``nonce`` and check it in the ``id_token``.
    nonce: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Normalize and check the declaration once, when the class is created.

        Raises ``ValueError`` (at import: a definition error, not a run-time one) for
        an unknown client authentication, body format or rotation, an extra parameter
        the client sets itself, or an API header that could not be sent safely.
        """
        super().__init_subclass__(**kwargs)
        legacy = cls.__dict__.get("rotates_refresh_tokens")
        if isinstance(legacy, bool):
            # The bool of v1: still accepted, read as "always" / "never".
            warnings.warn(
                f"{cls.__name__}.rotates_refresh_tokens is deprecated: declare "
                'refresh_token_rotation = "always" | "sometimes" | "never".',
                DeprecationWarning,
                stacklevel=2,
            )
            delattr(cls, "rotates_refresh_tokens")
            if "refresh_token_rotation" not in cls.__dict__:
                cls.refresh_token_rotation = "always" if legacy else "never"
        auth = CLIENT_AUTH_ALIASES.get(cls.client_auth, cls.client_auth)
        if auth not in CLIENT_AUTH_METHODS:
            raise ValueError(f"{cls.__name__}.client_auth: unknown method {cls.client_auth!r}")
        cls.client_auth = auth  # type: ignore[assignment]  # one of CLIENT_AUTH_METHODS
        if cls.token_request_format not in ("form", "json"):
            raise ValueError(f"{cls.__name__}.token_request_format must be 'form' or 'json'")
        if cls.refresh_token_rotation not in ("always", "sometimes", "never"):
            raise ValueError(
                f"{cls.__name__}.refresh_token_rotation must be always/sometimes/never"
            )
        for attr in ("authorize_params", "token_params", "refresh_params"):
            reserved = RESERVED_PARAMS.intersection(getattr(cls, attr))
            if reserved:
                raise ValueError(f"{cls.__name__}.{attr} may not set {sorted(reserved)}")
        for attr in ("token_params", "refresh_params"):
            for name, value in getattr(cls, attr).items():
                # bool is an int subclass, but JSON true is not a number of anything.
                if not isinstance(value, str | int) or isinstance(value, bool):
                    raise ValueError(f"{cls.__name__}.{attr}[{name!r}] must be a str or an int")
        if not isinstance(cls.authorize_omits, frozenset) or (
            cls.authorize_omits - OMITTABLE_AUTHORIZE_PARAMS
        ):
            raise ValueError(
                f"{cls.__name__}.authorize_omits must be a frozenset of "
                f"{sorted(OMITTABLE_AUTHORIZE_PARAMS)}"
            )
        if not _HTTP_TOKEN.fullmatch(cls.api_auth_scheme):
            raise ValueError(f"{cls.__name__}.api_auth_scheme is not an HTTP token")
        for name, value in cls.api_headers.items():
            if name.lower() == "authorization" or not _HTTP_TOKEN.fullmatch(name):
                raise ValueError(f"{cls.__name__}.api_headers: {name!r} cannot be set")
            if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
                raise ValueError(f"{cls.__name__}.api_headers[{name!r}] is not a header value")
        if not isinstance(cls.revocation, Revocation):
            raise ValueError(f"{cls.__name__}.revocation must be a Revocation")
        if cls.regions and cls.default_region not in cls.regions:
            raise ValueError(f"{cls.__name__}.default_region must be one of its regions")
        for region, values in cls.regions.items():
            if not _CONFIG_VALUE.fullmatch(region) or not all(
                _PLACEHOLDER_NAME.fullmatch(k) and "{" not in v for k, v in values.items()
            ):
                raise ValueError(f"{cls.__name__}.regions[{region!r}] is not usable")
        if cls.deauthorize is not None and not isinstance(cls.deauthorize, DeauthorizeSignature):
            raise ValueError(f"{cls.__name__}.deauthorize must be a DeauthorizeSignature")
        if cls.callback_region and (len(cls.callback_region) != 2 or not cls.regions):
            raise ValueError(f"{cls.__name__}.callback_region needs (parameter, key) and regions")
        for member, aliases in cls.error_code_aliases.items():
            if not isinstance(member, str) or not all(
                isinstance(value, str) and isinstance(code, str) and _HTTP_TOKEN.fullmatch(code)
                for value, code in aliases.items()
            ):
                raise ValueError(f"{cls.__name__}.error_code_aliases[{member!r}] is not usable")

    @property
    def rotates_refresh_tokens(self) -> bool:
        """Read-only, for compatibility: :attr:`refresh_token_rotation` is ``"always"``."""
        return self.refresh_token_rotation == "always"

    # -- endpoints -------------------------------------------------------
    def endpoint_template(self, name: str) -> str:
        """The template for ``name`` (settings override first), or ``""`` if unsupported."""
        if name not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {name!r}")
        return app_settings.provider_overrides(self.key).get(name) or self.endpoints.get(name, "")

    def endpoint(self, name: str, tenant: str = "", config: Mapping[str, Any] | None = None) -> str:
        """The URL of endpoint ``name`` for ``tenant`` and ``config`` (an installation's
        ``connection_config``).

        ``{tenant}`` is validated (:meth:`validate_tenant`) and every other placeholder
        comes from :meth:`connection_values` (validated first: nothing from a request
        or a response reaches a URL unchecked); ``{token}`` is left for the caller
        (only in :data:`TOKEN_IN_URL_ENDPOINTS`). Raises :class:`InvalidTenant`,
        :class:`InvalidConnectionConfig`, or :class:`ConfigurationError` (no such
        endpoint configured, or a placeholder nothing gives a value for).
        """
        template = self.endpoint_template(name)
        if not template:
            raise ConfigurationError(
                f'The {self.name} provider has no {name}: set HELPDESK_OAUTH["PROVIDERS"]'
                f'["{self.key}"]["{name}"].'
            )
        if "{token}" in template and name not in TOKEN_IN_URL_ENDPOINTS:
            # Tokens never travel in a URL we build, except where no other way exists.
            raise ConfigurationError(f"The {self.name} {name} may not contain {{token}}.")
        used = set(_PLACEHOLDER.findall(template)) - {"token", "tenant"}
        # Validated whenever given, used or not: a bad stored value is never ignored quietly.
        values = self.connection_values(config) if used or config else {}
        missing = used - set(values)
        if missing:
            raise ConfigurationError(
                f"The {self.name} {name} uses {{{sorted(missing)[0]}}}, which has no value "
                "(not in the installation's connection_config nor its region)."
            )
        if "{tenant}" in template:
            values["tenant"] = self.validate_tenant(tenant)

        def value(match: re.Match[str]) -> str:
            return values.get(match.group(1), match.group(0))  # {token}: the caller's

        # One pass: a substituted value is never expanded again.
        return _PLACEHOLDER.sub(value, template)

    # -- connection_config -----------------------------------------------------
    def validate_connection_config(self, config: Any) -> dict[str, str]:
        """``config`` checked against the provider's allow-lists, the default region added.

        ``region`` must be one of :attr:`regions`; any other key needs a pattern in
        :attr:`connection_config_patterns` its (string) value fullmatches. Raises
        :class:`InvalidConnectionConfig` (the message quotes the value as a repr, cut).
        """
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            raise InvalidConnectionConfig()
        checked: dict[str, str] = {}
        for key, raw in config.items():
            if key == "region" and self.regions:
                if not isinstance(raw, str) or raw not in self.regions:
                    shown = raw[:40] if isinstance(raw, str) else raw
                    raise InvalidConnectionConfig(f"{shown!r} is not a {self.name} region.")
            else:
                pattern = self.connection_config_patterns.get(key)
                if pattern is None or not isinstance(raw, str) or not pattern.fullmatch(raw):
                    raise InvalidConnectionConfig(
                        f"{str(key)[:40]!r} is not an accepted {self.name} connection setting."
                    )
            checked[key] = raw
        if self.regions and "region" not in checked:
            checked["region"] = self.default_region
        return checked

    def connection_values(self, config: Any) -> dict[str, str]:
        """The endpoint placeholders ``config`` gives: its region's declared values, then
        the validated config itself (``{region}`` is the region's name)."""
        checked = self.validate_connection_config(config)
        region = self.regions.get(checked.get("region", ""), {})
        return {**region, **checked}

    def connection_config_from_query(self, query: Mapping[str, Any]) -> dict[str, str]:
        """The ``connection_config`` an install request chooses: the region of
        :attr:`region_param` (else the default), validated; ``{}`` for a provider
        without regions (the parameter is then ignored). Raises
        :class:`InvalidConnectionConfig` for an unknown or repeated region."""
        if not self.regions:
            return {}
        getlist = getattr(query, "getlist", None)
        param = self.region_param
        values = getlist(param) if getlist else ([query[param]] if param in query else [])
        if len(values) > 1:
            raise InvalidConnectionConfig(f"The “{param}” parameter is repeated.")
        return self.validate_connection_config({"region": values[0]} if values else {})

    def connection_config_from_callback(
        self, query: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, str]:
        """``config`` (the pending request's, validated) with the region the callback's
        :attr:`callback_region` parameter names, when the provider declares one and the
        callback carries it; else ``config`` unchanged. Exact comparison with the declared
        values only: nothing from the callback reaches a URL. Raises
        :class:`InvalidConnectionConfig` for a repeated parameter or a value naming no
        declared region (the message quotes it as a repr, cut). No I/O."""
        checked = self.validate_connection_config(config)
        if not self.callback_region or not self.regions:
            return checked
        param, key = self.callback_region
        getlist = getattr(query, "getlist", None)
        values = getlist(param) if getlist else ([query[param]] if param in query else [])
        if not values:
            return checked
        if len(values) > 1:
            raise InvalidConnectionConfig(f"The “{param}” parameter is repeated.")
        named = [r for r, hosts in self.regions.items() if hosts.get(key) == values[0]]
        if len(named) != 1:
            shown = str(values[0])[:80]
            raise InvalidConnectionConfig(f"{shown!r} is not a {self.name} data centre.")
        return self.validate_connection_config({**checked, "region": named[0]})

    def check_token_region(self, token: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        """Check that the token response's :attr:`token_region_fields` name ``config``'s
        region (Zoho's ``api_domain``). Raises :class:`InvalidConnectionConfig` (the
        message quotes the value as a repr, cut) otherwise. No I/O."""
        if not self.token_region_fields:
            return
        region = self.regions.get(self.validate_connection_config(config).get("region", ""), {})
        for member, key in self.token_region_fields.items():
            value = token.get(member)
            if value is not None and value != region.get(key):
                shown = value[:80] if isinstance(value, str) else type(value).__name__
                raise InvalidConnectionConfig(
                    f"The {self.name} token answer names {member} {shown!r}, not its data centre's."
                )

    def api_headers_for(self, tenant: str) -> dict[str, str]:
        """The :attr:`api_headers` to send for ``tenant``: a ``{tenant}`` in a value is the
        validated tenant (Zoho Desk: ``{"orgId": "{tenant}"}``); with ``tenant`` ``""``
        (before the tenant is known) such a header is left out. Raises
        :class:`InvalidTenant`, or :class:`ConfigurationError` when the result could not be
        sent in a header."""
        headers: dict[str, str] = {}
        for name, value in self.api_headers.items():
            if "{tenant}" in value:
                if not tenant:
                    continue
                value = value.replace("{tenant}", self.validate_tenant(tenant))
                if not _HEADER_VALUE.fullmatch(value):
                    raise ConfigurationError(f"The {self.name} {name} header is not sendable.")
            headers[name] = value
        return headers

    @property
    def supports_revoke(self) -> bool:
        """Whether uninstall revokes: a :attr:`revocation` strategy other than ``"none"``
        and a configured ``revoke_url``."""
        return self.revocation.style != "none" and bool(self.endpoint_template("revoke_url"))

    # -- tenants ---------------------------------------------------------
    def tenant_from_query(self, query: Mapping[str, Any]) -> str | None:
        """The raw tenant value from the install request's query, or ``None`` if absent.

        Raises :class:`InvalidTenant` when the parameter is repeated.
        """
        getlist = getattr(query, "getlist", None)
        for param in (*self.tenant_params, "tenant"):
            values = getlist(param) if getlist else ([query[param]] if param in query else [])
            if len(values) > 1:
                # Which one would the provider mean? Refuse rather than guess.
                raise InvalidTenant(f"The “{param}” parameter is repeated.")
            if values:
                return values[0]
        return None

    def validate_tenant(self, raw: Any) -> str:
        """Return the normalized tenant or raise :class:`InvalidTenant`.

        Lower-cases ASCII only: no Unicode folding, so fullwidth ``acme`` stays invalid
        rather than quietly becoming ``acme``.
        """
        if not isinstance(raw, str):
            raise InvalidTenant()
        value = raw.strip()
        if value.isascii():
            value = value.lower()
        if not self.tenant_pattern.fullmatch(value):
            # repr: the value is request input; a newline or escape must not reach a log raw.
            raise InvalidTenant(f"{raw[:80]!r} is not a valid {self.tenant_label}.")
        return value

    # -- scopes ----------------------------------------------------------
    def scopes(self, configured: str = "") -> list[str]:
        """The scopes to request: the app's own, else the provider's defaults; none at
        all for a provider without scopes (:attr:`scopes_supported` ``False``)."""
        if not self.scopes_supported:
            return []
        return configured.split() if configured.strip() else list(self.default_scopes)

    # -- token hooks -----------------------------------------------------
    def extra_authorize_params(self, tenant: str) -> dict[str, str]:
        """Provider-specific parameters for the authorization URL."""
        return {}

    def token_expiry(self, token: Mapping[str, Any], now: datetime) -> ExpiryInfo:
        """When the access token in ``token`` (the raw token response) expires.

        Resolution order (DESIGN.md): an absolute ``expires_at`` (epoch seconds; a
        value above :data:`EPOCH_MILLISECONDS_ABOVE` is read as milliseconds) →
        ``expires_in`` > 0 → the access token's JWT ``exp`` → :attr:`fallback_lifetime`
        (the provider's documented lifetime) → "never" (``expires_at`` ``None``), only
        when :attr:`access_tokens_expire` is ``False``. When the answer states more
        than one of the first three, the **earliest** moment wins (the token is
        refreshed before any statement says it dies); a tie goes to the source first
        in that order. ``expires_in`` of 0 or missing is *not* "never expires"
        (oauthlib reads it so). A figure is usable only if it is a finite number (an
        int, a float, or a numeric string such as ``"3600.0"``; never a bool) giving
        a lifetime in ``(0, MAX_TOKEN_LIFETIME]`` seconds from ``now``: ``1e12``, a
        negative value, an ``expires_at`` in the past or a JWT ``exp`` of ``1e20``
        falls through to the next source rather than raising (``OverflowError``) or
        postponing the refresh for centuries. Never raises for any input.
        """
        candidates: list[ExpiryInfo] = []

        def stated(seconds: float | None, source: Any) -> None:
            if seconds is not None:
                lifetime = timedelta(seconds=seconds)
                candidates.append(ExpiryInfo(now + lifetime, source, lifetime))

        at = _number(token.get("expires_at"))
        if at is not None and at > EPOCH_MILLISECONDS_ABOVE:
            at /= 1000
        stated(_lifetime(at - now.timestamp()) if at is not None else None, "expires_at")
        stated(_lifetime(_number(token.get("expires_in"))), "expires_in")
        access_token = token.get("access_token")
        claims = unverified_claims(access_token) if isinstance(access_token, str) else None
        exp = _number(claims.get("exp")) if claims else None
        stated(_lifetime(exp - now.timestamp()) if exp is not None else None, "jwt_exp")
        if candidates:
            # min() keeps the first of equal moments: the order above breaks ties.
            return min(candidates, key=lambda info: info.expires_at or now)
        if not self.access_tokens_expire:
            return ExpiryInfo(None, "never", None)
        fallback = timedelta(seconds=_lifetime(self.fallback_lifetime) or DEFAULT_FALLBACK_LIFETIME)
        return ExpiryInfo(now + fallback, "fallback", fallback)

    def check_id_token(
        self, token: Mapping[str, Any], *, nonce: str, client_id: str, scopes: list[str]
    ) -> None:
        """Check the ``id_token``'s ``nonce`` and ``aud``; raise :class:`IdTokenMismatch`.

        Required when this provider uses a nonce and ``openid`` was requested.
        """
        if not self.nonce:
            return
        id_token = token.get("id_token")
        if not id_token:
            if "openid" in scopes:
                raise IdTokenMismatch("The provider returned no id_token.")
            return
        claims = unverified_claims(id_token)
        if claims is None or claims.get("nonce") != nonce:
            raise IdTokenMismatch()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if client_id not in audiences:
            raise IdTokenMismatch()

    # -- tenant confirmation after the exchange ---------------------------------
    #: A Bearer ``GET`` relative to ``api_base_url`` that only the tenant's own API
    #: host answers for that tenant's tokens (``""``: the provider has none). It
    #: confirms the tenant when the code was redeemed at a token endpoint shared by
    #: every tenant, where a code from another tenant would be accepted too.
    tenant_check_path: ClassVar[str] = ""

    def tenant_check_required(self) -> bool:
        """Whether the tenant must be confirmed after the code exchange.

        True when the provider declares :attr:`tenant_check_path` and the configured
        ``token_url`` is shared by every tenant (its template has no ``{tenant}``).
        A per-tenant token host refuses another tenant's codes by itself.
        """
        return bool(self.tenant_check_path) and "{tenant}" not in self.endpoint_template(
            "token_url"
        )

    def tenant_check_url(self, tenant: str) -> str:
        """The absolute URL of :attr:`tenant_check_path` on ``tenant``'s API host."""
        base = self.endpoint("api_base_url", tenant)
        return base.rstrip("/") + "/" + self.tenant_check_path.lstrip("/")

    def tenant_from_identity(self, body: Any) -> str | None:
        """The tenant named in the JSON answer of the tenant check or of ``identity_url``,
        or ``None`` if it names none (may be any JSON value: it is validated after).

        Tenant check: compared with the expected tenant when not ``None``; otherwise the
        answer of the tenant's own host (a 2xx) is the confirmation. Tenant after the
        exchange: the tenant (``None``: the install fails, nothing stored). No I/O here.
        """
        return None

    def tenant_from_deauthorize(self, payload: Any) -> Any:
        """The tenant a verified deauthorize payload (parsed JSON) names: its
        :attr:`DeauthorizeSignature.tenant_field` member (Intercom: ``app_id``), or
        ``None``. Unvalidated (any JSON value). No I/O."""
        field = self.deauthorize.tenant_field if self.deauthorize is not None else ""
        return payload.get(field) if field and isinstance(payload, dict) else None

    def tenant_from_token(self, token: Mapping[str, Any]) -> str | None:
        """The tenant the token response names in :attr:`tenant_response_field` (a JSON
        integer such as HubSpot's ``hub_id`` as its decimal string), or ``None`` when the
        provider declares no field or the answer lacks it. Unvalidated. No I/O."""
        if not self.tenant_response_field:
            return None
        value = token.get(self.tenant_response_field)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value if isinstance(value, str) and value else None

    def aliased_error_code(self, body: Any) -> str | None:
        """The RFC 6749 code an error answer's parsed JSON ``body`` names through
        :attr:`error_code_aliases` (HubSpot v1: ``status: BAD_REFRESH_TOKEN`` →
        ``"invalid_grant"``), or ``None``. Only for a body without an ``error`` member
        (the caller reads that one first). No I/O; never raises."""
        if not isinstance(body, dict):
            return None
        for member, aliases in self.error_code_aliases.items():
            value = body.get(member)
            if isinstance(value, str) and value in aliases:
                return aliases[value]
        return None

    # -- app management (optional) ------------------------------------------
    # Data and readers only: :mod:`~django_helpdesk_oauth.services.apps_api` sends the
    # calls (``POST`` to ``apps_api_url`` + path, ``Bearer`` admin API key).
    #: The provider can generate a new client secret through an API.
    supports_secret_rotation: ClassVar[bool] = False
    #: The provider can register an app through an API.
    supports_app_registration: ClassVar[bool] = False
    #: Path, relative to ``apps_api_url``, that registers an app.
    app_registration_path: ClassVar[str] = ""
    #: Path, relative to ``apps_api_url``, that generates a new client secret; ``{app}`` is
    #: the provider-side app name (URL-quoted when substituted).
    secret_rotation_path: ClassVar[str] = ""
    #: What the admin API key for these calls must be allowed to do: shown where it is
    #: typed and in the message when the provider refuses it (401/403).
    api_key_hint: ClassVar[str] = ""
    #: What the provider-side app name (``ProviderApp.provider_app_name``) looks like.
    provider_app_name_hint: ClassVar[str] = ""

    def app_registration_body(self, *, name: str, title: str) -> dict[str, Any]:
        """The JSON body that registers app ``name`` (shown as ``title``)."""
        return {"name": name, "title": title}

    def registered_app(self, answer: Any) -> tuple[str, str] | None:
        """``(provider_app_name, client_id)`` from the registration's JSON answer, or
        ``None`` when it does not name both. No I/O."""
        return None

    def rotated_secret(self, answer: Any) -> str | None:
        """The new client secret from the rotation's JSON answer, or ``None``. No I/O."""
        return None

    def issuer(self, tenant: str) -> str:
        """The authorization server's identifier for RFC 9207 ``iss`` checks, or ``""``
        when it is not known (then ``iss`` is not checked).

        In order: the ``issuer`` set in ``HELPDESK_OAUTH["PROVIDERS"][key]``; else
        :attr:`issuer_template`, except when settings moved ``authorize_url`` (a sandbox,
        a proxy): the issuer then moves with it, keeping the path the declared templates
        put between the two (Gorgias: ``/oauth/authorize``); ``""`` when the moved URL
        does not end with that path. ``{tenant}`` is substituted (validated).
        """
        overrides = app_settings.provider_overrides(self.key)
        template = overrides.get("issuer") or ""
        if not template and self.issuer_template:
            declared = self.endpoints.get("authorize_url", "")
            moved = overrides.get("authorize_url")
            if not moved or moved == declared:
                template = self.issuer_template
            elif declared.startswith(self.issuer_template):
                tail = declared[len(self.issuer_template) :]
                if tail and moved.endswith(tail):
                    template = moved[: -len(tail)]
        if not template:
            return ""
        if "{tenant}" in template:
            template = template.replace("{tenant}", self.validate_tenant(tenant))
        return template

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"
