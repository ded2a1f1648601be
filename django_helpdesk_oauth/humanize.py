"""Small display helpers shared by the admin and the commands."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def duration(seconds: float) -> str:
    """``"2d 3h"``, ``"23h 59m"``, ``"4m"``, ``"12s"``."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


#: How a token whose ``expires_at`` is NULL (it never expires) is shown.
NEVER_EXPIRES = "never expires"


def expires_in(when: datetime | None, now: datetime | None = None) -> str:
    """``"in 23h 59m"`` or ``"expired 5m ago"``; ``"never expires"`` for ``None`` (a
    token's ``expires_at`` NULL: it never expires)."""
    if when is None:
        return NEVER_EXPIRES
    delta = (when - (now or timezone.now())).total_seconds()
    return f"in {duration(delta)}" if delta >= 0 else f"expired {duration(delta)} ago"
