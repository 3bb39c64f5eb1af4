"""Progress, logging and cancellation handed to long-running work (CLI progress bars, dashboard jobs)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from .errors import CancelledError


@dataclass
class RunContext:
    """Carries a progress callback (fraction in [0, 1], message), a log sink and a cancel flag.

    ``sub(lo, hi)`` gives a child context whose progress maps into [lo, hi] of the parent, so nested steps
    (original model -> scores -> forget set -> runs) report one monotone bar.
    """

    on_progress: Callable[[float, str], None] | None = None
    on_log: Callable[[str], None] | None = None
    cancel_event: threading.Event | None = None
    lo: float = 0.0
    hi: float = 1.0
    _last: list = field(default_factory=lambda: [0.0])

    def check_cancel(self) -> None:
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise CancelledError("Cancelled by the user.")

    def progress(self, fraction: float, message: str = "") -> None:
        self.check_cancel()
        if self.on_progress is not None:
            f = self.lo + (self.hi - self.lo) * min(max(float(fraction), 0.0), 1.0)
            self.on_progress(f, message)

    def log(self, message: str) -> None:
        if self.on_log is not None:
            self.on_log(message)

    def sub(self, lo: float, hi: float) -> "RunContext":
        span = self.hi - self.lo
        return RunContext(self.on_progress, self.on_log, self.cancel_event,
                          self.lo + span * lo, self.lo + span * hi)


NULL_CONTEXT = RunContext()
