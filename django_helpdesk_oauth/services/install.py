"""Install → consent → callback, for any registered provider."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import client
from ..conf import app_settings
from ..exceptions import (
    AdminConsentRequired,
    AppUnavailable,
    AuthorizationDenied,
    AuthorizationError,
    AuthorizationServerError,
    CodeRejected,
    FlowError,
    HelpdeskOAuthError,
    InvalidConnectionConfig,
    InvalidGrant,
    InvalidState,
    IssuerMismatch,
    ProviderError,
    TokenExchangeFailed,
    UnknownProvider,
)
from ..models import AuthorizationRequest, Installation, ProviderApp, Token
from ..providers import Provider
from ..signals import installation_completed
from ..token_response import TokenResponse
from .creds import credentials, with_secret_fallback
from .identity import confirm_tenant, learn_tenant
from .tokens import token_fields, unusable
from .uninstall import (
    queue_revocation,
    refresh_before_revoking,
    revoke_or_retry,
    schedule_revocation,
    stored_token,
)

logger = logging.getLogger(__name__)

#: Session key holding the random value that binds pending flows to this browser.
SESSION_BINDING_KEY = "helpdesk_oauth_binding"
MAX_PARAM_LENGTH = 2048
#: Pending authorization requests kept per browser; starting another drops the oldest.
MAX_PENDING_PER_BROWSER = 5


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _browser_binding(session: Any, *, create: bool) -> str:
    value = session.get(SESSION_BINDING_KEY)
    if not isinstance(value, str) or not value:
        if not create:
            return ""
        value = secrets.token_urlsafe(32)
        session[SESSION_BINDING_KEY] = value
    return _digest(value)


def get_app(slug: str) -> ProviderApp:
    """The enabled app with this slug; :class:`AppUnavailable` otherwise."""
    app = ProviderApp.objects.filter(slug=slug).first()
    if app is None or not app.enabled:
        raise AppUnavailable()
    try:
        app.provider_spec  # noqa: B018  (an app of an unregistered provider is unavailable too)
    except UnknownProvider:
        logger.error("Provider app %s names an unregistered provider %r.", slug, app.provider)
        raise AppUnavailable() from None
    return app


@sensitive_variables()
def begin_install(
    app: ProviderApp,
    raw_tenant: Any,
    *,
    session: Any,
    redirect_uri: str,
    user: Any = None,
    config: Mapping[str, Any] | None = None,
) -> str:
    """Validate the tenant and ``config`` (the ``connection_config`` the install request
    chose, e.g. ``{"region": "eu"}``), store an authorization request, return the
    authorize URL.

    ``raw_tenant`` may be ``None`` for a provider that names the tenant after the
    exchange (:attr:`~.Provider.tenant_after_exchange`). Raises :class:`InvalidTenant`
    or :class:`InvalidConnectionConfig` (400) before anything is stored or built.
    """
    provider = app.provider_spec
    if raw_tenant is None and provider.tenant_after_exchange:
        tenant = ""  # learned from the token response or identity_url at the callback
    else:
        tenant = provider.validate_tenant(raw_tenant)
    connection_config = provider.validate_connection_config(config)
    now = timezone.now()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(24) if provider.nonce else ""
    verifier = secrets.token_urlsafe(64) if provider.pkce else ""
    scopes = app.scope_list()
    # Static extras first; the computed hook may refine them for the tenant.
    extra = {**provider.authorize_params, **provider.extra_authorize_params(tenant)}
    if nonce:
        extra["nonce"] = nonce
    if verifier:
        extra.update(code_challenge=_pkce_challenge(verifier), code_challenge_method="S256")
    url = client.authorization_url(
        credentials(app, tenant, config=connection_config),
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        extra=extra,
    )
    # Expired requests are dead weight; drop them while we are here (indexed).
    AuthorizationRequest.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    binding = _browser_binding(session, create=True)
    AuthorizationRequest.objects.create(
        state_hash=_digest(state),
        app=app,
        tenant=tenant,
        connection_config=connection_config,
        browser_binding=binding,
        nonce=nonce,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        scopes=" ".join(scopes),
        user=user if getattr(user, "is_authenticated", False) else None,
        created_at=now,
        expires_at=now + timedelta(seconds=app_settings.STATE_TTL),
    )
    _keep_newest_requests(binding)
    return url


def _keep_newest_requests(binding: str) -> None:
    """Keep this browser's newest :data:`MAX_PENDING_PER_BROWSER` pending requests.

    A browser reloading the install URL (or an anonymous script reusing its
    cookie) can't pile up rows; a user retrying, or with a few tabs open, still
    finishes with any of the newest ones. Indexed on ``browser_binding``.
    """
    older = (
        AuthorizationRequest.objects.filter(browser_binding=binding)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)[MAX_PENDING_PER_BROWSER:]
    )
    stale = list(older)
    if stale:
        AuthorizationRequest.objects.filter(pk__in=stale).delete()


def _single(query: Mapping[str, Any], name: str) -> str | None:
    """One query parameter's value; repeated or oversized values are rejected."""
    getlist = getattr(query, "getlist", None)
    values = getlist(name) if getlist else ([query[name]] if name in query else [])
    if not values:
        return None
    if len(values) > 1 or len(values[0]) > MAX_PARAM_LENGTH:
        raise FlowError(f"The “{name}” parameter is malformed.")
    return values[0]


def _claim_request(app: ProviderApp, state: str | None, session: Any) -> AuthorizationRequest:
    """Take the pending request for ``state`` — once, unexpired, from this browser."""
    if not state:
        raise InvalidState()
    binding = _browser_binding(session, create=False)
    pending = AuthorizationRequest.objects.filter(
        state_hash=_digest(state),
        app=app,
        browser_binding=binding,
        expires_at__gt=timezone.now(),
    )
    auth_request = pending.first() if binding else None
    # The DELETE is the single-use guard: of two concurrent callbacks, one deletes the row.
    if auth_request is None or pending.filter(pk=auth_request.pk).delete()[0] != 1:
        raise InvalidState()
    return auth_request


@dataclass(frozen=True)
class InstallResult:
    """What :func:`complete_install` did."""

    installation: Installation
    created: bool


@sensitive_variables()
def _fields_to_store(
    provider: Provider, raw: TokenResponse, *, app_slug: str, tenant: str
) -> tuple[dict[str, Any], str]:
    """The ``Token`` fields to store from the exchange's answer, and the problem to record.

    The code is spent once the provider answered 2xx, so its answer is kept as far
    as it is usable. An unusable access token (not a string, not sendable in a
    header, a non-Bearer type, a body that is not a JSON object) with a usable
    refresh token still installs: the refresh token is stored with an empty access
    token due now, so the first ``api_session()`` call or sweep refreshes it, and
    the installation's ``last_error`` says why (no token in it). With no usable
    refresh token either there is nothing to keep: :class:`TokenExchangeFailed`
    (502, nothing written).
    """
    now = timezone.now()
    if raw.usable:
        return token_fields(provider, raw, now=now), ""
    problem = unusable(provider, raw, "token exchange")
    logger.warning("Install of %s for tenant %r: %s", app_slug, tenant, problem)
    if not raw.refresh_token:
        raise TokenExchangeFailed()
    fields = {
        "access_token": "",
        "refresh_token": raw.refresh_token,
        "token_type": raw.token_type,
        "scope": raw.scope,
        "expires_at": now,  # due now, whatever the provider's lifetime rule
        "lifetime": None,
    }
    return fields, str(problem)[:255]


#: RFC 6749 §4.1.2.1 codes that say the provider itself failed; retrying later may work.
_SERVER_ERRORS = frozenset({"server_error", "temporarily_unavailable"})
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)


def _error_code(raw: object) -> str:
    """The provider's ``error`` code if it looks like one, else ``"unrecognized"``: it goes
    into logs and exceptions, so never more than 64 plain characters."""
    return raw if isinstance(raw, str) and _ERROR_CODE.fullmatch(raw) else "unrecognized"


def _authorization_error(
    app: ProviderApp, tenant: str, raw_error: object, description: object
) -> AuthorizationError:
    """The error for a callback carrying ``?error=``: ``access_denied`` is the user's
    Deny (403); the provider's own failures are 502; any other code is 400. The code is
    logged quoted; ``error_description`` only as a repr cut to 200 characters."""
    code = _error_code(raw_error)
    cls: type[AuthorizationError]
    provider = app.provider_spec
    admin_only = provider.admin_consent
    if code in _SERVER_ERRORS:
        # The provider's own failure wins over any wording in its description.
        cls = AuthorizationServerError
    elif admin_only is not None and admin_only.matches(raw_error, description):
        # Not a Deny: the user may not approve at all (Front: company admins only).
        cls = AdminConsentRequired
    elif code == "access_denied":
        cls = AuthorizationDenied
    else:
        cls = AuthorizationError
    text = description[:200] if isinstance(description, str) else ""
    log = logger.info if cls in (AuthorizationDenied, AdminConsentRequired) else logger.warning
    log(
        "Install of %s for tenant %r: the provider answered error=%r (description %r).",
        app.slug,
        tenant,
        code,
        text,
    )
    if cls is AdminConsentRequired:
        return cls(
            f"Only an administrator of the {provider.name} {provider.tenant_noun} can approve "
            "this app. Nothing was installed: ask an administrator to install it.",
            error=code,
        )
    return cls(error=code)


@sensitive_variables()
@sensitive_variables()
def _revoke_refused_grant(
    app: ProviderApp, tenant: str | None, raw: TokenResponse, config: Mapping[str, Any]
) -> None:
    """Queue the revocation of a grant issued to an install we then refused, the
    provider's way, with the connection config the code was exchanged under. Not for a
    revocation that uninstalls the app for the whole tenant (Intercom): the refused
    grant's tenant may be one of our live installations."""
    strategy = app.provider_spec.revocation
    token = getattr(raw, strategy.token, None)
    if strategy.ends_installation or not isinstance(token, str):
        return
    pending = queue_revocation(app, tenant or "", token, kind=strategy.token, config=config)
    if pending is not None:
        # One attempt now, then the background retry; after the caller's commit
        # (ATOMIC_REQUESTS) so the retry finds the row.
        transaction.on_commit(lambda: revoke_or_retry(pending))


def complete_install(
    app: ProviderApp, query: Mapping[str, Any], *, session: Any, user: Any = None
) -> InstallResult:
    """Handle the callback: check state/iss/error, exchange the code, store everything."""
    provider = app.provider_spec
    state = _single(query, "state")
    error = _single(query, "error")
    code = _single(query, "code")
    issuer = _single(query, "iss")
    auth_request = _claim_request(app, state, session)
    tenant = auth_request.tenant
    # Chosen and validated at install time; nothing on the callback can change it.
    config = provider.validate_connection_config(auth_request.connection_config)
    # An unknown issuer ("": nothing declared or configured) cannot be compared.
    expected_issuer = provider.issuer(tenant)
    if issuer is not None and expected_issuer and issuer != expected_issuer:
        raise IssuerMismatch()
    if error is not None:
        # Only logged (cut): a long or repeated description must not hide the error code.
        raise _authorization_error(app, tenant, error, query.get("error_description"))
    if not code:
        raise FlowError("The provider sent no authorization code.")
    # The one exception to the rule above (Zoho's ``accounts-server``): a data centre the
    # callback names, checked against the declared ones before any URL is built.
    config = provider.connection_config_from_callback(query, config)

    try:
        raw = with_secret_fallback(
            app,
            tenant,
            lambda creds: client.exchange_code(
                creds,
                code=code,
                redirect_uri=auth_request.redirect_uri,
                code_verifier=auth_request.code_verifier,
            ),
            config=config,
        )
    except ProviderError as exc:
        logger.warning("Install of %s for tenant %r failed: %s", app.slug, tenant, exc)
        # A rejected code is bad input (4xx); an unreachable provider is a gateway error.
        if isinstance(exc, InvalidGrant) or not exc.transient:
            raise CodeRejected(error=_error_code(exc.error) if exc.error else "") from None
        raise TokenExchangeFailed() from None
    try:
        provider.check_id_token(
            raw,
            nonce=auth_request.nonce,
            client_id=app.client_id,
            scopes=auth_request.scopes.split(),
        )
        try:
            # Before any other request: an answer naming another data centre is not trusted.
            provider.check_token_region(raw, config)
        except InvalidConnectionConfig as exc:
            logger.warning("Install of %s for tenant %r refused: %s", app.slug, tenant, exc)
            raise TokenExchangeFailed() from None
        if provider.tenant_after_exchange:
            # Named by the token response or identity_url, validated, before anything is stored.
            tenant = learn_tenant(provider, raw, expected=tenant, config=config, app_slug=app.slug)
        else:
            # A token endpoint shared by every tenant (Kustomer's global set) takes another
            # org's code too: the tenant's own API host confirms it before anything is stored.
            confirm_tenant(provider, tenant, raw, app_slug=app.slug)
    except HelpdeskOAuthError:
        # Refused after the exchange: the grant just issued is live at the provider and
        # nothing of ours will hold it, so it is revoked; the same error is raised.
        _revoke_refused_grant(app, tenant, raw, config)
        raise
    fields, problem = _fields_to_store(provider, raw, app_slug=app.slug, tenant=tenant)
    user = auth_request.user or (user if getattr(user, "is_authenticated", False) else None)
    replacing = Installation.objects.filter(
        app=app, tenant=tenant, status=Installation.Status.ACTIVE
    ).first()
    if replacing is not None:
        # The replaced grant is revoked below: with a fresh access token if it takes one.
        refresh_before_revoking(replacing)
    with transaction.atomic():
        installation, created = Installation.objects.select_for_update().get_or_create(
            app=app, tenant=tenant, defaults={"installed_by": user}
        )
        installation.status = Installation.Status.ACTIVE
        installation.installed_by = user or installation.installed_by
        installation.installed_at = timezone.now()
        installation.uninstalled_at = None
        installation.last_error = problem
        installation.last_error_at = timezone.now() if problem else None
        installation.refresh_failures = 0
        # The replaced grant is revoked where it lives (its own region's host).
        replaced_config = installation.connection_config
        installation.connection_config = config
        installation.save()
        # The token the provider's revocation takes (Gorgias: the refresh token).
        strategy = provider.revocation
        replaced = stored_token(installation, strategy.token)
        values = {
            **fields,
            "issued_at": timezone.now(),
            "lease_owner": "",
            "lease_expires_at": None,
        }
        Token.objects.update_or_create(
            installation=installation,
            # A new version: a refresh still in flight for the replaced grant finds its
            # version gone and discards its answer instead of overwriting this one.
            defaults={**values, "refresh_count": F("refresh_count") + 1},
            create_defaults=values,
        )
        if replaced != fields[strategy.token] and not strategy.ends_installation:
            # The replaced grant would stay live at the provider: revoke it in the
            # background (not here: the user's callback doesn't wait on the provider).
            # Never with a call that uninstalls the app (Intercom): that ends the new grant.
            pending = queue_revocation(
                app, tenant, replaced, kind=strategy.token, config=replaced_config
            )
            if pending is not None:
                transaction.on_commit(lambda: schedule_revocation(pending))
    logger.info("Installed %s for tenant %r (installation %s).", app.slug, tenant, installation.pk)
    installation_completed.send(Installation, installation=installation, created=created)
    return InstallResult(installation, created)
