"""A tiny dependency-free progress bar for management commands.

It draws on the command's ``stderr`` only when that is a terminal or when the
user asked with ``--progress``, so pipes, logs and test output stay clean.
"""

from __future__ import annotations

import time
from typing import Any

#: Seconds between two redraws (the last state is always drawn on close).
REDRAW_EVERY = 0.1


class ProgressBar:
    """``with ProgressBar(self.stderr, total, label="refresh") as bar: bar.advance()``.

    ``total`` may be ``None`` when unknown: a counter is drawn instead of a bar.
    """

    def __init__(
        self, stream: Any, total: int | None = None, *, label: str = "", force: bool = False
    ) -> None:
        self.stream = stream
        self.total = total
        self.label = label
        self.done = 0
        isatty = getattr(stream, "isatty", None)
        self.enabled = force or bool(isatty and isatty())
        self._drawn_at: float | None = None
        self._width = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done, and redraw now and then."""
        self.done += count
        now = time.monotonic()
        if self._drawn_at is None or now - self._drawn_at >= REDRAW_EVERY:
            self._draw(now)

    def render(self, width: int = 30) -> str:
        """The bar as text, e.g. ``refresh [#########.....] 30/50``."""
        prefix = f"{self.label} " if self.label else ""
        if not self.total:
            return f"{prefix}{self.done} done"
        filled = min(width, width * self.done // self.total)
        return f"{prefix}[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"

    def _draw(self, now: float) -> None:
        if not self.enabled:
            return
        line = self.render()
        self.stream.write("\r" + line, ending="")
        self.stream.flush()
        self._drawn_at = now
        self._width = len(line)

    def clear(self) -> None:
        """Blank the bar's line, so a message can be written to the same stream."""
        if self.enabled and self._drawn_at is not None:
            self.stream.write("\r" + " " * self._width + "\r", ending="")
            self._drawn_at = None

    def close(self) -> None:
        """Draw the final state and end the line (only if anything was drawn)."""
        if self.enabled and (self._drawn_at is not None or self.done):
            self._draw(time.monotonic())
            self.stream.write("", ending="\n")
            self._drawn_at = None
