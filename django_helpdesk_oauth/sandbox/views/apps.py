"""Kustomer's apps API: register a private app, generate its client secret (seed steps 1-2)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..credentials import bearer_token
from ..state import KUSTOMER, state
from .common import json_body, json_response, request_entry, serve

REQUIRED_ROLES = ("org.admin.apps", "org.permission.apps")
APP_FIELDS = ("app", "version", "title", "visibility")
APP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)
VISIBILITIES = ("private", "public")


def _errors(status: int, title: str) -> HttpResponse:
    """Kustomer's JSON:API error shape."""
    return json_response({"errors": [{"status": status, "title": title}]}, status=status)


def _with_api_key(
    request: HttpRequest, handler: Callable[[dict[str, Any]], HttpResponse]
) -> HttpResponse:
    key = state.get_api_key(bearer_token(request))
    entry = request_entry(
        request, provider=KUSTOMER, tenant=key["org"] if key else None, endpoint="apps"
    )

    def answer() -> HttpResponse:
        if key is None:
            return _errors(401, "Unauthorized: unknown API key")
        if not set(REQUIRED_ROLES) <= set(key.get("roles", ())):
            return _errors(
                403, f"Forbidden: the API key needs the roles {', '.join(REQUIRED_ROLES)}"
            )
        return handler(key)

    return serve(entry, answer)


@csrf_exempt
@require_POST
def register_app(request: HttpRequest) -> HttpResponse:
    """``kustomer/apps-api/v1/apps/available``: register an app; private names get ``_<orgId>``."""

    def handler(key: dict[str, Any]) -> HttpResponse:
        body = json_body(request)
        if body is None:
            return _errors(400, "the body must be a JSON object")
        missing = [f for f in APP_FIELDS if not isinstance(body.get(f), str) or not body[f].strip()]
        if missing:
            return _errors(400, f"missing or empty fields: {', '.join(missing)}")
        if not APP_NAME_RE.match(body["app"]):
            return _errors(400, "app must be letters, digits, '-' or '_'")
        if body["visibility"] not in VISIBILITIES:
            return _errors(400, f"visibility must be one of {', '.join(VISIBILITIES)}")
        try:
            app, _ = state.register_kustomer_app(
                app=body["app"],
                version=body["version"],
                title=body["title"],
                visibility=body["visibility"],
                org=key["org"],
                org_id=key["org_id"],
            )
        except ValueError as exc:
            return _errors(409, str(exc))
        return json_response(app.as_json())

    return _with_api_key(request, handler)


@csrf_exempt
@require_POST
def generate_secret(request: HttpRequest, app: str) -> HttpResponse:
    """``kustomer/apps-api/v1/apps/available/<app>/secret``: a new secret replaces the old one."""

    def handler(key: dict[str, Any]) -> HttpResponse:
        if json_body(request) is None:
            return _errors(400, "the body must be a JSON object")
        with state.lock:
            registered = state.kustomer_apps.get(app)
            # Another org's private app is as invisible as a missing one.
            if registered is None or registered.org_id != key["org_id"]:
                return _errors(404, f"app {app} not found")
            secret = state.generate_kustomer_secret(app)
            return json_response(registered.as_json(client_secret=secret))

    return _with_api_key(request, handler)
