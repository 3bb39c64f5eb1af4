"""What a grid worker process runs first, before its heavy imports: the watch that ends it with its driver.

A spawned worker must import torch and the core before it can run anything of the grid (≈ 3 s on an idle machine,
20–40 s on a loaded 2-core one). A watch started only after those imports left a driver killed meanwhile with workers
that went on importing and then computing for nobody (measured: 6 s after the driver's death with 6 busy processes
on 2 cores; the kill-the-driver test timed out under heavier load). So this module imports only the standard
library, starts the watch, and only then imports the worker's real initializer, which the executor passes by name.
"""
from __future__ import annotations

import importlib
import os
import threading
import time


def exit_with_parent(parent_pid: int, period_s: float = 0.5) -> None:
    """A worker whose driver died (killed, Ctrl-C'd twice) must not go on computing a grid nobody reads: a daemon
    thread exits the process once it is re-parented. Its unclaimed rows stay ``running`` and are recomputed."""
    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(period_s)

    threading.Thread(target=watch, name="forgetset-parent-watch", daemon=True).start()


def start_worker(parent_pid: int | None, init: str, *args: object) -> None:
    """Initializer of a grid worker process: the parent watch first, then ``init`` (``"module:function"``, imported
    now) called with ``args``."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    module, name = init.split(":")
    getattr(importlib.import_module(module), name)(*args)
