"""The provider APIs a token unlocks: the read endpoints apps and the providers' demos use.

Gorgias (``gorgias/<tenant>/api/…``): ``account``, ``tickets``, ``tickets/<id>``,
``customers``, ``customers/<id>``, ``users``, ``users/<id>`` (``users/0``: the
token's own user). Kustomer (``kustomer/<tenant>/api/v1/…``): ``users/current``,
``customers``, ``customers/<id>``, ``conversations``, ``conversations/<id>``.
A token works only at the tenant that issued it (401 otherwise); an unknown path
or id answers 404, another method 405, a bad query 400 — always JSON in the
provider's error shape, never an HTML page. The routes and shapes are data: one
:class:`ApiProfile` per provider.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from .. import api_data
from ..credentials import bearer_token
from ..state import GORGIAS, KUSTOMER, IssuedToken, state
from .common import json_response, request_entry, serve

# Kustomer roles that let a token read customers / conversations.
CUSTOMER_READ_SCOPES = ("org.permission.customer", "org.admin")
CONVERSATION_READ_SCOPES = ("org.permission.conversation", "org.admin")


def _unauthorized(provider: str, description: str) -> HttpResponse:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if provider == KUSTOMER:
        body: dict = {
            "errors": [{"status": 401, "code": "auth.unauthorized", "title": description}]
        }
    else:
        body = {"error": "invalid_token", "error_description": description}
    return json_response(body, status=401, headers=headers)


def _with_token(
    request: HttpRequest,
    provider: str,
    tenant: str,
    handler: Callable[[IssuedToken], HttpResponse],
) -> HttpResponse:
    entry = request_entry(request, provider=provider, tenant=tenant, endpoint="api")

    def answer() -> HttpResponse:
        token = bearer_token(request)
        if token is None:
            return _unauthorized(provider, "a Bearer access token is required")
        record = state.find_access_token(token)
        # A token works only for the tenant (Kustomer: the region) that issued it.
        if record is None or record.provider != provider or record.tenant != tenant:
            return _unauthorized(provider, "the access token is invalid, expired or revoked")
        entry["client_id"] = record.client_id
        return handler(record)

    return serve(entry, answer)


class ApiError(Exception):
    """An API answer other than 200: ``status``, a short ``code`` and a ``message``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


Handler = Callable[[HttpRequest, str, IssuedToken, "re.Match[str]"], Any]


@dataclass(frozen=True)
class ApiProfile:
    """How one provider's API answers: its routes and its error body.

    ``routes`` pairs a full-match regex on the path after the API base (no
    trailing slash) with a handler returning the JSON body. ``error_body`` turns
    an :class:`ApiError` into the provider's JSON error document.
    """

    routes: tuple[tuple[re.Pattern[str], Handler], ...]
    error_body: Callable[[ApiError], dict[str, Any]]


def _gorgias_error(error: ApiError) -> dict[str, Any]:
    # Gorgias: "read the error attribute contained in the data of the response".
    body: dict[str, Any] = {"msg": error.message}
    if error.field:
        body["data"] = {error.field: [error.message]}
    return {"error": body}


def _kustomer_error(error: ApiError) -> dict[str, Any]:
    # Kustomer: JSON:API errors, as its 401 and 403 answers.
    item: dict[str, Any] = {"status": error.status, "code": error.code, "title": error.message}
    if error.field:
        item["source"] = {"parameter": error.field}
    return {"errors": [item]}


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}", name)
    return value


def _by_id(items: list[dict[str, Any]], wanted: str, what: str) -> dict[str, Any]:
    for item in items:
        if str(item["id"]) == wanted:
            return item
    raise ApiError(404, "not_found", f"{what} not found")


# -- Gorgias -------------------------------------------------------------------------


def _gorgias_list(request: HttpRequest, uri: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Gorgias's cursor pagination: ``limit`` (1-100, default 30) and an opaque ``cursor``."""
    limit = _int_param(request, "limit", 30, 1, 100)
    cursor = request.GET.get("cursor")
    offset = 0
    if cursor:
        try:
            offset = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("next_"))
        except (binascii.Error, ValueError, UnicodeError):
            raise ApiError(400, "invalid_parameter", "cursor is invalid", "cursor") from None

    def encode(position: int) -> str:
        return base64.urlsafe_b64encode(f"next_{position}".encode()).decode()

    page = items[offset : offset + limit]
    return {
        "object": "list",
        "uri": uri,
        "data": page,
        "meta": {
            "prev_cursor": encode(max(0, offset - limit)) if offset else None,
            "next_cursor": encode(offset + limit) if offset + limit < len(items) else None,
        },
    }


def _gorgias_account(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    return {
        "domain": tenant,
        "status": "active",
        "created_datetime": "2021-05-12T10:00:00+00:00",
        "deactivated_datetime": None,
        "settings": [],
    }


def _gorgias_tickets(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    return _gorgias_list(request, "/api/tickets", api_data.gorgias_tickets(tenant))


def _gorgias_ticket(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    return _by_id(api_data.gorgias_tickets(tenant), match["id"], "Ticket")


def _gorgias_customers(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    return _gorgias_list(request, "/api/customers", api_data.gorgias_customers(tenant))


def _gorgias_customer(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    return _by_id(api_data.gorgias_customers(tenant), match["id"], "Customer")


def _gorgias_users(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    return _gorgias_list(request, "/api/users", api_data.gorgias_users(tenant))


def _gorgias_user(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    users = api_data.gorgias_users(tenant)
    # Gorgias: "use the ID 0 to fetch your user" (the one the token acts for).
    wanted = str(users[0]["id"]) if match["id"] == "0" else match["id"]
    return _by_id(users, wanted, "User")


# -- Kustomer -------------------------------------------------------------------------


def _require_role(token: IssuedToken, roles: tuple[str, ...]) -> None:
    if not any(scope.startswith(roles) for scope in token.scope.split()):
        raise ApiError(403, "auth.forbidden", "missing role")


def _kustomer_list(request: HttpRequest, path: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Kustomer's page pagination: ``page`` (from 1) and ``pageSize`` (1-100, default 100)."""
    size = _int_param(request, "pageSize", 100, 1, 100)
    total_pages = max(1, -(-len(items) // size))
    page = _int_param(request, "page", 1, 1, 10_000)

    def link(number: int) -> str | None:
        return f"/v1/{path}?page={number}&pageSize={size}" if 1 <= number <= total_pages else None

    return {
        "data": items[(page - 1) * size : page * size],
        "meta": {"page": page, "pageSize": size, "totalPages": total_pages},
        "links": {
            "self": f"/v1/{path}?page={page}&pageSize={size}",
            "first": link(1),
            "prev": link(page - 1),
            "next": link(page + 1),
        },
    }


def _kustomer_me(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    return api_data.kustomer_current_user(tenant)


def _kustomer_customers(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    _require_role(token, CUSTOMER_READ_SCOPES)
    return _kustomer_list(request, "customers", api_data.kustomer_customers(tenant))


def _kustomer_customer(request: HttpRequest, tenant: str, token: IssuedToken, match: Any) -> Any:
    _require_role(token, CUSTOMER_READ_SCOPES)
    return {"data": _by_id(api_data.kustomer_customers(tenant), match["id"], "Customer")}


def _kustomer_conversations(
    request: HttpRequest, tenant: str, token: IssuedToken, match: Any
) -> Any:
    _require_role(token, CONVERSATION_READ_SCOPES)
    return _kustomer_list(request, "conversations", api_data.kustomer_conversations(tenant))


def _kustomer_conversation(
    request: HttpRequest, tenant: str, token: IssuedToken, match: Any
) -> Any:
    _require_role(token, CONVERSATION_READ_SCOPES)
    conversations = api_data.kustomer_conversations(tenant)
    return {"data": _by_id(conversations, match["id"], "Conversation")}


def _routes(*pairs: tuple[str, Handler]) -> tuple[tuple[re.Pattern[str], Handler], ...]:
    return tuple((re.compile(pattern), handler) for pattern, handler in pairs)


API_PROFILES: dict[str, ApiProfile] = {
    GORGIAS: ApiProfile(
        routes=_routes(
            ("account", _gorgias_account),
            ("tickets", _gorgias_tickets),
            (r"tickets/(?P<id>[0-9]+)", _gorgias_ticket),
            ("customers", _gorgias_customers),
            (r"customers/(?P<id>[0-9]+)", _gorgias_customer),
            ("users", _gorgias_users),
            (r"users/(?P<id>[0-9]+)", _gorgias_user),
        ),
        error_body=_gorgias_error,
    ),
    KUSTOMER: ApiProfile(
        routes=_routes(
            ("users/current", _kustomer_me),
            ("customers", _kustomer_customers),
            (r"customers/(?P<id>[0-9a-f]{24})", _kustomer_customer),
            ("conversations", _kustomer_conversations),
            (r"conversations/(?P<id>[0-9a-f]{24})", _kustomer_conversation),
        ),
        error_body=_kustomer_error,
    ),
}


def _dispatch(request: HttpRequest, provider: str, tenant: str, rest: str) -> HttpResponse:
    profile = API_PROFILES[provider]

    def handler(token: IssuedToken) -> HttpResponse:
        path = rest[:-1] if rest.endswith("/") else rest
        try:
            for pattern, route in profile.routes:
                match = pattern.fullmatch(path)
                if match is not None:
                    return json_response(route(request, tenant, token, match))
            raise ApiError(404, "not_found", f"no API resource at {request.path}")
        except ApiError as error:
            return json_response(profile.error_body(error), status=error.status)

    if request.method not in ("GET", "HEAD"):
        # Every sandbox API route is read-only; the answer is still the provider's JSON.
        error = ApiError(405, "method_not_allowed", f"{request.method} is not allowed here")
        response = json_response(profile.error_body(error), status=405)
        response["Allow"] = "GET, HEAD"
        entry = request_entry(request, provider=provider, tenant=tenant, endpoint="api")
        return serve(entry, lambda: response)
    return _with_token(request, provider, tenant, handler)


def gorgias_api(request: HttpRequest, tenant: str, rest: str = "") -> HttpResponse:
    """``gorgias/<tenant>/api/<rest>``: Gorgias's REST API for the account ``tenant``."""
    return _dispatch(request, GORGIAS, tenant, rest)


def kustomer_api(request: HttpRequest, tenant: str, rest: str = "") -> HttpResponse:
    """``kustomer/<tenant>/api/v1/<rest>``: the org's API host (``{org}.api.kustomerapp.com``)."""
    return _dispatch(request, KUSTOMER, tenant, rest)
