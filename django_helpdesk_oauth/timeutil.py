"""Time without time-zone traps: ``Retry-After`` and epoch seconds, with ``USE_TZ`` on or off.

Instants are compared as epoch seconds (UTC), never by subtracting datetimes,
so a naive value (``USE_TZ=False``, an RFC 5322 ``-0000`` date) can never meet
an aware one. Converting to and from the database's datetimes goes through
:func:`from_epoch` / :func:`to_epoch`, which follow ``USE_TZ`` and ``TIME_ZONE``.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_tz

from django.conf import settings
from django.utils import timezone
from django.utils.http import parse_http_date_safe

#: The longest wait a ``Retry-After`` may ask for, in seconds (one hour). Beyond it a
#: provider's answer is capped: a Celery countdown longer than a broker's visibility
#: timeout (Redis: one hour by default) is redelivered early anyway, and the beat sweep
#: looks at every due token again within minutes.
MAX_RETRY_AFTER = 3600.0

# delta-seconds is 1*DIGIT (RFC 9110 §10.2.3); a decimal fraction is read too (some
# servers send "1.5"). A sign, an exponent, "inf" or "nan" are not delays.
_DELTA_SECONDS = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,9})?")
#: Longer header values are not dates (the longest RFC 850 date is 37 characters).
_MAX_LENGTH = 64


def retry_after_seconds(value: object, *, now: float | None = None) -> float | None:
    """Seconds to wait for a ``Retry-After`` header value, or ``None`` when unusable.

    Accepts delta-seconds (``"120"``; ``"3.5"`` too) and every HTTP-date form of
    RFC 9110 §5.6.7 (IMF-fixdate ``Sun, 06 Nov 1994 08:49:37 GMT``, RFC 850
    ``Sunday, 06-Nov-94 08:49:37 GMT``, asctime ``Sun Nov  6 08:49:37 1994``) plus
    RFC 5322 dates with a numeric zone (``+0000``, ``-0000``, ``+0200``). The result
    is in ``[0, MAX_RETRY_AFTER]``: a date in the past is 0, a far one is capped.
    ``None`` for anything else (missing, empty, negative, garbage, not a string);
    never raises. ``now`` is epoch seconds (default: :func:`time.time`).
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > _MAX_LENGTH:
        return None
    if _DELTA_SECONDS.fullmatch(value):
        seconds = float(value)
    else:
        when = http_date_epoch(value)
        if when is None:
            return None
        seconds = when - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def http_date_epoch(value: str) -> float | None:
    """Epoch seconds of an HTTP date (any RFC 9110 form, or RFC 5322 with a numeric
    zone), or ``None`` when it is not one. Never raises."""
    # Django's parser covers the three RFC 9110 forms (GMT only) and returns epoch
    # seconds, so no datetime arithmetic is involved.
    epoch = parse_http_date_safe(value)
    if epoch is not None:
        return float(epoch)
    # RFC 5322 dates ("... 09:43:57 -0000"): the standard library reads the zone
    # offset; "-0000" (offset unknown, RFC 5322 §3.3) is UTC.
    try:
        parts = parsedate_tz(value)
        if parts is None:
            return None
        moment = datetime(*parts[:6], tzinfo=UTC)  # validates the fields
        return moment.timestamp() - (parts[9] or 0)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def from_epoch(seconds: float) -> datetime:
    """``seconds`` since the epoch as the database stores datetimes: aware UTC with
    ``USE_TZ=True``, naive local time in ``TIME_ZONE`` with ``USE_TZ=False``.

    Raises :class:`ValueError` / :class:`OverflowError` for an instant outside the
    datetime range.
    """
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    if not settings.USE_TZ:
        return timezone.make_naive(moment, timezone.get_default_timezone())
    return moment


def to_epoch(moment: datetime) -> float:
    """Epoch seconds of ``moment``; a naive value is local time in ``TIME_ZONE`` (Django's
    meaning of a naive datetime), whatever the process's own time zone is."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.timestamp()


def utc_iso(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with its offset (``2026-11-30T15:00:00.123456+00:00``);
    a naive value is local time in ``TIME_ZONE``, as in :func:`to_epoch`."""
    return datetime.fromtimestamp(to_epoch(moment), tz=UTC).isoformat()
