"""The example's middleware: flow messages on the integrations page, and the sandbox's
API-key endpoints only with ``DEBUG`` on."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_helpdesk_oauth.sandbox.views import apps as sandbox_apps_api

#: (level, text) of the flow events of the request being served; None outside requests.
_events: ContextVar[list[tuple[int, str]] | None] = ContextVar("example_flow_events", default=None)

#: The views the demo admin API key (``HELPDESK_OAUTH_SANDBOX["API_KEYS"]``) opens: the
#: sandbox's Kustomer apps API (register an app, generate a new client secret).
API_KEY_VIEWS = frozenset({sandbox_apps_api.register_app, sandbox_apps_api.generate_secret})


def note(level: int, text: str) -> None:
    """Queue a message for the request being served (nothing outside a request, e.g. in
    the Celery worker)."""
    events = _events.get()
    if events is not None:
        events.append((level, text))


class FlowMessagesMiddleware:
    """Turns what the package's signals reported during the request (install,
    uninstall; see ``apps.py``) into ``django.contrib.messages`` for the next page.

    Listed after ``MessageMiddleware``, so the messages are stored with its response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _events.set([])
        try:
            response = self.get_response(request)
            match = request.resolver_match
            if match is not None and match.namespace == "admin":
                return response  # the admin's actions say it in their own messages
            for level, text in _events.get() or ():
                messages.add_message(request, level, text)
            return response
        finally:
            _events.reset(token)


class DemoApiKeysOnlyInDebugMiddleware:
    """404 for the sandbox's Kustomer apps API when ``DEBUG`` is off.

    Its demo admin key is in the example's settings (and in this repository): whoever
    reaches a non-DEBUG deployment of the example must not register apps or rotate the
    client secret with it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        if view_func in API_KEY_VIEWS and not settings.DEBUG:
            # Kustomer's JSON:API error shape, as the apps API's other answers.
            return JsonResponse(
                {"errors": [{"status": 404, "title": "Not found (served only with DEBUG on)"}]},
                status=404,
            )
        return None
