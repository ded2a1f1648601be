"""The URL patterns of every profile, made from its path templates, and the catch-all
that serves profiles registered at run time (a test's own provider) the same way."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

from .. import profiles
from ..profile import Profile
from . import api, authorize, openid, token
from .common import json_response

#: A lowercase DNS label, like the providers' subdomains.
TENANT_REGEX = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


@dataclass(frozen=True)
class Route:
    """One endpoint of a profile: URL name, regex below the sandbox root, handler."""

    name: str
    regex: str
    handler: Callable[..., HttpResponse]
    methods: tuple[str, ...] | None = None
    #: CSRF-protected (the consent form); every other endpoint is posted by clients.
    csrf: bool = False


def template_regex(profile: Profile, template: str) -> str:
    """``template`` (``{tenant}``, ``{region}``) as a regex below ``{key}/``."""
    parts = re.split(r"(\{tenant\}|\{region\})", template)
    out = []
    for part in parts:
        if part == "{tenant}":
            out.append(f"(?P<tenant>{TENANT_REGEX})")
        elif part == "{region}":
            out.append("(?P<region>" + "|".join(map(re.escape, profile.regions)) + ")")
        else:
            out.append(re.escape(part))
    return f"{re.escape(profile.key)}/" + "".join(out)


def _name(profile: Profile, infix: str, what: str) -> str:
    return "-".join(part for part in (profile.key, infix, what) if part)


def routes(profile: Profile) -> list[Route]:
    """Every endpoint the profile declares, most specific first."""
    found: list[Route] = []
    for server_name, server in profile.auth_servers.items():
        found.append(
            Route(
                _name(profile, server.name_infix, "authorize"),
                template_regex(profile, server.authorize),
                lambda r, p=profile, s=server_name, **kw: authorize.authorize(r, p, s, **kw),
                ("GET", "HEAD", "POST"),
                csrf=True,
            )
        )
        found.append(
            Route(
                _name(profile, server.name_infix, "token"),
                template_regex(profile, server.token),
                lambda r, p=profile, s=server_name, **kw: token.token(r, p, s, **kw),
                ("POST",),
            )
        )
    if profile.revocation.kind != "none":
        found.append(
            Route(
                _name(profile, "", "revoke"),
                template_regex(profile, profile.revocation.path),
                lambda r, p=profile, **kw: token.revocation(r, p, **kw),
            )
        )
    if profile.openid is not None:
        issuer = profile.auth_servers[profile.default_auth_server].issuer
        root = f"{issuer}/" if issuer else ""
        found += [
            Route(
                _name(profile, "", "openid-configuration"),
                template_regex(profile, f"{root}.well-known/openid-configuration"),
                lambda r, p=profile, **kw: openid.configuration(r, p, **kw),
                ("GET", "HEAD"),
            ),
            Route(
                _name(profile, "", "jwks"),
                template_regex(profile, f"{root}.well-known/jwks.json"),
                lambda r, p=profile, **kw: openid.jwks(r, p, **kw),
                ("GET", "HEAD"),
            ),
            Route(
                _name(profile, "", "userinfo"),
                template_regex(profile, profile.openid.userinfo),
                lambda r, p=profile, **kw: openid.userinfo(r, p, **kw),
                ("GET", "POST"),
            ),
        ]
    named = list(profile.api.named)
    for suffix, path in named:
        found.append(
            Route(
                _name(profile, "", suffix),
                template_regex(profile, profile.api.base + path),
                lambda r, p=profile, rest=path, **kw: api.dispatch(r, p, rest=rest, **kw),
            )
        )
    found.append(
        Route(
            _name(profile, "", "api"),
            template_regex(profile, profile.api.base) + "(?P<rest>.*)",
            lambda r, p=profile, **kw: api.dispatch(r, p, **kw),
        )
    )
    return found


def _serve(route: Route) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if route.methods is not None and request.method not in route.methods:
            return HttpResponseNotAllowed(route.methods)
        # A region segment picks the host; kept on the request for a data-centre profile.
        request.sandbox_region = kwargs.pop("region", None) or ""  # type: ignore[attr-defined]
        return route.handler(request, **kwargs)

    return view if route.csrf else csrf_exempt(view)


def _csrf_failure(request: HttpRequest) -> HttpResponse | None:
    # The catch-all is exempt (clients post tokens to it); the consent form is not.
    check = CsrfViewMiddleware(lambda r: HttpResponse())
    response = check.process_view(request, cast(Callable[..., HttpResponse], _csrf_failure), (), {})
    return response if isinstance(response, HttpResponse) else None


def patterns(profile: Profile) -> list[URLPattern]:
    """Named URL patterns for ``profile`` (for the built-in ones, so reverse() works)."""
    return [re_path(f"^{r.regex}$", _serve(r), name=r.name) for r in routes(profile)]


@csrf_exempt
def dispatch(request: HttpRequest, key: str, path: str) -> HttpResponse:
    """``{key}/{path}`` for a profile registered after the URLconf was built."""
    profile = profiles.get(key)
    if profile is not None:
        for route in routes(profile):
            match = re.fullmatch(route.regex, f"{key}/{path}")
            if match is not None:
                if route.csrf and (failure := _csrf_failure(request)) is not None:
                    return failure
                return _serve(route)(request, **match.groupdict())
    return json_response({"error": "not_found", "error_description": "no such endpoint"}, 404)
