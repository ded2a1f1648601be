"""The authorization endpoints: a consent page (GET) and the user's decision (POST).

The parameters travel from the page to the decision in a ``django.core.signing``
blob, so the decision cannot widen the scope, swap the redirect URI or change
the tenant. Errors about the client or its redirect URI are shown as a page and
never redirected (RFC 6749 §4.1.2.1); every other error goes back to the client.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from .. import profiles
from ..endpoints import issuer_of
from ..grants import normalise_scope
from ..profile import Profile
from ..state import SandboxClient, state
from .common import base_url

SIGNING_SALT = "helpdesk_oauth_sandbox.consent"
CONSENT_MAX_AGE = 600  # seconds a consent page may stay open
# What a global consent page accepts as the account: a DNS label, or an account id with
# inner underscores (Front's company ids, ``cmp_k30``).
TENANT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
# RFC 7636 §4.2: an S256 challenge is 43 base64url characters.
CODE_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
MAX_PARAM_LENGTH = 2048


def registered_redirect_uris(request: HttpRequest | None, client: SandboxClient) -> tuple[str, ...]:
    """The client's registered redirect URIs, a path (``/helpdesk/x/callback/``) taken on
    the sandbox's own origin: the URI of a project that serves the sandbox itself,
    whatever port it runs on."""
    return tuple(
        request.build_absolute_uri(uri) if request is not None and uri.startswith("/") else uri
        for uri in client.redirect_uris
    )


def valid_redirect_uri(
    client: SandboxClient, uri: str | None, request: HttpRequest | None = None
) -> bool:
    """An absolute http(s) URI without fragment, registered if the client registered any.

    A registered URI matches only the identical string, query included (RFC 6749
    §3.1.2.3 simple string comparison, RFC 9700 §4.1.3 exact matching): a URI
    registered as ``…/callback?account=acme`` matches that, not ``…/callback``, and
    one registered without a query matches no URI that has one. A registered path is
    compared on ``request``'s origin (:func:`registered_redirect_uris`).
    """
    if not uri or len(uri) > MAX_PARAM_LENGTH or any(c.isspace() or ord(c) < 32 for c in uri):
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        return False
    if client.redirect_uris:
        return uri in registered_redirect_uris(request, client)
    return True


def redirect_with(uri: str, params: dict[str, str | None]) -> HttpResponseRedirect:
    """Redirect to ``uri`` with ``params`` appended, keeping its own query (``?account=``)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return HttpResponseRedirect(urlunsplit(parts._replace(query=urlencode(query))))


def _issuer(request: HttpRequest, provider: str, tenant: str | None, endpoint_set: str) -> str:
    profile = profiles.get(provider)
    if profile is None:  # unregistered while a consent page was open
        return ""
    return issuer_of(base_url(request), profile, endpoint_set, tenant)


def _back_to_client(
    request: HttpRequest, payload: dict[str, Any], tenant: str | None, **params: str | None
) -> HttpResponseRedirect:
    params["state"] = payload.get("state")
    if state.send_iss:
        provider, endpoint_set = payload["provider"], payload["endpoint_set"]
        params["iss"] = _issuer(request, provider, tenant, endpoint_set)
    return redirect_with(payload["redirect_uri"], params)


def _error_page(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "helpdesk_oauth_sandbox/error.html", {"message": message}, status=status)


def _no_framing(response: HttpResponse) -> HttpResponse:
    # A consent page must not be clickjacked, whatever the host project's middleware.
    response["X-Frame-Options"] = "DENY"
    response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


def _consent_page(
    request: HttpRequest,
    client: SandboxClient,
    payload: dict[str, Any],
    *,
    org: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "provider": getattr(profiles.get(payload["provider"]), "title", payload["provider"]),
        "app_title": client.title,
        "tenant": payload["tenant"],
        "ask_org": payload["tenant"] is None,
        "org": org,
        "scopes": payload["scope"].split(),
        "signed_request": signing.dumps(payload, salt=SIGNING_SALT),
        "error": error,
    }
    response = render(request, "helpdesk_oauth_sandbox/consent.html", context, status=status)
    return _no_framing(response)


def _private_app_elsewhere(client: SandboxClient, org: str) -> bool:
    return client.org is not None and client.org != org


def _show_consent(
    request: HttpRequest, profile: Profile, tenant: str | None, endpoint_set: str
) -> HttpResponse:
    provider = profile.key
    params = request.GET
    if any(len(v) > MAX_PARAM_LENGTH for v in params.values()):
        return _error_page(request, "A parameter is too long.")
    client = state.get_client(provider, params.get("client_id"))
    if client is None:
        return _error_page(request, "Unknown client_id: this app is not registered.")
    if profile.redirect == "registered":
        # Only client_id and state are read: the user goes back to the app's registered URL.
        registered = registered_redirect_uris(request, client)
        redirect_uri = registered[0] if registered else None
        if redirect_uri is None:
            return _error_page(request, "This app has no registered redirection URL.")
    else:
        redirect_uri = params.get("redirect_uri")
        if not valid_redirect_uri(client, redirect_uri, request):
            return _error_page(request, "Missing, malformed or unregistered redirect_uri.")
    payload: dict[str, Any] = {
        "provider": provider,
        "tenant": tenant,
        "endpoint_set": endpoint_set,
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": normalise_scope(params.get("scope"), profile),
        "state": params.get("state"),
        "nonce": params.get("nonce"),
        "code_challenge": None,
        "code_challenge_method": None,
    }
    if profile.redirect == "parameter" and params.get("response_type") != "code":
        return _back_to_client(
            request,
            payload,
            tenant,
            error="unsupported_response_type",
            error_description="response_type must be code",
        )
    if profile.pkce.mode != "ignored":
        # A provider without PKCE ignores the challenge like any unknown parameter.
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is not None or method is not None or profile.pkce.mode == "required":
            if method != "S256" or not challenge or not CODE_CHALLENGE_RE.match(challenge):
                return _back_to_client(
                    request,
                    payload,
                    tenant,
                    error="invalid_request",
                    error_description="PKCE needs a code_challenge with code_challenge_method=S256",
                )
            payload["code_challenge"], payload["code_challenge_method"] = challenge, method
    if tenant is not None and _private_app_elsewhere(client, tenant):
        return _error_page(request, f"This private app is not installed on {tenant}.")
    hint = params.get("org", "").strip().lower()
    return _consent_page(request, client, payload, org=hint if TENANT_RE.match(hint) else "")


def _decide(
    request: HttpRequest, profile: Profile, tenant: str | None, endpoint_set: str
) -> HttpResponse:
    provider = profile.key
    try:
        payload = signing.loads(
            request.POST.get("authorization_request", ""),
            salt=SIGNING_SALT,
            max_age=CONSENT_MAX_AGE,
        )
    except signing.BadSignature:
        return _error_page(request, "This consent form was tampered with or has expired.")
    if (payload.get("provider"), payload.get("tenant"), payload.get("endpoint_set")) != (
        provider,
        tenant,
        endpoint_set,
    ):
        return _error_page(request, "This consent form belongs to another authorization server.")
    client = state.get_client(provider, payload["client_id"])
    if client is None:
        return _error_page(request, "Unknown client_id: this app is not registered.")
    decision = request.POST.get("decision")
    if decision == "deny":
        return _back_to_client(
            request, payload, tenant, error="access_denied", error_description="The user denied"
        )
    if decision != "allow":
        return _error_page(request, "Choose Allow or Deny.")
    if profile.admin_consent is not None and not state.consent_by_admin:
        # The provider refuses a non-administrator's approval: no code, its own error.
        refusal = profile.admin_consent
        return _back_to_client(
            request,
            payload,
            tenant,
            error=refusal.error,
            error_description=refusal.description,
        )
    org = tenant
    if org is None:
        # A global endpoint (Kustomer's seed, a workspace picker): the organization
        # is whatever the user typed.
        org = request.POST.get("org", "").strip().lower()
        if not TENANT_RE.match(org):
            return _consent_page(
                request, client, payload, org="", error="Enter a valid organization.", status=400
            )
        if _private_app_elsewhere(client, org):
            return _consent_page(
                request,
                client,
                payload,
                org=org,
                error=f"This private app is not installed on {org}.",
                status=400,
            )
    code = state.create_code(
        provider=provider,
        client_id=client.client_id,
        redirect_uri=payload["redirect_uri"],
        tenant=org,
        scope=payload["scope"],
        nonce=payload["nonce"],
        code_challenge=payload["code_challenge"],
        code_challenge_method=payload["code_challenge_method"],
        issuer=_issuer(request, provider, tenant, endpoint_set),
    )
    extra: dict[str, str] = {}
    if profile.callback_params is not None:
        # Zoho: the response names the data centre the user's account lives in.
        default = getattr(request, "sandbox_region", "") or next(iter(profile.regions), "")
        extra = profile.callback_params(state.home_regions.get((provider, org), default))
    return _back_to_client(request, payload, tenant, code=code.code, **extra)


@never_cache
def authorize(
    request: HttpRequest, profile: Profile, auth_server: str, tenant: str | None = None
) -> HttpResponse:
    """The consent page (GET) and the user's decision (POST) of ``profile``'s endpoint set
    ``auth_server``; ``tenant`` from the path, or ``None`` on a global host (the page asks)."""
    if request.method == "POST":
        return _decide(request, profile, tenant, auth_server)
    return _show_consent(request, profile, tenant, auth_server)
