"""Reading a token endpoint's 2xx answer: our parser, never oauthlib's.

oauthlib's ``parse_request_body_response`` does ``int(expires_in)``, raises on
a changed scope and reads ``expires_in: 0`` as "never expires", so one odd
field in a 200 used to throw the whole answer away, including a rotated
refresh token the provider had already swapped for the one we sent. The rule
here (issue 9): once a provider answered 200, whatever in it is usable is kept.

* The **refresh token** is kept whenever a usable one can be found
  (:func:`usable_refresh_token`): a JSON string of printable ASCII without
  spaces (``VCHAR``, as for the access token), at most :data:`MAX_TOKEN_LENGTH`
  long, and not a placeholder (``null``, ``none``, ``undefined``, ``true``,
  ``false``, ``nil``, ``0``, ``-``, in any case). Anything else (``""``,
  ``"   "``, a tab, a JSON number such as ``0``, ``null``, a list…) counts as
  absent, so the caller keeps the refresh token it has: a junk value must never
  overwrite a good one (Gorgias never rotates; its stored token is the customer).
  JSON numbers are refused because RFC 6749 §5.1 defines the refresh token as a
  string and a number there (``0``, ``1``) is a flag or a placeholder, not a
  credential. It is looked for
  in a JSON object, in the only object of a one-element JSON array, in a
  form-encoded body (``refresh_token=…``, the format oauthlib also accepts) and,
  in a JSON body nested too deep for Python's parser, as the one
  ``"refresh_token": "…"`` member of its text (see :func:`decode_body`).
* An ``error`` member in a 2xx answer (``{"error": "invalid_grant", …tokens}``)
  makes its access token unusable (``problem`` names the sanitized code), but a
  2xx is never read as a refused grant or client: the refresh token in it is
  still kept, and the caller retries as after any transient failure.
* The **access token** is usable only from a JSON object, when it is a string
  (or a JSON integer, read as its decimal text; a float is refused: its text
  form is ambiguous) of printable ASCII without spaces (RFC 9110 ``VCHAR``,
  ``0x21`` to ``0x7E``), at most :data:`MAX_TOKEN_LENGTH` long, and the
  ``token_type`` is ``bearer`` (or the provider's declared ``api_auth_scheme``)
  in any case, or missing. Why VCHAR rather than
  RFC 6750's stricter ``b64token``: VCHAR is exactly what can go in a header
  without an encoding error or a header-splitting newline, and some providers
  issue tokens with ``|`` or ``:`` that ``b64token`` would refuse, which would
  cost a working installation for no safety gained.
* The **lifetime** comes from :meth:`.providers.base.Provider.token_expiry`
  (an absolute ``expires_at`` → ``expires_in`` > 0 → JWT ``exp``, the earliest
  stated wins, each bounded → the provider's documented lifetime → "never", only
  for a provider that declares its tokens never expire).

Nothing here does I/O or touches the ORM; messages and ``repr`` name no token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from .providers.base import ExpiryInfo, Provider

#: Longest access or refresh token we accept, in characters (JWTs with many
#: claims reach a few KiB; servers refuse headers much above 8 KiB anyway).
MAX_TOKEN_LENGTH = 16 * 1024

_VCHARS = re.compile(r"[\x21-\x7e]+", re.ASCII)


def header_safe(value: object) -> bool:
    """Whether ``value`` can be sent as ``Authorization: Bearer <value>``.

    A non-empty ``str`` of printable ASCII without spaces (``VCHAR``), at most
    :data:`MAX_TOKEN_LENGTH` characters: no newline (header splitting), no
    control character, nothing ``latin-1`` cannot encode.
    """
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_TOKEN_LENGTH
        and _VCHARS.fullmatch(value) is not None
    )


class NonJSONBody:
    """A 2xx body that is not JSON: its text (UTF-8, undecodable bytes replaced).

    ``too_deep`` is true for a body that may be valid JSON but is nested deeper
    than Python's parser recurses (then only :func:`_deep_refresh_token` reads it).
    """

    def __init__(self, content: bytes, *, too_deep: bool = False) -> None:
        self.text = content.decode("utf-8", errors="replace")
        self.too_deep = too_deep

    def __repr__(self) -> str:  # the text may hold a token
        return f"<NonJSONBody {len(self.text)} chars>"


#: Longest JSON integer read as an ``int``, in digits (Python's default
#: ``sys.get_int_max_str_digits()``); a longer one reads as ``None``.
MAX_INT_DIGITS = 4300


def _parse_int(text: str) -> int | None:
    """A JSON integer, or ``None`` when too long for Python to convert (or to convert
    quickly): one such field (an unrelated one, or ``expires_in``) must not make the
    whole answer unreadable; a ``None`` lifetime then falls back like any bad one."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return None
    try:
        return int(text)
    except ValueError:  # a lower sys.set_int_max_str_digits() limit
        return None


def decode_body(content: bytes) -> Any:
    """The JSON value of ``content``, or a :class:`NonJSONBody`.

    ``NaN`` / ``Infinity`` (which Python's ``json`` would accept) read as ``null``,
    and so does an integer of more than :data:`MAX_INT_DIGITS` digits. A body
    nested too deep for Python's parser (``RecursionError``) is a
    :class:`NonJSONBody` with ``too_deep`` set: its refresh token may still be
    found (:func:`_deep_refresh_token`).
    """
    try:
        return json.loads(content, parse_constant=lambda _name: None, parse_int=_parse_int)
    except RecursionError:
        return NonJSONBody(content, too_deep=True)
    except ValueError:
        return NonJSONBody(content)


class TokenResponse(Mapping[str, Any]):
    """A token endpoint's 2xx answer, read.

    As a mapping it is the answer's JSON object (``{}`` when the body was not
    one), so ``response["id_token"]`` reads a field. The attributes hold what
    is usable:

    ``access_token``
        ``""`` when unusable (then ``problem`` says why and ``expiry`` is ``None``).
    ``refresh_token``
        ``""`` when the answer has none usable.
    ``token_type``
        ``"Bearer"``, or the provider's declared ``api_auth_scheme`` when the answer
        names that type (the only types we can send); stored on the ``Token`` and shown
        in the admin.
    ``scope``
        the granted scopes, space separated (``""`` when absent).
    ``expiry``
        an :class:`~.providers.base.ExpiryInfo` (when and from which source).
    ``problem``
        ``""`` or a short reason naming no token.
    """

    def __init__(
        self,
        raw: dict[str, Any],
        *,
        access_token: str,
        refresh_token: str,
        scope: str,
        expiry: ExpiryInfo | None,
        problem: str,
        token_type: str = "Bearer",  # noqa: S107  (an RFC 6749 token type, not a password)
    ) -> None:
        self.raw = raw
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.token_type = token_type
        self.scope = scope
        self.expiry = expiry
        self.problem = problem

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def usable(self) -> bool:
        """Whether the access token can be stored and sent."""
        return not self.problem

    def __repr__(self) -> str:  # never a token
        return (
            f"<TokenResponse usable={self.usable} refresh_token={bool(self.refresh_token)} "
            f"problem={self.problem!r}>"
        )

    def __str__(self) -> str:
        return repr(self)


def _token_text(value: object) -> str:
    """A token's text: a ``str`` as is, a JSON integer as its digits, else ``""``."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else ""


#: Values that stand for "no token" in some servers' answers, compared case-insensitively
#: (``"0"`` and ``"-"`` too: what a form-encoded answer makes of a number or a blank).
PLACEHOLDERS = frozenset({"null", "none", "undefined", "true", "false", "nil", "0", "-"})


def usable_refresh_token(value: object) -> bool:
    """Whether ``value`` (a field of a token answer) is a usable refresh token.

    A ``str`` that :func:`header_safe` accepts (printable ASCII without spaces or
    control characters, 1 to :data:`MAX_TOKEN_LENGTH` characters) and that is not
    a placeholder literal (:data:`PLACEHOLDERS`). JSON numbers, booleans, ``null``,
    lists and objects are not. Anything refused counts as absent: the previous
    refresh token is kept.
    """
    return header_safe(value) and str(value).lower() not in PLACEHOLDERS


def _refresh_token(value: object) -> str:
    return value if isinstance(value, str) and usable_refresh_token(value) else ""


def _scope(value: object) -> str:
    if isinstance(value, list):
        value = " ".join(item for item in value if isinstance(item, str))
    return " ".join(value.split())[:1000] if isinstance(value, str) else ""


def _salvage_refresh_token(body: Any) -> str:
    """The refresh token of an answer that is not a JSON object, if one is unambiguous."""
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        return _refresh_token(body[0].get("refresh_token"))
    if isinstance(body, NonJSONBody) and body.too_deep:
        return _deep_refresh_token(body.text)
    if isinstance(body, NonJSONBody):
        try:
            fields = parse_qs(body.text.strip(), max_num_fields=100)
        except ValueError:
            return ""
        values = fields.get("refresh_token", [])
        return _refresh_token(values[0]) if len(values) == 1 else ""
    return ""


#: A ``"refresh_token"`` member name in JSON text, and one whose value is a plain
#: string (``VCHAR`` without ``"`` or ``\``: no escape sequence to decode).
_REFRESH_KEY = re.compile(r'"refresh_token"\s*:')
_REFRESH_MEMBER = re.compile(r'"refresh_token"\s*:\s*"([\x21\x23-\x5b\x5d-\x7e]+)"', re.ASCII)


def _deep_refresh_token(text: str) -> str:
    """The refresh token of a JSON text too deeply nested to parse, if unambiguous.

    Python's parser gives up (``RecursionError``) on valid JSON nested some
    thousand levels deep, e.g. in a field we never read; the rotated refresh
    token beside it must not be lost for that. Without a parse the member's
    nesting level comes from a scan of the text, and this is deliberately narrow:
    the text must be an object naming ``"refresh_token"`` exactly once, as a member
    of that top-level object (depth 1, outside any string), whose value is a plain
    string (no escapes) that :func:`usable_refresh_token` accepts. Anything else
    (two occurrences, a nested or escaped or non-string value) gives ``""``.
    """
    if not text.lstrip().startswith("{") or len(_REFRESH_KEY.findall(text)) != 1:
        return ""
    match = _REFRESH_MEMBER.search(text)
    if match is None or _depth_at(text, match.start()) != 1:
        return ""
    return _refresh_token(match.group(1))


def _depth_at(text: str, end: int) -> int:
    """The JSON nesting depth at ``text[end]``, or -1 when that is inside a string."""
    depth, in_string, escaped = 0, False, False
    for char in text[:end]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return -1 if in_string else depth


def _error_code(value: object) -> str:
    """An OAuth ``error`` member, sanitized for messages: a short registered-looking
    code (letters, digits, ``_``), else ``invalid_response``."""
    if isinstance(value, str) and value and value.replace("_", "").isalnum() and value.isascii():
        return value[:40]
    return "invalid_response"


def _access_problem(raw: dict[str, Any], access_token: str, scheme: str = "Bearer") -> str:
    if raw.get("error"):
        # A 2xx that also says "error": the access token can't be trusted, but the
        # answer is no refusal (a refresh token in it is kept; the caller retries).
        return f"the answer carries the error {_error_code(raw['error'])}"
    value = raw.get("access_token")
    if value is None or value == "":
        return "the answer has no access_token"
    if not access_token:
        return "its access_token is not a string"
    if not header_safe(access_token):
        return "its access_token cannot be sent in an HTTP header"
    token_type = raw.get("token_type")
    # Bearer, or the scheme the provider's API takes (a "Token" provider says so here).
    if token_type not in (None, "") and (
        not isinstance(token_type, str)
        or token_type.strip().lower() not in ("bearer", scheme.lower())
    ):
        return f"its token_type is not {scheme}"
    return ""


def parse_token_response(provider: Provider, body: Any, *, now: datetime) -> TokenResponse:
    """Read a 2xx token answer (:func:`decode_body`'s result) into a :class:`TokenResponse`.

    Never raises for any body; ``now`` is the aware (or, with ``USE_TZ=False``,
    naive) time the lifetime counts from.
    """
    if not isinstance(body, dict):
        return TokenResponse(
            {},
            access_token="",
            refresh_token=_salvage_refresh_token(body),
            scope="",
            expiry=None,
            problem="the answer is not a JSON object",
        )
    access_token = _token_text(body.get("access_token"))
    problem = _access_problem(body, access_token, provider.api_auth_scheme)
    return TokenResponse(
        body,
        access_token="" if problem else access_token,
        refresh_token=_refresh_token(body.get("refresh_token")),
        scope=_scope(body.get("scope")),
        expiry=None
        if problem
        else provider.token_expiry({**body, "access_token": access_token}, now),
        problem=problem,
        token_type=_token_type(body.get("token_type"), provider.api_auth_scheme),
    )


def _token_type(value: object, scheme: str) -> str:
    """The RFC 6749 §7.1 token type stored with the token: ``"Bearer"`` (also when the
    answer names none), or the provider's declared API scheme when the answer names it."""
    if isinstance(value, str) and value.strip().lower() == scheme.lower() != "bearer":
        return scheme
    return "Bearer"
