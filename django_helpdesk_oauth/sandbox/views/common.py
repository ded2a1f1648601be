"""Helpers shared by the sandbox views: JSON answers, credentials, faults, logging."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse

from ..state import Fault, state


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JsonResponse:
    """A JSON answer that no cache keeps (RFC 6749 §5.1 asks it of token responses)."""
    response = JsonResponse(data, status=status, safe=False)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    """An RFC 6749 §5.2 error body."""
    return json_response({"error": error, "error_description": description}, status=status)


def base_url(request: HttpRequest) -> str:
    """Absolute URL of the sandbox mount point, without the trailing slash."""
    namespace = request.resolver_match.namespace if request.resolver_match else None
    index = reverse("helpdesk_oauth_sandbox:index", current_app=namespace)
    return request.build_absolute_uri(index).rstrip("/")


def json_body(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON object body (``{}`` when empty), or ``None`` if it is not one."""
    if not request.body.strip():
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _fault_response(fault: Fault) -> HttpResponse:
    body = fault.body
    if body is None:
        body = {
            "error": "temporarily_unavailable" if fault.status in (429, 503) else "server_error"
        }
    if isinstance(body, dict | list):
        response: HttpResponse = json_response(body, status=fault.status or 500)
    else:
        response = HttpResponse(body, status=fault.status)
    for name, value in fault.headers.items():
        response[name] = value
    return response


def _dripped(response: HttpResponse, fault: Fault) -> StreamingHttpResponse:
    """``response`` with its body sent one byte every ``fault.drip`` seconds."""
    content = response.content
    fault.sent, fault.length = 0, len(content)

    def body() -> Iterator[bytes]:
        for index in range(len(content)):
            if index:
                time.sleep(fault.drip)
            fault.sent += 1
            yield content[index : index + 1]

    streaming = StreamingHttpResponse(body(), status=response.status_code)
    for name, value in response.items():
        streaming[name] = value
    streaming["Content-Length"] = str(len(content))
    return streaming


def serve(entry: dict[str, Any], handler: Callable[[], HttpResponse]) -> HttpResponse:
    """Log ``entry``, apply a queued fault if one matches, else answer with ``handler()``.

    ``entry`` holds at least ``provider``, ``tenant`` and ``endpoint``; the HTTP
    status answered is recorded in it as ``status``.
    """
    logged = state.log_request(**entry)
    fault = state.take_fault(entry["endpoint"], entry.get("provider"), entry.get("tenant"))
    response = None
    if fault is not None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status:
            response = _fault_response(fault)
    if response is None:
        response = handler()
    with state.lock:
        logged.update(entry)  # what the handler learnt (the token's client and tenant)
        logged["status"] = response.status_code
    if entry["endpoint"] in ("token", "revoke", "apps"):
        state.save()  # a no-op unless HELPDESK_OAUTH_SANDBOX["STATE_FILE"] is set
    if fault is not None and fault.drip > 0:
        # A streaming answer is no HttpResponse subclass, but Django serves any
        # HttpResponseBase; the cast keeps the views' annotations as they are.
        return cast(HttpResponse, _dripped(response, fault))
    return response


def request_entry(request: HttpRequest, **fields: Any) -> dict[str, Any]:
    """A request-log entry with the path and method of ``request`` plus ``fields``."""
    entry: dict[str, Any] = {
        "provider": None,
        "tenant": None,
        "endpoint": None,
        "grant_type": None,
        "client_auth": "none",
        "client_id": None,
        "token": None,
        "refresh_token": None,
        "path": request.path,
        "method": request.method,
    }
    entry.update(fields)
    return entry
