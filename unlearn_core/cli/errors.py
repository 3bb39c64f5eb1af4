"""Failures at the top level: every exception becomes one ``error: ...`` line and an exit status, never a
traceback (an unexpected one is saved to a file whose path the message gives)."""
from __future__ import annotations

import os
import time


def _save_crash(err: BaseException, argv: list[str]) -> str | None:
    """Write the traceback of an unexpected error to a file; returns its path (None if it cannot be written)."""
    import platform
    import tempfile
    import traceback

    text = (f"forgetset internal error\ncommand: python -m unlearn_core {' '.join(argv)}\n"
            f"python {platform.python_version()} on {platform.platform()}\ntime: {time.ctime()}\n\n"
            + "".join(traceback.format_exception(type(err), err, err.__traceback__)))
    try:
        fd, path = tempfile.mkstemp(prefix=f"forgetset-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path
    except OSError:
        return None


def _oneline(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain(err: BaseException, argv: list[str]) -> tuple[str, int]:
    """(message, exit status) for an exception that reached the top level; never a traceback."""
    import errno
    import pickle
    import sqlite3
    import zipfile

    from ..errors import ForgetsetError

    if isinstance(err, KeyboardInterrupt):
        return "interrupted; finished runs are kept in the cache, the interrupted one is not.", 130
    if isinstance(err, ForgetsetError):
        return f"error: {err}", 2
    try:
        import torch

        oom = (torch.cuda.OutOfMemoryError,)
    except (ImportError, AttributeError):  # pragma: no cover - torch is a dependency
        oom = ()
    if isinstance(err, (MemoryError, *oom)):
        return ("error: out of memory. Use a smaller request: fewer seeds or ratios, a smaller batch size or model, "
                "or a smaller data set (--device cpu if the GPU is the one that is full)."), 2
    if isinstance(err, sqlite3.Error):
        if "locked" in str(err):
            return (f"error: the cache database is locked by another process ({_oneline(err)}). Wait for it to "
                    f"finish or use another --cache-dir."), 2
        return (f"error: the cache database failed ({type(err).__name__}: {_oneline(err)}). Run the command again "
                f"(a database that fails its integrity check is moved aside when the cache opens, and the note says "
                f"where), or use another --cache-dir."), 2
    if isinstance(err, (zipfile.BadZipFile, pickle.UnpicklingError, EOFError)):
        return (f"error: a file could not be read: it is truncated or not in the expected format "
                f"({type(err).__name__}: {_oneline(err)}). Check the file named in your command."), 2
    if isinstance(err, OSError):
        where = f" '{err.filename}'" if getattr(err, "filename", None) else ""
        reason = err.strerror or _oneline(err)
        if err.errno == errno.ENOSPC:
            return f"error: the disk is full{where}. Free some space or use another --cache-dir / --out.", 2
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return (f"error: no permission to write or read{where} ({reason}). Use a folder you can write "
                    f"(--cache-dir, --out)."), 2
        return f"error: {reason}{where}. Check the paths in your command.", 2
    if type(err).__module__.startswith("PIL"):
        return f"error: an image could not be read ({_oneline(err)}). Remove or replace it.", 2
    path = _save_crash(err, argv)
    where = f" Details: {path}" if path else ""
    return (f"error: internal error ({type(err).__name__}: {_oneline(err, 200)}). This is a bug in forgetset, not "
            f"in your input; please report it.{where}"), 2
