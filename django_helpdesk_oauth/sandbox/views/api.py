"""The small provider APIs a token unlocks: Gorgias's account, Kustomer's users and customers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ..credentials import bearer_token
from ..state import GORGIAS, KUSTOMER, IssuedToken, state
from .common import json_response, request_entry, serve

# Kustomer roles that let a token read customers.
CUSTOMER_READ_SCOPES = ("org.permission.customer", "org.admin")


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


@require_GET
def gorgias_account(request: HttpRequest, tenant: str) -> HttpResponse:
    """``gorgias/<tenant>/api/account``: the account the token belongs to."""

    def handler(token: IssuedToken) -> HttpResponse:
        return json_response(
            {
                "domain": tenant,
                "status": "active",
                "created_datetime": "2021-05-12T10:00:00+00:00",
                "deactivated_datetime": None,
                "settings": [],
            }
        )

    return _with_token(request, GORGIAS, tenant, handler)


@require_GET
def kustomer_current_user(request: HttpRequest, tenant: str) -> HttpResponse:
    """``kustomer/<tenant>/api/v1/users/current``: the user who authorized the app.

    Answered only for a token this org issued (another org's token: 401, as on
    ``{org}.api.kustomerapp.com``). A JSON:API user whose org is at
    ``data.relationships.org.data.id``, with that org resource (``name`` = the
    subdomain) in ``included``.
    """

    def handler(token: IssuedToken) -> HttpResponse:
        user = state.user_for(KUSTOMER, tenant)
        org_id = hashlib.sha256(f"org:{tenant}".encode()).hexdigest()[:24]
        attributes = {"name": user["name"], "email": user["email"], "org": tenant}
        relationships = {"org": {"data": {"type": "org", "id": org_id}}}
        org = {"type": "org", "id": org_id, "attributes": {"name": tenant}}
        user_resource = {
            "type": "user",
            "id": user["id"],
            "attributes": attributes,
            "relationships": relationships,
        }
        return json_response({"data": user_resource, "included": [org]})

    return _with_token(request, KUSTOMER, tenant, handler)


@require_GET
def kustomer_customers(request: HttpRequest, tenant: str) -> HttpResponse:
    """``kustomer/<tenant>/api/v1/customers``: three fake customers; needs a customer scope."""

    def handler(token: IssuedToken) -> HttpResponse:
        if not any(s.startswith(CUSTOMER_READ_SCOPES) for s in token.scope.split()):
            return json_response(
                {"errors": [{"status": 403, "code": "auth.forbidden", "title": "missing role"}]},
                status=403,
            )
        customers = []
        for number, name in enumerate(("Ada Lovelace", "Grace Hopper", "Alan Turing"), 1):
            customer_id = hashlib.sha256(f"{tenant}:{number}".encode()).hexdigest()[:24]
            email = f"{name.split()[0].lower()}@customers.example.com"
            customers.append(
                {
                    "type": "customer",
                    "id": customer_id,
                    "attributes": {"name": name, "emails": [{"type": "home", "email": email}]},
                }
            )
        meta = {"page": 1, "pageSize": len(customers), "totalPages": 1}
        return json_response({"data": customers, "meta": meta})

    return _with_token(request, KUSTOMER, tenant, handler)
