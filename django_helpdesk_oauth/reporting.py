"""Keep secrets out of Django's error reports (the DEBUG page and the admins' e-mail).

Django's exception reporter prints, for an unhandled exception, the request
(URL, GET, POST, META) and the local variables of every frame. On our paths
those hold the authorization code, ``state``, the PKCE verifier, tokens, client
secrets and admin API keys. Three layers keep them out:

* every function holding such values is decorated with Django's
  ``sensitive_variables()`` (all variables: a frame called from a decorated
  function is cleansed too, down to the signal receivers it sends to);
* our views and admin views are wrapped by :func:`sensitive_oauth_view`, which
  makes their reports use :class:`OAuthExceptionReporterFilter` (active even
  with ``DEBUG=True``: the debug page is a report too) and, when the view
  raises, replaces the request's sensitive query parameters by stars before any
  reporter reads ``request.GET`` or the URL;
* POST fields are marked with Django's ``sensitive_post_parameters``, and the
  filter also hides every field named in :data:`SENSITIVE_PARAMETERS`.

Reports made without a request of ours (a Celery task, a project's view that
calls ``installation.api_session()``) use the project's default filter, which
honours ``sensitive_variables`` only while ``DEBUG=False``; set
``DEFAULT_EXCEPTION_REPORTER_FILTER =
"django_helpdesk_oauth.reporting.OAuthExceptionReporterFilter"`` to cover
``DEBUG=True`` as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

#: Request parameters (query, form) and dict keys whose values are never reported.
SENSITIVE_PARAMETERS = frozenset(
    {
        "code",
        "state",
        "nonce",
        "code_verifier",
        "id_token",
        "access_token",
        "refresh_token",
        "token",
        "client_secret",
        "secret",
        "new_secret",
        "api_key",
        "password",
    }
)

#: ``META`` entries that hold a URL or a query string.
URL_META_KEYS = ("QUERY_STRING", "REQUEST_URI", "RAW_URI", "HTTP_REFERER")

_QUERY_VALUE = re.compile(
    r"(?i)((?:^|[?&;])(?:"
    + "|".join(re.escape(name) for name in sorted(SENSITIVE_PARAMETERS, key=len, reverse=True))
    + r")=)[^&;#\s'\"]*"
)

SUBSTITUTE = SafeExceptionReporterFilter.cleansed_substitute


def redact_query(text: str) -> str:
    """``text`` (a URL, a query string, a repr) with sensitive parameter values starred."""
    return _QUERY_VALUE.sub(lambda match: match.group(1) + SUBSTITUTE, text)


def _cleansed(values: Any) -> Any:
    """A copy of a ``MultiValueDict`` with our sensitive keys starred (else ``values``)."""
    if not isinstance(values, MultiValueDict) or not any(
        key in SENSITIVE_PARAMETERS for key in values
    ):
        return values
    copy = values.copy()
    for key in SENSITIVE_PARAMETERS.intersection(copy):
        copy.setlist(key, [SUBSTITUTE])
    return copy


class OAuthExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's safe filter, always active, that also hides our sensitive names.

    Hides :data:`SENSITIVE_PARAMETERS` in POST, in any ``QueryDict`` or dict
    a frame holds, and in URL-like ``META`` values and request reprs.
    """

    # ``request`` is None in reports made outside a request (Django passes it through).
    def is_active(self, request: Any) -> bool:
        # Also with DEBUG=True: a debug page is shown to whoever triggers the error.
        return True

    def get_post_parameters(self, request: Any) -> Any:
        if request is None:
            return {}
        return _cleansed(super().get_post_parameters(request))

    def get_cleansed_multivaluedict(self, request: Any, multivaluedict: Any) -> Any:
        return _cleansed(super().get_cleansed_multivaluedict(request, multivaluedict))

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        for key in URL_META_KEYS:
            if isinstance(meta.get(key), str):
                meta[key] = redact_query(meta[key])
        return meta

    def cleanse_special_types(self, request: Any, value: Any) -> Any:
        value = super().cleanse_special_types(request, value)
        if isinstance(value, HttpRequest):
            return redact_query(repr(value))
        if isinstance(value, str):
            return redact_query(value)
        if isinstance(value, Mapping) and not isinstance(value, MultiValueDict):
            try:
                if any(key in SENSITIVE_PARAMETERS for key in value):
                    return {
                        key: SUBSTITUTE if key in SENSITIVE_PARAMETERS else item
                        for key, item in value.items()
                    }
            except Exception:  # an odd mapping is shown as Django would show it
                return value
        return value


def scrub_request(request: HttpRequest) -> None:
    """Star the sensitive query parameters in ``request.GET`` and its URL ``META`` values.

    Reporters read ``request.GET`` and the full path straight from the request,
    past any filter, so they are replaced on the request itself. ``META`` is
    replaced by a copy: the WSGI environ the server holds is left alone.
    """
    request.GET = _cleansed(request.GET)
    meta = dict(request.META)
    for key in URL_META_KEYS:
        if isinstance(meta.get(key), str):
            meta[key] = redact_query(meta[key])
    request.META = meta


V = TypeVar("V", bound=Callable[..., Any])


def sensitive_oauth_view(view: V) -> V:
    """Decorate a view whose request or work holds codes, tokens or secrets.

    Its error reports use :class:`OAuthExceptionReporterFilter`, and if it
    raises, :func:`scrub_request` runs before the exception leaves it. Use with
    ``sensitive_variables()`` (and ``sensitive_post_parameters`` for forms);
    on a method, through ``method_decorator``.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        request.exception_reporter_filter = OAuthExceptionReporterFilter()
        try:
            return view(request, *args, **kwargs)
        except BaseException:
            scrub_request(request)
            raise

    return wrapper  # type: ignore[return-value]


__all__ = [
    "SENSITIVE_PARAMETERS",
    "OAuthExceptionReporterFilter",
    "redact_query",
    "scrub_request",
    "sensitive_oauth_view",
]
