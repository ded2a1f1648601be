"""The declarative provider definition and its few hooks.

A provider is data (endpoint templates, client authentication, scopes, tenant
rules, token behaviour) plus hooks a subclass may override. Provider modules
never touch the ORM; the service layer drives them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from ..conf import app_settings
from ..exceptions import ConfigurationError, IdTokenMismatch, InvalidTenant
from ..jwt import unverified_claims

# One DNS label, lowercase ASCII: what a helpdesk subdomain / org name can be.
SUBDOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)

ENDPOINTS = ("authorize_url", "token_url", "revoke_url", "api_base_url", "apps_api_url")

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


@dataclass(frozen=True)
class ExpiryInfo:
    """When an access token expires, and where that figure came from."""

    expires_at: datetime
    source: Literal["expires_in", "jwt_exp", "fallback"]


class Provider:
    """Base provider definition. Subclasses set the class attributes below."""

    #: Registry key stored in ``ProviderApp.provider``.
    key: ClassVar[str] = ""
    #: Human name.
    name: ClassVar[str] = ""
    #: Default endpoint URL templates; ``{tenant}`` is substituted. Settings override them.
    endpoints: ClassVar[Mapping[str, str]] = {}
    #: How the client authenticates at the token and revoke endpoints.
    client_auth: ClassVar[Literal["basic", "body"]] = "basic"
    #: Scopes requested when the ``ProviderApp`` sets none.
    default_scopes: ClassVar[tuple[str, ...]] = ()
    #: What joins the scopes in the authorize URL (RFC 6749: a space; Zoho: a comma).
    scope_delimiter: ClassVar[str] = " "
    #: Query parameters the install view reads the tenant from, in order.
    tenant_params: ClassVar[tuple[str, ...]] = ("tenant",)
    #: What the tenant is called in pages and messages.
    tenant_label: ClassVar[str] = "account"
    #: Help text shown where the user types the tenant.
    tenant_hint: ClassVar[str] = ""
    tenant_pattern: ClassVar[re.Pattern[str]] = SUBDOMAIN_LABEL
    #: Show a form asking for the tenant when it is missing (instead of a 400).
    ask_for_tenant: ClassVar[bool] = False
    #: The refresh response carries a new refresh token and spends the old one.
    rotates_refresh_tokens: ClassVar[bool] = False
    #: Lifetime assumed when neither ``expires_in`` nor a JWT ``exp`` tells.
    fallback_lifetime: ClassVar[int] = 3600
    #: Send PKCE (S256). Servers ignore parameters they do not know.
    pkce: ClassVar[bool] = True
    #: Send an OpenID Connect ``nonce`` and check it in the ``id_token``.
    nonce: ClassVar[bool] = False

    # -- endpoints -------------------------------------------------------
    def endpoint_template(self, name: str) -> str:
        """The template for ``name`` (settings override first), or ``""`` if unsupported."""
        if name not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {name!r}")
        return app_settings.provider_overrides(self.key).get(name) or self.endpoints.get(name, "")

    def endpoint(self, name: str, tenant: str = "") -> str:
        """The URL of endpoint ``name`` for ``tenant`` (which must already be valid)."""
        template = self.endpoint_template(name)
        if not template:
            raise ConfigurationError(
                f'The {self.name} provider has no {name}: set HELPDESK_OAUTH["PROVIDERS"]'
                f'["{self.key}"]["{name}"].'
            )
        if "{tenant}" in template:
            template = template.replace("{tenant}", self.validate_tenant(tenant))
        return template

    @property
    def supports_revoke(self) -> bool:
        """Whether a revoke endpoint is known for this provider."""
        return bool(self.endpoint_template("revoke_url"))

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
        """The scopes to request: the app's own, else the provider's defaults."""
        return configured.split() if configured.strip() else list(self.default_scopes)

    # -- token hooks -----------------------------------------------------
    def extra_authorize_params(self, tenant: str) -> dict[str, str]:
        """Provider-specific parameters for the authorization URL."""
        return {}

    def token_expiry(self, token: Mapping[str, Any], now: datetime) -> ExpiryInfo:
        """When the access token in ``token`` (the raw token response) expires.

        Resolution order: ``expires_in`` > 0 → the access token's JWT ``exp`` →
        :attr:`fallback_lifetime` (the provider's documented lifetime). When both of
        the first two are usable the earlier wins. ``expires_in`` of 0 or missing is
        *not* "never expires" (oauthlib reads it so). A figure is usable only if it
        is a finite number (an int, a float, or a numeric string such as
        ``"3600.0"``; never a bool) giving a lifetime in ``(0, MAX_TOKEN_LIFETIME]``
        seconds: ``1e12``, a negative value or a JWT ``exp`` of ``1e20`` falls
        through to the next source rather than raising (``OverflowError``) or
        postponing the refresh for centuries. Never raises for any input.
        """
        candidates: list[ExpiryInfo] = []
        seconds = _lifetime(_number(token.get("expires_in")))
        if seconds is not None:
            candidates.append(ExpiryInfo(now + timedelta(seconds=seconds), "expires_in"))
        access_token = token.get("access_token")
        claims = unverified_claims(access_token) if isinstance(access_token, str) else None
        exp = _number(claims.get("exp")) if claims else None
        remaining = _lifetime(exp - now.timestamp()) if exp is not None else None
        if remaining is not None:
            candidates.append(ExpiryInfo(now + timedelta(seconds=remaining), "jwt_exp"))
        if not candidates:
            fallback = _lifetime(self.fallback_lifetime) or DEFAULT_FALLBACK_LIFETIME
            return ExpiryInfo(now + timedelta(seconds=fallback), "fallback")
        return min(candidates, key=lambda info: info.expires_at)

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
        """The tenant named in the JSON answer of the tenant check, or ``None`` if it names none.

        Compared with the expected tenant when not ``None``; otherwise the answer
        of the tenant's own host (a 2xx) is the confirmation. No I/O here.
        """
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
        """The authorization server's identifier for RFC 9207 ``iss`` checks.

        The origin-and-path of the authorize endpoint minus ``/oauth/authorize``.
        """
        url = self.endpoint("authorize_url", tenant)
        return url.removesuffix("/").removesuffix("/oauth/authorize")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"
