"""The package's error hierarchy.

Messages never carry a token, a secret or a provider response body: callers
log them and show them in the admin.
"""

from __future__ import annotations

from typing import Any

import requests
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation


class HelpdeskOAuthError(Exception):
    """Base of every error this package raises (configuration errors aside)."""


class ConfigurationError(ImproperlyConfigured):
    """The project's settings or a provider app are misconfigured."""


class UnknownProvider(ConfigurationError):
    """No provider is registered under this key."""


class DecryptionError(HelpdeskOAuthError):
    """A stored value cannot be decrypted with any configured key.

    ``model`` (a label such as ``"helpdesk_oauth.Token"``), ``pk`` and ``field`` name
    the value when known; the message never includes it.
    """

    def __init__(self, message: str, *, model: str = "", pk: Any = None, field: str = "") -> None:
        super().__init__(message)
        self.model, self.pk, self.field = model, pk, field

    @classmethod
    def for_field(cls, instance: object, field: object, hint: str = "") -> DecryptionError:
        """The error for ``instance.<field>`` (a model instance and one of its fields);
        ``hint``, when given, is appended (the fix when a known key opens the value)."""
        meta = getattr(instance, "_meta", None)
        label = meta.label if meta is not None else type(instance).__name__
        name = str(getattr(field, "name", field))
        verbose = str(getattr(field, "verbose_name", name))
        pk = getattr(instance, "pk", None)
        return cls(
            f"The stored {verbose} cannot be decrypted with any configured key ({label} "
            f'pk={pk}): restore the key it was written with (HELPDESK_OAUTH["ENCRYPTION_KEYS"], '
            "or SECRET_KEY_FALLBACKS when that is empty), or replace the value."
            + (f" {hint}" if hint else ""),
            model=label,
            pk=pk,
            field=name,
        )


class InvalidAppInput(HelpdeskOAuthError, ValueError):
    """A provider app cannot be created from this input; nothing was written or sent.

    ``errors`` maps a field name (``"__all__"``: the input as a whole) to its messages;
    ``str()`` is all of them on one line. No message quotes a secret.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(
            "Invalid provider app: "
            + "; ".join(
                " ".join(messages) if field == "__all__" else f"{field}: {' '.join(messages)}"
                for field, messages in errors.items()
            )
        )


class FlowError(HelpdeskOAuthError):
    """The install → consent → callback flow cannot go on; shown to the user as a 4xx page."""

    status = 400
    #: A short, user-facing explanation (never includes secrets).
    public_message = "The installation request is invalid."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.public_message)
        if message:
            self.public_message = message


class InvalidTenant(FlowError, SuspiciousOperation):
    """The tenant (account subdomain / org name) is missing or not a valid subdomain label."""

    public_message = "The account name is missing or is not a valid account name."


class InvalidConnectionConfig(FlowError, SuspiciousOperation):
    """A connection setting (a region, a host) that the provider does not allow (400);
    nothing was sent anywhere."""

    public_message = "The region or connection setting is not one this helpdesk offers."


class InvalidSignature(FlowError, SuspiciousOperation):
    """A provider's webhook (deauthorize) whose signature is missing or wrong (401);
    nothing was read from its body and nothing changed."""

    status = 401
    public_message = "The signature is missing or invalid."


class InvalidState(FlowError, SuspiciousOperation):
    """The ``state`` is missing, forged, expired, replayed or from another browser session."""

    public_message = "This installation link is invalid or has expired. Please start again."


class AppUnavailable(FlowError):
    """The provider app slug is unknown or the app is disabled."""

    status = 404
    public_message = "This integration is not available."


class AppMisconfigured(FlowError):
    """The app cannot be used as configured (e.g. its client secret cannot be decrypted)."""

    status = 503
    public_message = (
        "This integration is misconfigured. Please try again later or contact the site's "
        "administrators."
    )


class AuthorizationError(FlowError):
    """The provider answered the authorization request with an RFC 6749 ``?error=`` code
    that is neither ``access_denied`` nor a server failure (``invalid_scope``,
    ``unauthorized_client``, ``invalid_request``, an unknown code…): 400.

    ``error`` is the provider's code, sanitized: at most 64 characters of
    ``[A-Za-z0-9_.-]``, else ``"unrecognized"``. The provider's ``error_description``
    is never kept here nor shown.
    """

    status = 400
    public_message = (
        "The provider refused the installation request. Please contact the site's administrators."
    )

    def __init__(self, message: str | None = None, *, error: str = "") -> None:
        super().__init__(message)
        self.error = error


class AuthorizationDenied(AuthorizationError):
    """The user declined the authorization request (``?error=access_denied``): 403."""

    status = 403
    public_message = "The installation was cancelled: access was not granted."


class AdminConsentRequired(AuthorizationError):
    """The user who approved is not an administrator of the account, and the provider
    lets only administrators connect an app (Front: ``?error=`` with the provider's
    "You need to be an administrator" description, declared by
    :attr:`~django_helpdesk_oauth.providers.base.Provider.admin_consent`): 403. Nothing
    was installed; an administrator of the same account can start again."""

    status = 403
    public_message = (
        "Only an administrator of the account can approve this app. Nothing was "
        "installed: ask an administrator to install it."
    )


class AuthorizationServerError(AuthorizationError):
    """The provider reported a failure of its own on the callback (``?error=server_error``
    or ``temporarily_unavailable``): 502; starting again later may work."""

    status = 502
    public_message = (
        "The provider had a problem and could not complete the installation. "
        "Please try again in a few minutes."
    )


class IdTokenMismatch(FlowError, SuspiciousOperation):
    """The ``id_token`` returned with the tokens does not belong to this request (nonce, aud)."""

    public_message = "The provider's answer could not be verified. Please start again."


class IssuerMismatch(FlowError, SuspiciousOperation):
    """The callback's ``iss`` does not match the authorization server the flow started with."""

    public_message = "The provider's answer came from an unexpected server. Please start again."


class ProviderError(HelpdeskOAuthError):
    """An OAuth endpoint answered with an error or could not be reached.

    ``error`` is the OAuth error code (``invalid_grant``, ``invalid_client``…) when the
    provider sent one; ``status`` the HTTP status (``None`` for network errors);
    ``retry_after`` the seconds from a ``Retry-After`` header, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        error: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.error = error
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """True when retrying later may succeed (network error, timeout, 5xx, 429)."""
        return self.status is None or self.status >= 500 or self.status == 429


class InvalidGrant(ProviderError):
    """The refresh token or code was rejected (``invalid_grant``): the tenant must re-authorize."""


class InvalidClient(ProviderError):
    """The app's credentials were rejected (``invalid_client``): an app problem, not a tenant's."""


class ResponseTooLarge(ProviderError):
    """A provider's answer is larger than we read (``transport.MAX_RESPONSE_BYTES``, 1 MiB).

    ``status`` is the HTTP status of that answer, so a huge 5xx/429 stays transient
    while a huge 2xx is not; ``limit`` the bound in bytes. The body is never kept.
    """

    def __init__(
        self, message: str, *, limit: int, provider: str = "", status: int | None = None
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.limit = limit


class UnusableTokenResponse(ProviderError):
    """The token endpoint answered 2xx, but its access token cannot be used.

    Not JSON, no ``access_token``, one that is not a string or cannot go in an
    HTTP header, or a ``token_type`` other than Bearer. A usable refresh token
    from the same answer is still stored (a rotating provider has already spent
    the one we sent). Transient: the next refresh may get a usable answer. The
    message names no token.
    """

    @property
    def transient(self) -> bool:
        """Always true: retrying with the stored (possibly new) refresh token may succeed."""
        return True


class TokenExchangeFailed(FlowError):
    """The code could not be exchanged for tokens during the callback: the provider was
    unreachable, failed (5xx, 429) or gave no usable tokens (502)."""

    status = 502
    public_message = "The provider did not complete the installation. Please try again."


class CodeRejected(TokenExchangeFailed):
    """The token endpoint refused the code itself (``invalid_grant`` or another 4xx):
    bad input, 400. ``error`` is the provider's OAuth error code, when it sent one."""

    status = 400

    def __init__(self, message: str | None = None, *, error: str = "") -> None:
        super().__init__(message)
        self.error = error


class TenantMismatch(FlowError):
    """The tokens belong to another tenant than the one the flow started for.

    Raised when the code was redeemed at a token endpoint shared by every tenant
    (Kustomer's global set) and the tenant's own API host refused the new token
    or named another tenant. Nothing is stored; an existing installation is untouched.
    """

    status = 403
    public_message = (
        "You approved the app in another account than the one this installation is "
        "for. Nothing was installed: start again and approve it in the same account."
    )


class TenantUnconfirmed(FlowError):
    """The tenant's API host could not confirm the new tokens (timeout, 5xx, bad answer).

    Nothing is stored; the user may start again.
    """

    status = 502
    public_message = (
        "The provider could not confirm which account approved the app. "
        "Nothing was installed; please try again."
    )


class NotInstalled(HelpdeskOAuthError):
    """The installation has no usable token (uninstalled, or needs re-authorization)."""


class UnusableAccessToken(NotInstalled):
    """The stored access token cannot be sent in an HTTP header, and a refresh did not
    replace it (rows written before tokens were checked). The message names no token."""


class RedirectRefused(HelpdeskOAuthError, requests.RequestException):
    """``api_session()`` got a redirect off the installation's API origin and did not follow it.

    The bearer token is for the tenant's API host only, and a foreign answer must not
    pass for the API's. ``status`` is the redirect's HTTP status; ``location`` the
    target's origin (``scheme://host[:port]``, no path or query, so never a token).
    Also a :class:`requests.RequestException`, like any failed request of a session.
    """

    def __init__(self, status: int, location: str) -> None:
        super().__init__(
            f"The API answered HTTP {status} with a redirect to {location!r}, "
            "off this installation's API host; not followed."
        )
        self.status = status
        self.location = location
