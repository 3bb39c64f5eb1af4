"""Resource limits checked *before* anything is loaded: data files, image folders and checkpoints.

A 1 MB npz can declare a 1 GB array (zeros compress to nothing), an image folder can hold millions of files or one
60000x60000 PNG, a checkpoint can be any size; each is measured from its headers and refused with an ``error:``
naming the limit before a byte is inflated.

- **Data limit** (``FORGETSET_MAX_DATA_MB``, megabytes): the most bytes the arrays of one data set (or one
  checkpoint) may take once inflated. Default: an eighth of the memory available when it is checked, because
  loading needs several times the raw uint8 bytes (a contiguous copy, the tensors, a float pass for the channel
  statistics) and training needs room too.
- **Folder files** (``FORGETSET_MAX_FOLDER_FILES``): the most image files an ImageFolder tree may hold
  (default 2,000,000, more than ImageNet's training set).
- **Image size**: :data:`MAX_SIDE` pixels per side (``data.MAX_SIDE``), checked from each image's header.
"""
from __future__ import annotations

import os

from .errors import ConfigError

DATA_LIMIT_ENV = "FORGETSET_MAX_DATA_MB"
FOLDER_FILES_ENV = "FORGETSET_MAX_FOLDER_FILES"
DEFAULT_MAX_FOLDER_FILES = 2_000_000
MEMORY_SHARE = 8  # the default data limit is 1/MEMORY_SHARE of the available memory
MIN_DATA_LIMIT = 64 * 2**20


def fmt_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (binary units)."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def available_memory_bytes() -> int:
    """Memory available to new allocations now (Linux: MemAvailable; elsewhere free physical pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - no sysconf (Windows)
        return 8 * 2**30


def _env_number(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number, got '{raw[:40]}'.")
    return value


def data_limit_bytes() -> int:
    """The data limit in bytes: ``FORGETSET_MAX_DATA_MB`` if set, else an eighth of the available memory."""
    mb = _env_number(DATA_LIMIT_ENV)
    if mb is not None:
        return int(mb * 2**20)
    return max(MIN_DATA_LIMIT, available_memory_bytes() // MEMORY_SHARE)


def data_limit_text() -> str:
    """How the limit is set, for error messages."""
    limit = data_limit_bytes()
    if os.environ.get(DATA_LIMIT_ENV, "").strip():
        how = f"set by {DATA_LIMIT_ENV}"
    else:
        how = f"1/{MEMORY_SHARE} of the {fmt_bytes(available_memory_bytes())} of memory available now"
    return (f"the data limit is {fmt_bytes(limit)} ({how}); set {DATA_LIMIT_ENV} (megabytes) to change it if the "
            f"machine has the memory")


def check_data_bytes(what: str, n_bytes: int, detail: str = "") -> None:
    """Refuse ``what`` when it would take more than the data limit once loaded."""
    if n_bytes > data_limit_bytes():
        raise ConfigError(f"{what} would take {fmt_bytes(n_bytes)} in memory{f' ({detail})' if detail else ''}; "
                          f"{data_limit_text()}.")


def max_folder_files() -> int:
    n = _env_number(FOLDER_FILES_ENV)
    return int(n) if n is not None else DEFAULT_MAX_FOLDER_FILES
