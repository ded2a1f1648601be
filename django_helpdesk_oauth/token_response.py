"""Reading a token endpoint's 2xx answer: our parser, never oauthlib's.

oauthlib's ``parse_request_body_response`` does ``int(expires_in)``, raises on
a changed scope and reads ``expires_in: 0`` as "never expires", so one odd
field in a 200 used to throw the whole answer away, including a rotated
refresh token the provider had already swapped for the one we sent. The rule
here (issue 9): once a provider answered 200, whatever in it is usable is kept.

* The **refresh token** is kept whenever one can be found: a non-empty string
  (or a JSON integer, read as its decimal text) of at most
  :data:`MAX_TOKEN_LENGTH` characters. It only ever travels in a form body,
  which encodes any character, so nothing else is asked of it. It is looked for
  in a JSON object, in the only object of a one-element JSON array, and in a
  form-encoded body (``refresh_token=…``, the format oauthlib also accepts).
* The **access token** is usable only from a JSON object, when it is a string
  (or a JSON integer, read as its decimal text; a float is refused: its text
  form is ambiguous) of printable ASCII without spaces (RFC 9110 ``VCHAR``,
  ``0x21`` to ``0x7E``), at most :data:`MAX_TOKEN_LENGTH` long, and the
  ``token_type`` is ``bearer`` in any case or missing. Why VCHAR rather than
  RFC 6750's stricter ``b64token``: VCHAR is exactly what can go in a header
  without an encoding error or a header-splitting newline, and some providers
  issue tokens with ``|`` or ``:`` that ``b64token`` would refuse, which would
  cost a working installation for no safety gained.
* The **lifetime** comes from :meth:`.providers.base.Provider.token_expiry`
  (``expires_in`` → JWT ``exp`` → the provider's documented lifetime, each
  bounded).

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
    """A 2xx body that is not JSON: its text (UTF-8, undecodable bytes replaced)."""

    def __init__(self, content: bytes) -> None:
        self.text = content.decode("utf-8", errors="replace")

    def __repr__(self) -> str:  # the text may hold a token
        return f"<NonJSONBody {len(self.text)} chars>"


def decode_body(content: bytes) -> Any:
    """The JSON value of ``content``, or a :class:`NonJSONBody`.

    ``NaN`` / ``Infinity`` (which Python's ``json`` would accept) read as ``null``;
    a body nested too deep to decode is not JSON.
    """
    try:
        return json.loads(content, parse_constant=lambda _name: None)
    except (ValueError, RecursionError):
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
        ``"Bearer"`` (the only type we can send).
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
    ) -> None:
        self.raw = raw
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.token_type = "Bearer"
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


def _refresh_token(value: object) -> str:
    text = _token_text(value)
    return text if 0 < len(text) <= MAX_TOKEN_LENGTH and "\x00" not in text else ""


def _scope(value: object) -> str:
    if isinstance(value, list):
        value = " ".join(item for item in value if isinstance(item, str))
    return " ".join(value.split())[:1000] if isinstance(value, str) else ""


def _salvage_refresh_token(body: Any) -> str:
    """The refresh token of an answer that is not a JSON object, if one is unambiguous."""
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        return _refresh_token(body[0].get("refresh_token"))
    if isinstance(body, NonJSONBody):
        try:
            fields = parse_qs(body.text.strip(), max_num_fields=100)
        except ValueError:
            return ""
        values = fields.get("refresh_token", [])
        return _refresh_token(values[0]) if len(values) == 1 else ""
    return ""


def _access_problem(raw: dict[str, Any], access_token: str) -> str:
    value = raw.get("access_token")
    if value is None or value == "":
        return "the answer has no access_token"
    if not access_token:
        return "its access_token is not a string"
    if not header_safe(access_token):
        return "its access_token cannot be sent in an HTTP header"
    token_type = raw.get("token_type")
    if token_type not in (None, "") and (
        not isinstance(token_type, str) or token_type.strip().lower() != "bearer"
    ):
        return "its token_type is not Bearer"
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
    problem = _access_problem(body, access_token)
    return TokenResponse(
        body,
        access_token="" if problem else access_token,
        refresh_token=_refresh_token(body.get("refresh_token")),
        scope=_scope(body.get("scope")),
        expiry=None
        if problem
        else provider.token_expiry({**body, "access_token": access_token}, now),
        problem=problem,
    )
