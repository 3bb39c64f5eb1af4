"""Thread policy: how many CPU threads torch may use and how many jobs run at once.

torch's intra-op thread count is process-wide. Measured on 2-core machines (see README, "Thread policy"):
the default (one OpenMP thread per core, busy-waiting) is several times *slower* than one thread as soon as
anything else wants the cores (the Streamlit server, the browser, a second job), because spinning threads
fight for them. So each worker computes on one thread, and parallelism comes from running independent units
on several workers. ``FORGETSET_THREADS`` and ``FORGETSET_MAX_WORKERS`` override the defaults.
"""
from __future__ import annotations

import os

from .errors import ConfigError


def cpu_count() -> int:
    """CPU cores this process may use (respects affinity masks / containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}.")
    return int(raw)


def default_workers() -> int:
    """Jobs run at once on the CPU (``FORGETSET_MAX_WORKERS``, default 1)."""
    return _env_int("FORGETSET_MAX_WORKERS", 1)


def threads_per_worker() -> int:
    """torch threads per worker (``FORGETSET_THREADS``, default 1: see the module docstring)."""
    return _env_int("FORGETSET_THREADS", 1)


def apply_thread_policy(threads: int | None = None) -> int:
    """Set torch's intra-op threads for this process (and OpenMP's wait policy, before torch starts its pool).

    Returns the number of threads set. Call once per process, early (CLI, job manager, benchmarks).
    """
    n = int(threads or threads_per_worker())
    # Passive waiting: idle OpenMP threads sleep instead of spinning on a core another worker needs.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
