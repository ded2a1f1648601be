"""Presentation shared by the commands: masking, human durations, aligned tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.utils import timezone

from ..crypto import mask
from ..humanize import duration


def masked(secret: str | None) -> str:
    """A secret as commands may show it: at most its last four characters."""
    return mask(secret) or "(none)"


def one_line(message: object) -> str:
    """``message`` on one line (whitespace runs collapsed), for ``CommandError``."""
    return " ".join(str(message).split())


def expires_in(when: datetime | None, now: datetime | None = None) -> str:
    """``"23h 59m"`` ahead, ``"expired 5m ago"`` behind, ``"-"`` when unknown."""
    if when is None:
        return "-"
    delta = (when - (now or timezone.now())).total_seconds()
    return duration(delta) if delta > 0 else f"expired {duration(delta)} ago"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """``"5m ago"``, or ``"never"``."""
    if when is None:
        return "never"
    return f"{duration(((now or timezone.now()) - when).total_seconds())} ago"


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Left-aligned columns separated by two spaces; the header line first."""
    cells = [list(map(str, headers)), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
