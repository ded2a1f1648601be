"""Small helpers for the API routes of sandbox profiles: query parameters, lookups."""

from __future__ import annotations

from typing import Any

from .profile import ApiError


def int_param(query: Any, name: str, default: int, low: int, high: int) -> int:
    """The integer query parameter ``name`` in ``[low, high]``; raises :class:`ApiError` 400."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}", name)
    return value


def by_id(items: list[dict[str, Any]], wanted: str, what: str) -> dict[str, Any]:
    """The item whose ``id`` reads ``wanted``; raises :class:`ApiError` 404."""
    for item in items:
        if str(item["id"]) == wanted:
            return item
    raise ApiError(404, "not_found", f"{what} not found")
