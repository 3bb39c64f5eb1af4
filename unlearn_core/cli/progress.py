"""Progress on stderr: a tqdm bar on a terminal, whole lines (at most one every PLAIN_PROGRESS_S) to a file."""
from __future__ import annotations

import sys
import time


PLAIN_PROGRESS_S = 10.0


class _Bar:
    """tqdm progress bar on stderr fed by RunContext callbacks; a context manager, so an error never leaves a
    half-drawn bar in front of its message."""

    def __init__(self, quiet: bool, desc: str):
        self.bar = None
        self.desc = desc
        self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.last_line = (-1.0, "")  # (time, text) of the last plain progress line (stderr is not a terminal)
        if not quiet and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=1000, desc=desc, file=sys.stderr, leave=False,
                            bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")
        self.quiet = quiet

    def ctx(self):
        from ..context import RunContext

        def on_progress(f: float, msg: str) -> None:
            if self.bar is not None:
                self.bar.n = int(1000 * f)
                self.bar.set_postfix_str(msg[:60], refresh=False)
                self.bar.refresh()
            elif not self.quiet:
                # a file or pipe gets whole lines (no carriage-return redraws): one when the step changes, at
                # most one every PLAIN_PROGRESS_S seconds otherwise
                now = time.time()
                if msg != self.last_line[1] or now - self.last_line[0] >= PLAIN_PROGRESS_S:
                    print(f"{self.desc}: {100 * f:5.1f}% {msg}", file=sys.stderr, flush=True)
                    self.last_line = (now, msg)

        return RunContext(on_progress=on_progress)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
