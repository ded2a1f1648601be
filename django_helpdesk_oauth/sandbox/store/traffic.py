"""What tests arrange and observe about requests: the log, faults, reshapes, rate limits."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from ..profile import RateLimit
from .records import Fault, TokenReshape


class RequestLog:
    """One dict per request served, oldest first (see ``SandboxState.requests``)."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], float]) -> None:
        self._lock, self._clock = lock, clock
        self.entries: list[dict[str, Any]] = []

    def log(self, **entry: Any) -> dict[str, Any]:
        """Append one entry and return it (views fill in ``status`` later)."""
        with self._lock:
            entry.setdefault("time", self._clock())
            self.entries.append(entry)
            return entry

    def matching(self, **filters: Any) -> list[dict[str, Any]]:
        """Entries whose fields equal every given filter."""
        with self._lock:
            return [r for r in self.entries if all(r.get(k) == v for k, v in filters.items())]


class FaultQueue:
    """Queued faults and reshaped token answers, consumed in order."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.faults: list[Fault] = []
        self.reshapes: list[TokenReshape] = []

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, endpoint: str, provider: str | None, tenant: str | None) -> Fault | None:
        """Consume one use of the first queued fault matching this request, if any."""
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(endpoint, provider, tenant):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
            return None

    def add_reshape(self, shape: TokenReshape) -> TokenReshape:
        with self._lock:
            self.reshapes.append(shape)
        return shape

    def take_reshape(self, provider: str) -> TokenReshape | None:
        """Consume one use of the first queued reshape for ``provider``, if any."""
        with self._lock:
            for shape in self.reshapes:
                if shape.times > 0 and shape.provider in (None, provider):
                    shape.times -= 1
                    if shape.times <= 0:
                        self.reshapes.remove(shape)
                    return shape
            return None


class RateLimiter:
    """Leaky buckets per (provider, key), drained by the sandbox clock."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], float]) -> None:
        self._lock, self._clock = lock, clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def hit(self, limit: RateLimit, provider: str, key: str) -> tuple[float | None, dict[str, str]]:
        """Count one request; ``(seconds until one more fits or None, limit headers)``."""
        with self._lock:
            now = self._clock()
            rate = limit.capacity / limit.window  # requests drained per second
            level, since = self._buckets.get((provider, key), (0.0, now))
            level = max(0.0, level - (now - since) * rate)
            retry_after = None
            if level + 1 > limit.capacity:
                retry_after = (level + 1 - limit.capacity) / rate
            else:
                level += 1
            self._buckets[(provider, key)] = (level, now)
            used = min(limit.capacity, math.ceil(level))
            values = {"used": used, "remaining": limit.capacity - used, "limit": limit.capacity}
            headers = {name: template.format(**values) for name, template in limit.headers}
            return retry_after, headers
