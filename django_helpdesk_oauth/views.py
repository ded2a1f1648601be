"""Install and callback views: thin layers over :mod:`.services`.

Every :class:`~django_helpdesk_oauth.exceptions.FlowError` becomes a small
page with its status (4xx, or 502 when the provider is unreachable); nothing
is written on those paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render, resolve_url
from django.urls import NoReverseMatch
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from . import services
from .conf import app_settings
from .exceptions import (
    AppMisconfigured,
    DecryptionError,
    FlowError,
    InvalidState,
    UnknownProvider,
)
from .models import Installation, ProviderApp
from .reporting import sensitive_oauth_view
from .services import links

logger = logging.getLogger(__name__)


def _error_page(request: HttpRequest, exc: FlowError, app: object = None) -> HttpResponse:
    # %r: the message may quote request input (a tenant with a newline must not forge a line).
    logger.info("Install flow refused (%s): %r", type(exc).__name__, exc.public_message)
    return render(
        request,
        "helpdesk_oauth/error.html",
        {"message": exc.public_message, "app": app, "back_url": success_url()},
        status=exc.status,
    )


def success_url() -> str:
    """``SUCCESS_URL`` resolved: a URL name reversed, or a path from the root.

    An off-site value (check E004) or one that is neither (check E008: a name that does
    not reverse would otherwise be followed relative to the callback URL) falls back to
    ``/``, with a warning naming the setting.
    """
    target = app_settings.SUCCESS_URL
    try:
        url = str(resolve_url(target))
    except NoReverseMatch:
        url = str(target or "")
    if not url.startswith("/") or not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        # %r: the value comes from settings, but a newline must not forge a log line.
        logger.warning(
            'HELPDESK_OAUTH["SUCCESS_URL"] = %r is neither a URL name that reverses nor a '
            "path on this site; redirecting to '/' (see manage.py check).",
            target,
        )
        return "/"
    return url


def callback_url(request: HttpRequest, slug: str) -> str:
    """The redirect URI registered at the provider for app ``slug``."""
    return links.redirect_uri(slug, request)


def _flow_view(
    view: Callable[[HttpRequest, ProviderApp], HttpResponse],
) -> Callable[[HttpRequest, str], HttpResponse]:
    """Resolve the enabled app from the URL's slug; a FlowError becomes its 4xx page.

    A secret that no configured key decrypts (a wrong or lost encryption key) becomes
    the 503 "misconfigured" page, checked before the flow starts so nobody consents
    for nothing; a PKCE verifier unreadable at the callback ends the same way.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        app = None
        try:
            app = services.get_app(slug)
            app.client_secret  # noqa: B018  (raises DecryptionError when unreadable)
            return view(request, app)
        except FlowError as exc:
            return _error_page(request, exc, app)
        except DecryptionError as exc:
            logger.error("Provider app %r cannot be used: %s", slug, exc)
            return _error_page(request, AppMisconfigured(), app)

    return wrapper


@sensitive_variables()
@sensitive_oauth_view
@never_cache
@require_GET
@_flow_view
def install(request: HttpRequest, app: ProviderApp) -> HttpResponse:
    """Start an install: validate the tenant, redirect to the provider's consent page."""
    provider = app.provider_spec
    raw_tenant = provider.tenant_from_query(request.GET)
    if raw_tenant is None and provider.ask_for_tenant and not provider.tenant_after_exchange:
        return render(
            request,
            "helpdesk_oauth/ask_tenant.html",
            {"app": app, "provider": provider, "param": provider.tenant_params[0]},
        )
    url = services.begin_install(
        app,
        raw_tenant,
        session=request.session,
        redirect_uri=callback_url(request, app.slug),
        user=request.user,
        # The region (validated): chosen here only, never by the callback.
        config=provider.connection_config_from_query(request.GET),
    )
    return HttpResponseRedirect(url)


@sensitive_variables()
@sensitive_oauth_view
@never_cache
@require_GET
@_flow_view
def callback(request: HttpRequest, app: ProviderApp) -> HttpResponse:
    """The ``redirect_uri``: finish the install and send the browser to ``SUCCESS_URL``.

    A pending request not found (400) is explained when the browser sent no session
    cookie at all: the request is bound to the session (see :func:`_no_session_cookie`).
    """
    try:
        services.complete_install(app, request.GET, session=request.session, user=request.user)
    except InvalidState:
        reason = _no_session_cookie(request)
        if reason is None:
            raise
        raise InvalidState(reason) from None
    return HttpResponseRedirect(success_url())


def _no_session_cookie(request: HttpRequest) -> str | None:
    """Why the pending authorization request can't be found when the callback came with no
    session cookie (it is bound to the browser's session); ``None`` when one was sent."""
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    samesite = settings.SESSION_COOKIE_SAMESITE
    if isinstance(samesite, str) and samesite.lower() == "strict":
        return (
            "This installation could not be completed because the browser did not send the "
            f"session cookie: SESSION_COOKIE_SAMESITE is {samesite!r}, so it is not sent on the "
            "provider's redirect back here. The site's administrator must set it to 'Lax' "
            "(see manage.py check); then start again."
        )
    return (
        "This installation could not be completed because the browser sent no session "
        "cookie with it: cookies are blocked for this site, or the installation was started "
        "on a different host name than this one. Allow cookies and start again from the "
        "same address."
    )


#: The largest deauthorize body read, in bytes (a provider's webhook is a small JSON object).
MAX_DEAUTHORIZE_BODY = 64 * 1024


def _webhook_answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": status, "message": message}, status=status)


@sensitive_variables()
@sensitive_oauth_view
@csrf_exempt  # posted by the provider, authenticated by its signature instead
@never_cache
@require_POST
def deauthorize(request: HttpRequest, slug: str) -> HttpResponse:
    """Provider-initiated uninstall: ``POST <slug>/deauthorize/``.

    404 for an unknown slug or a provider without a deauthorize scheme; 413 for a body
    above :data:`MAX_DEAUTHORIZE_BODY` bytes; 401 for a missing or bad signature
    (checked before the body is parsed); 400 for a signed body naming no valid tenant;
    200 otherwise, also for an unknown or already uninstalled tenant (nothing changed).
    See :func:`~django_helpdesk_oauth.services.uninstall.deauthorize`.
    """
    app = ProviderApp.objects.filter(slug=slug).first()
    try:
        scheme = app.provider_spec.deauthorize if app is not None else None
    except UnknownProvider:
        scheme = None
    if app is None or scheme is None:
        return _webhook_answer(404, "No deauthorize endpoint here.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_DEAUTHORIZE_BODY:
        return _webhook_answer(413, "The body is too large.")
    try:
        body = request.body[: MAX_DEAUTHORIZE_BODY + 1]
        if len(body) > MAX_DEAUTHORIZE_BODY:
            return _webhook_answer(413, "The body is too large.")
        result = services.deauthorize(app, body, request.headers.get(scheme.header))
    except RequestDataTooBig:
        return _webhook_answer(413, "The body is too large.")
    except FlowError as exc:
        # %r: the message may quote the payload's value.
        logger.info("Deauthorize for %s refused (%s): %r", slug, type(exc).__name__, exc)
        return _webhook_answer(exc.status, exc.public_message)
    except DecryptionError as exc:
        logger.error("Provider app %r cannot check a deauthorize signature: %s", slug, exc)
        return _webhook_answer(503, "The app is misconfigured.")
    return _webhook_answer(200, "uninstalled" if result is not None else "nothing to change")


#: The model permission the default hook (and the admin's uninstall action) requires.
UNINSTALL_MODEL_PERMISSION = "helpdesk_oauth.delete_installation"


def can_uninstall(user: object, installation: Installation) -> bool:
    """Default permission hook: the user holds ``helpdesk_oauth.delete_installation``.

    Delete, not change: an uninstall revokes the grant at the provider and erases
    the tokens, which cannot be undone — the same effect as deleting the
    installation in the admin (which revokes too). Change permission still allows
    "Refresh token now". Superusers hold every permission; inactive users none.
    """
    has_perm = getattr(user, "has_perm", None)
    return bool(
        getattr(user, "is_active", False) and has_perm and has_perm(UNINSTALL_MODEL_PERMISSION)
    )


@sensitive_variables()
@sensitive_oauth_view
@never_cache
@csrf_protect
@require_POST
def uninstall(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke at the provider, erase the tokens, mark the installation uninstalled.

    Who may: ``HELPDESK_OAUTH["UNINSTALL_PERMISSION"]`` (a dotted path to
    ``fn(user, installation) -> bool``), by default users holding the
    ``helpdesk_oauth.delete_installation`` permission (:func:`can_uninstall`).
    Anyone else gets a 403 page and nothing changes.
    """
    if not request.user.is_authenticated:
        # Back to the page the form was on after logging in: this URL is POST-only, so
        # coming back to it would be a 405.
        return redirect_to_login(_next_page(request))
    installation = get_object_or_404(Installation.objects.select_related("app"), pk=pk)
    allowed = import_string(app_settings.UNINSTALL_PERMISSION)
    if not allowed(request.user, installation):
        return render(
            request,
            "helpdesk_oauth/error.html",
            {
                "message": "You are not allowed to uninstall this integration.",
                "back_url": success_url(),
            },
            status=403,
        )
    try:
        services.uninstall(installation)
    except DecryptionError as exc:
        # The refresh token to revoke cannot be decrypted: nothing was changed.
        logger.error("Uninstall of installation %s impossible: %s", installation.pk, exc)
        return _error_page(request, AppMisconfigured(), installation.app)
    return HttpResponseRedirect(_next_page(request))


def _next_page(request: HttpRequest) -> str:
    """The form's ``next`` when it stays on this site, else ``SUCCESS_URL``."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = success_url()
    return target
