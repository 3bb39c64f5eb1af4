"""The store's errors and how it tells a circumstance (full disk, read-only, I/O, permissions, a lock) from
damage to the database file itself: a circumstance is reported and changes nothing; only damage moves a database
aside."""
from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from ..errors import ConfigError, ForgetsetError
from ..limits import fmt_bytes

DB_NAME = "forgetset.db"


class CorruptArtifact(ForgetsetError):
    """An artifact is missing, truncated or fails its checksum (it is recomputed, never trusted)."""


class StoreUnavailable(ConfigError):
    """The cache cannot be written or read right now for a reason outside its contents (disk full, read-only file
    system, I/O error, permissions, a lock): reported with what to do; the database is never moved aside."""


# SQLite result codes (``sqlite_errorname``, Python >= 3.11) and message texts of each circumstance; an error of
# none of these kinds is judged by the integrity check alone.
_CIRCUMSTANCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "full": (("SQLITE_FULL",), ("disk is full", "no space left")),
    "readonly": (("SQLITE_READONLY",), ("readonly database", "read-only file system", "read-only database")),
    "io": (("SQLITE_IOERR",), ("disk i/o error", "input/output error")),
    "permission": (("SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH"),
                   ("unable to open database file", "permission denied", "access permission")),
    "locked": (("SQLITE_BUSY", "SQLITE_LOCKED"), ("database is locked", "database table is locked")),
}
_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_DAMAGE_TEXTS = ("malformed", "file is not a database", "integrity check failed")


def db_circumstance(err: BaseException) -> str | None:
    """Which circumstance (full / readonly / io / permission / locked) a database error reports, or None."""
    if isinstance(err, OSError):
        return {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "readonly", errno.EIO: "io",
                errno.EACCES: "permission", errno.EPERM: "permission"}.get(err.errno)
    if not isinstance(err, sqlite3.Error):
        return None
    name = str(getattr(err, "sqlite_errorname", "") or "")
    text = str(err).lower()
    for kind, (codes, texts) in _CIRCUMSTANCES.items():
        if any(name.startswith(c) for c in codes) or any(t in text for t in texts):
            return kind
    return None


def db_damage(err: BaseException) -> bool:
    """Whether a database error says the file itself is damaged (corrupt pages, not a database)."""
    name = str(getattr(err, "sqlite_errorname", "") or "")
    return any(name.startswith(c) for c in _DAMAGE_CODES) or any(t in str(err).lower() for t in _DAMAGE_TEXTS)


def circumstance_message(kind: str, root: Path, err: BaseException, doing: str = "use") -> str:
    """What happened to the cache at ``root``, in words a user can act on (the database is left as it is)."""
    try:
        usage = shutil.disk_usage(root)
        space = f"{fmt_bytes(usage.free)} free of {fmt_bytes(usage.total)}"
    except OSError:
        space = "free space unknown"
    detail = f"{type(err).__name__}: {' '.join(str(err).split())[:160]}"
    kept = "The database was not changed or moved"
    if kind == "full":
        return (f"the disk holding the cache {root} is full ({space}) ({detail}). Free some space on it (e.g. remove "
                f"old forgetset.db.corrupt-* files or unused artifacts) or use another --cache-dir, then run the "
                f"command again. {kept}; finished results are kept.")
    if kind == "readonly":
        return (f"the cache {root} is on a read-only file system or its database is read-only ({detail}). Remount "
                f"it read-write, fix the file's permissions, or use another --cache-dir. {kept}.")
    if kind == "io":
        return (f"the disk holding the cache {root} reported an I/O error ({detail}; {space}). Check the disk or "
                f"network mount (e.g. dmesg), then run the command again or use another --cache-dir. {kept}.")
    if kind == "permission":
        return (f"no permission to {doing} the cache {root} ({detail}). Fix the permissions of the folder and of "
                f"forgetset.db* in it, or use another --cache-dir. {kept}.")
    if kind == "locked":
        return (f"the cache database {root / DB_NAME} is locked by another process ({detail}). Wait for it to "
                f"finish or use another --cache-dir. {kept}.")
    return f"the cache {root} failed ({detail}). {kept}."
