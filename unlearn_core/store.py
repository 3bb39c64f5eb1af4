"""Persistence, all of it: an embedded SQLite database (runs, jobs, meta) plus an artifact folder on disk.

This is the only module that writes SQL or artifact files. What it guarantees:

- **Keys.** Every cached result is a *run* keyed by :func:`~unlearn_core.io.config_key` of its full
  configuration. :meth:`Store.cached` serves a finished run or computes, saves and records it; every step of the
  project (original models, scores, forget sets, unlearning runs, model banks, analysis results) goes through it.
- **Claims.** A key is *claimed* (a ``running`` row with a fresh claim token and the owner ``host:pid``) before it
  is computed, and a row changes state only from ``running`` under its own claim token (``WHERE status='running'
  AND claim=?``): a second, cancelled copy of a job can never demote a finished result. Another worker that needs
  a claimed key waits for it instead of computing it twice; a claim of a dead process is taken over.
- **Integrity.** Artifacts are written atomically (temporary file + fsync + rename) *before* their row says
  ``done``; each artifact's SHA-256 and size are recorded in the row and verified on every load. A corrupt or
  missing artifact is recomputed, never trusted and never fatal. A database that fails SQLite's integrity check
  is moved aside (``forgetset.db.corrupt-<time>``) and a fresh one started, with a notice naming where the old
  file went (:attr:`Store.notices`).
- **Damage vs circumstance.** A full disk, a read-only file system, an I/O error, missing permissions or a lock
  held by another process are *circumstances*: they are reported as such (:class:`StoreUnavailable`: what is
  full, how much is free, what to do) and never move a database aside; only a failed integrity check does.
- **Killed processes.** Rows left ``running`` by a process that is no longer alive (SIGKILL, SIGTERM, power loss)
  become ``interrupted`` whenever a store is opened, whatever the stage, and are recomputed when needed.
- **Schema versions.** ``meta.schema_version`` records the layout; older databases are migrated in place
  (:data:`MIGRATIONS`), newer ones are refused with a clear message.

Location: ``Store(root)``; default ``$FORGETSET_CACHE_DIR`` or ``./cache``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .io import atomic_write_bytes, config_key, sha256_bytes, sha256_file, weights_digest  # noqa: F401
from .errors import CancelledError, CheckpointError, ConfigError, ForgetsetError
from .limits import data_limit_bytes, data_limit_text, fmt_bytes

SCHEMA_VERSION = 3
RUN_STATES = ("running", "done", "failed", "cancelled", "interrupted", "legacy", "corrupt")
OWNER = f"{socket.gethostname()}:{os.getpid()}"
# A claim held by a process on another host counts as dead when its row has not been touched for this long.
REMOTE_CLAIM_TIMEOUT_S = 3600.0


def default_cache_dir() -> Path:
    return Path(os.environ.get("FORGETSET_CACHE_DIR", "cache"))


def array_digest(a: np.ndarray | torch.Tensor) -> str:
    """Content hash of an array (dtype, shape and bytes): keys of results derived from it."""
    arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    arr = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:24]


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
        import errno

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
    import shutil

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
        return (f"the cache database {root / Store.DB_NAME} is locked by another process ({detail}). Wait for it to "
                f"finish or use another --cache-dir. {kept}.")
    return f"the cache {root} failed ({detail}). {kept}."


@dataclass
class Computed:
    """What a step's ``compute()`` returns to :meth:`Store.cached`."""

    value: Any
    metrics: dict = field(default_factory=dict)  # small numbers stored in the row (shown in listings)
    timings: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # stored with the artifact (safetensors metadata / JSON)


@dataclass
class Cached:
    """What :meth:`Store.cached` returns: the value, whether it came from the cache, and the run row."""

    value: Any
    hit: bool
    run: dict
    meta: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.run["key"]

    @property
    def digest(self) -> str:
        """Content hash of the main artifact (the key part of everything derived from this result)."""
        return run_digest(self.run)


def run_digest(run: dict) -> str:
    """The content hash that keys everything derived from a finished run: for array artifacts the hash of the
    arrays alone (names, dtypes, shapes, bytes), so timings in their metadata never change a derived key; else
    the SHA-256 of the artifact file."""
    rec = (run.get("artifacts") or {}).get("main") or {}
    return (rec.get("content") or rec.get("sha256", ""))[:24]


# ---------------------------------------------------------------------------------------------- schema
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT,
    timings TEXT,
    error TEXT,
    created REAL NOT NULL,
    finished REAL,
    artifacts TEXT,
    claim TEXT,
    owner TEXT,
    updated REAL,
    digest TEXT
);
CREATE INDEX IF NOT EXISTS runs_kind ON runs(kind, status);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT,
    config TEXT NOT NULL,
    resource TEXT,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT,
    error TEXT,
    result TEXT,
    log TEXT,
    owner TEXT,
    slot TEXT,
    rerun_of TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    updated REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
"""


def _migrate_1_to_2(store: "Store", con: sqlite3.Connection) -> None:
    """Release 1 → 2: checksums, claims and owners on runs; forget sets become runs; the catalogue goes.

    Original models keep their keys (the key formula is unchanged), so they are reused after their weights get a
    checksum. Scores, forget sets and unlearning runs of release 1 were keyed without the content hash of the
    model they came from and with the old BLO defaults; they are kept for reference as status ``legacy`` (listed
    on the Runs page, never served as results or shown in Compare).
    """
    cols = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    for col, typ in (("artifacts", "TEXT"), ("claim", "TEXT"), ("owner", "TEXT"), ("updated", "REAL")):
        if col not in cols:
            con.execute(f"ALTER TABLE runs ADD COLUMN {col} {typ}")
    con.execute("DROP TABLE IF EXISTS forget_set_catalog")
    con.execute("DELETE FROM meta WHERE k='dashboard_last_setup'")
    for row in con.execute("SELECT key FROM runs WHERE kind='original' AND status='done'").fetchall():
        path = store.artifact_path("model", row[0], "safetensors")
        if path.is_file():
            rec = {"main": {"file": str(path.relative_to(store.root)), "sha256": sha256_file(path),
                            "bytes": path.stat().st_size}}
            con.execute("UPDATE runs SET artifacts=? WHERE key=?", (json.dumps(rec), row[0]))
        else:
            con.execute("UPDATE runs SET status='legacy', error=? WHERE key=?",
                        ("release-1 run without its weights file", row[0]))
    con.execute("UPDATE runs SET status='legacy', error=COALESCE(error, ?) WHERE kind!='original' "
                "AND status='done'", ("made by release 1 (keys and BLO defaults changed); re-run to recompute",))
    con.execute("UPDATE runs SET status='interrupted' WHERE status='running'")


def _migrate_2_to_3(store: "Store", con: sqlite3.Connection) -> None:
    """Release 2 → 3: finished runs carry a checksum of their row (:func:`row_digest`), so a damaged database
    cell (a flipped digit in a metric) is detected instead of served. Existing finished rows are trusted once."""
    cols = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    if "digest" not in cols:
        con.execute("ALTER TABLE runs ADD COLUMN digest TEXT")
    for row in con.execute("SELECT * FROM runs WHERE status='done'").fetchall():
        con.execute("UPDATE runs SET digest=? WHERE key=?", (row_digest(row), row["key"]))


MIGRATIONS: dict[int, Callable[["Store", sqlite3.Connection], None]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}
_DIGEST_FIELDS = ("key", "kind", "status", "config", "metrics", "timings", "artifacts")


def row_digest(row: Any) -> str:
    """SHA-256 of what a finished run's row says (key, kind, status, configuration, metrics, timings, artifact
    records), in the stored text itself: any damaged cell changes it."""
    h = hashlib.sha256()
    for k in _DIGEST_FIELDS:
        v = row[k]
        h.update(b"\x00" if v is None else str(v).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # pragma: no cover - no statvfs (Windows)
        return False


def _owner_alive(owner: str | None, updated: float | None) -> bool:
    """Whether the process that holds a claim or a job is still alive (same host: its pid; else its heartbeat)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_s = rest.split(":")[0]
    if host != socket.gethostname():
        return updated is not None and time.time() - float(updated) < REMOTE_CLAIM_TIMEOUT_S
    if not pid_s.isdigit():
        return False
    pid = int(pid_s)
    return pid == os.getpid() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process of this host is alive; a zombie (killed, not yet reaped by its parent) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (not Linux), or it exited just now
        return not Path("/proc").exists()


# ---------------------------------------------------------------------------------------------- the store
class Store:
    """SQLite database + artifact folder under one root. Thread-safe (short-lived connections)."""

    DB_NAME = "forgetset.db"

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.notices: list[str] = []  # things the user should know about this cache (shown by the CLI/dashboard)
        self._check_root()
        self.db_path = self.root / self.DB_NAME
        self.artifact_dir = self.root / "artifacts"
        try:
            self.artifact_dir.mkdir(exist_ok=True)
        except OSError as err:
            raise ConfigError(f"Cannot use '{self.artifact_dir}' as the artifact folder ({err.strerror or err}). Move "
                              f"it away or use another --cache-dir.") from None
        if not self.artifact_dir.is_dir() or not os.access(self.artifact_dir, os.R_OK | os.W_OK | os.X_OK):
            raise ConfigError(f"The artifact folder '{self.artifact_dir}' is not a writable folder. Fix its "
                              f"permissions, move it away or use another --cache-dir.")
        self._open_schema()
        # Rows left 'running' by processes that are gone (killed at any stage) are reclaimed now; a full disk
        # just postpones this to the next opening.
        self.reclaimed = 0
        with contextlib.suppress(StoreUnavailable):
            self.reclaimed = self.mark_interrupted()
        if self.reclaimed:
            self.notices.append(f"{self.reclaimed} run(s) left 'running' by a process that is no longer alive were "
                                f"marked interrupted; they are recomputed when needed.")

    # ------------------------------------------------------------------ opening
    def _check_root(self) -> None:
        root = self.root
        try:
            if root.exists() and not root.is_dir():
                raise ConfigError(f"Cache folder '{root}' is a file, not a folder. Pass --cache-dir (or set "
                                  f"FORGETSET_CACHE_DIR) to a folder.")
            root.mkdir(parents=True, exist_ok=True)
        except ConfigError:
            raise
        except OSError as err:
            raise ConfigError(f"Cannot create the cache folder '{root}': {err.strerror or err}. Pass --cache-dir "
                              f"to a folder you can write.") from None
        if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
            if _read_only_fs(root):
                raise StoreUnavailable(f"the cache folder '{root}' is on a read-only file system. Remount it "
                                       f"read-write or pass --cache-dir to a folder on a writable disk; nothing in "
                                       f"the cache was changed or moved.")
            raise ConfigError(f"Cache folder '{root}' is not readable and writable by this user. Pass --cache-dir "
                              f"to a folder you can write.")
        db = root / self.DB_NAME
        if db.exists() and not db.is_file():
            raise ConfigError(f"'{db}' is not a database file (it is a folder). Move it away or use another "
                              f"--cache-dir.")
        if db.is_file() and not os.access(db, os.R_OK | os.W_OK):
            raise ConfigError(f"The database '{db}' is read-only for this user. Fix its permissions or use another "
                              f"--cache-dir.")

    def _open_schema(self) -> None:
        """Open (create, migrate) the database. A circumstance (disk full, read-only, I/O, permissions, a lock) is
        reported and changes nothing; only a database that fails the integrity check is moved aside."""
        try:
            self._init_schema()
            return
        except sqlite3.Error as err:
            kind = db_circumstance(err)
            if kind is not None:
                raise StoreUnavailable(circumstance_message(kind, self.root, err, "open")) from None
            why = f"{type(err).__name__}: {err}"
            if not db_damage(err) and not self._fails_integrity():
                raise StoreUnavailable(f"the cache database {self.db_path} could not be opened ({why}); it passes "
                                       f"SQLite's integrity check, so it was left as it is. Run the command again, "
                                       f"or use another --cache-dir.") from None
        moved = self._move_aside(why)
        try:
            self._init_schema()
        except sqlite3.Error as err:
            kind = db_circumstance(err) or "other"
            raise StoreUnavailable(f"The damaged database was moved to {moved}, but a fresh one cannot be started: "
                                   + circumstance_message(kind, self.root, err, "create")) from None

    def _fails_integrity(self) -> bool:
        """Whether SQLite's integrity check (read-only) finds the database damaged; a circumstance while checking
        (cannot open, I/O) is raised as :class:`StoreUnavailable`, never taken for damage."""
        try:
            con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30.0)
            try:
                row = con.execute("PRAGMA integrity_check(1)").fetchone()
            finally:
                con.close()
        except sqlite3.Error as err:
            kind = db_circumstance(err)
            if kind is not None:
                raise StoreUnavailable(circumstance_message(kind, self.root, err, "read")) from None
            return True
        return row is None or row[0] != "ok"

    def _move_aside(self, why: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = self.db_path.with_name(f"{self.DB_NAME}.corrupt-{stamp}-{os.getpid()}")
        try:
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.db_path) + suffix)
                if src.exists():
                    os.replace(src, Path(str(moved) + suffix))
        except OSError as err:
            raise StoreUnavailable(f"The database {self.db_path} is damaged ({why}) and cannot be moved aside "
                                   f"({err.strerror or err}). Move it away by hand or use another --cache-dir.") \
                from None
        self.notices.append(f"The database {self.db_path} failed its integrity check ({why}); it was moved to "
                            f"{moved} (keep it to inspect or recover it, or delete it) and a fresh one started. "
                            f"Cached artifacts are recomputed as needed.")
        return moved

    def _init_schema(self) -> None:
        with self.connect() as con:
            # The checks report damage as rows (they raise only when the header is unreadable); any answer but
            # "ok" means pages are damaged and later queries would fail one by one, so the file is moved aside.
            # integrity_check also matches every index against its table (quick_check does not, and bit flips
            # there surfaced later as "database disk image is malformed" mid-command); it reads the whole file,
            # milliseconds for a cache database, so quick_check is kept for very large ones.
            size = self.db_path.stat().st_size if self.db_path.exists() else 0
            pragma = "integrity_check(1)" if size < 256 * 2**20 else "quick_check(1)"
            check = con.execute(f"PRAGMA {pragma}").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else 'no answer'}")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = None
            if "meta" in tables:
                row = con.execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()
                version = int(row[0]) if row and str(row[0]).isdigit() else None
            if "runs" in tables and version is None:
                version = 1
            if version is not None and version > SCHEMA_VERSION:
                raise ConfigError(f"The cache {self.db_path} was made by a newer forgetset (schema {version}; this "
                                  f"release reads up to {SCHEMA_VERSION}). Upgrade, or use another --cache-dir.")
            if version is not None and version < SCHEMA_VERSION:
                con.executescript(_SCHEMA.replace("CREATE INDEX IF NOT EXISTS runs_kind ON runs(kind, status);", ""))
                for v in range(version, SCHEMA_VERSION):
                    MIGRATIONS[v](self, con)
                self.notices.append(f"The cache {self.db_path} was migrated from schema {version} to "
                                    f"{SCHEMA_VERSION}.")
            con.executescript(_SCHEMA)
            if version != SCHEMA_VERSION:  # written only when it changes: a healthy cache opens on a full disk too
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection (safe from any thread); commits on success, rolls back on error."""
        try:
            con = sqlite3.connect(self.db_path, timeout=30.0)
        except sqlite3.OperationalError as err:
            raise StoreUnavailable(circumstance_message(db_circumstance(err) or "permission", self.root, err,
                                                        "open")) from None
        con.row_factory = sqlite3.Row
        # A damaged text cell must not make every query of its table fail: it decodes with replacement characters,
        # and the row's JSON / checksum checks then treat the row as unusable.
        con.text_factory = lambda b: b.decode("utf-8", "replace")
        try:
            con.execute("PRAGMA busy_timeout=30000")
            with contextlib.suppress(sqlite3.OperationalError):
                con.execute("PRAGMA journal_mode=WAL")
            yield con
            con.commit()
        except BaseException as err:
            with contextlib.suppress(sqlite3.Error):
                con.rollback()
            kind = db_circumstance(err) if isinstance(err, sqlite3.OperationalError) else None
            if kind is not None:
                raise StoreUnavailable(circumstance_message(kind, self.root, err)) from None
            raise
        finally:
            con.close()

    def meta_get(self, k: str) -> str | None:
        with self.connect() as con:
            row = con.execute("SELECT v FROM meta WHERE k=?", (k,)).fetchone()
        return row[0] if row else None

    def meta_set(self, k: str, v: str) -> None:
        with self.connect() as con:
            con.execute("INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", (k, v))

    # ------------------------------------------------------------------ runs: claims and state changes
    def claim(self, key: str, kind: str, config: dict, wait: bool = True, poll: float = 0.25,
              cancel: Callable[[], None] | None = None, replace: bool = False) -> str | None:
        """Claim ``key`` for computing it; returns a claim token, or None if the key is (or became) done.

        If another live worker holds the claim, wait for it (``wait=True``; ``cancel()`` is called between polls
        and may raise to stop waiting) or return None at once (``wait=False``). A claim whose owner died is taken
        over. ``replace=True`` claims a finished key too (to overwrite its result, e.g. an imported θ_o).
        """
        blob = json.dumps(config, sort_keys=True, default=str)
        while True:
            token = uuid.uuid4().hex
            now = time.time()
            with self.connect() as con:
                con.execute("BEGIN IMMEDIATE")
                row = con.execute("SELECT * FROM runs WHERE key=?", (key,)).fetchone()
                status = _row_to_dict(row)["status"] if row is not None else None  # a damaged 'done' is 'corrupt'
                busy = status == "running" and _owner_alive(row["owner"], row["updated"])
                if status == "done" and not replace:
                    return None
                if not busy:
                    con.execute(
                        "INSERT INTO runs(key, kind, status, config, created, claim, owner, updated) "
                        "VALUES (?, ?, 'running', ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET status='running', "
                        "kind=excluded.kind, config=excluded.config, error=NULL, created=excluded.created, "
                        "claim=excluded.claim, owner=excluded.owner, updated=excluded.updated",
                        (key, kind, blob, now, token, OWNER, now))
                    return token
            if not wait:
                return None
            if cancel is not None:
                cancel()
            time.sleep(poll)

    def finish(self, key: str, token: str, metrics: dict, timings: dict | None = None,
               artifacts: dict | None = None) -> bool:
        """Mark a claimed run done (one transaction). False if the claim was lost (nothing is changed then)."""
        now = time.time()
        m_txt = json.dumps(_finite(metrics), default=_json_default)
        t_txt, a_txt = json.dumps(timings or {}, default=float), json.dumps(artifacts or {})
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT kind, config FROM runs WHERE key=? AND status='running' AND claim=?",
                              (key, token)).fetchone()
            if row is None:
                return False  # the claim was lost: another worker's row is left as it is
            digest = row_digest({"key": key, "kind": row["kind"], "status": "done", "config": row["config"],
                                 "metrics": m_txt, "timings": t_txt, "artifacts": a_txt})
            cur = con.execute(
                "UPDATE runs SET status='done', metrics=?, timings=?, artifacts=?, finished=?, updated=?, error=NULL, "
                "digest=? WHERE key=? AND status='running' AND claim=?",
                (m_txt, t_txt, a_txt, now, now, digest, key, token))
            return cur.rowcount == 1

    def fail(self, key: str, token: str, error: str, status: str = "failed") -> bool:
        """Record a failure / cancellation of a claimed run; never touches a row another claim owns."""
        if status not in ("failed", "cancelled", "interrupted"):
            raise ValueError(status)
        with self.connect() as con:
            cur = con.execute("UPDATE runs SET status=?, error=?, finished=?, updated=? "
                              "WHERE key=? AND status='running' AND claim=?",
                              (status, error[:4000], time.time(), time.time(), key, token))
            return cur.rowcount == 1

    def get_run(self, key: str) -> dict | None:
        with self.connect() as con:
            row = con.execute("SELECT * FROM runs WHERE key=?", (key,)).fetchone()
        return _row_to_dict(row) if row else None

    def done_run(self, key: str) -> dict | None:
        run = self.get_run(key)
        return run if run and run["status"] == "done" else None

    def list_runs(self, kind: str | None = None, status: str | None = None) -> list[dict]:
        q, args = "SELECT * FROM runs WHERE 1=1", []
        if kind:
            q += " AND kind=?"
            args.append(kind)
        if status:
            q += " AND status=?"
            args.append(status)
        with self.connect() as con:
            rows = con.execute(q + " ORDER BY created", args).fetchall()
        out = [_row_to_dict(r) for r in rows]
        return [r for r in out if r["status"] == status] if status else out

    def delete_run(self, key: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM runs WHERE key=?", (key,))

    def mark_interrupted(self) -> int:
        """Runs left ``running`` by a dead process become ``interrupted`` (live workers' claims are kept)."""
        with self.connect() as con:
            rows = con.execute("SELECT key, owner, updated FROM runs WHERE status='running'").fetchall()
            dead = [r["key"] for r in rows if not _owner_alive(r["owner"], r["updated"])]
            for k in dead:
                con.execute("UPDATE runs SET status='interrupted', error=?, updated=? WHERE key=? AND "
                            "status='running'", ("the process computing it stopped", time.time(), k))
        return len(dead)

    def version(self) -> tuple:
        """Changes whenever a run is claimed or finished (a cheap cache key for readers)."""
        with self.connect() as con:
            row = con.execute("SELECT COUNT(*), MAX(updated), SUM(CASE WHEN status='done' THEN 1 ELSE 0 END) "
                              "FROM runs").fetchone()
        return tuple(row)

    # ------------------------------------------------------------------ artifacts
    def artifact_path(self, kind: str, key: str, ext: str) -> Path:
        return self.artifact_dir / kind / f"{key}.{ext}"

    def _write(self, path: Path, data: bytes) -> dict:
        try:
            atomic_write_bytes(path, data)
        except OSError as err:
            kind = db_circumstance(err)
            if kind is None:
                raise
            raise StoreUnavailable(f"cannot write {path.name} ({fmt_bytes(len(data))}): "
                                   + circumstance_message(kind, self.root, err, "write")) from None
        return {"file": str(path.relative_to(self.root)), "sha256": sha256_bytes(data), "bytes": len(data)}

    def _read_verified(self, run: dict, name: str = "main") -> bytes:
        rec = (run.get("artifacts") or {}).get(name)
        if not rec:
            raise CorruptArtifact(f"run {run['key']} has no '{name}' artifact record")
        path = self.root / rec["file"]
        try:
            data = path.read_bytes()
        except OSError as err:
            raise CorruptArtifact(f"{path}: {err.strerror or err}") from None
        if len(data) != rec.get("bytes") or sha256_bytes(data) != rec.get("sha256"):
            raise CorruptArtifact(f"{path} does not match its checksum (truncated or modified)")
        return data

    def encode(self, fmt: str, kind: str, key: str, value: Any, meta: dict) -> dict:
        """Write ``value`` as the run's main artifact; returns the artifact records for the row."""
        if fmt == "arrays":
            from safetensors.numpy import save

            arrays = {k: np.ascontiguousarray(v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
                      for k, v in value.items()}
            blob = save(arrays, metadata={"meta": json.dumps(meta or {}, default=_json_default)})
            content = hashlib.sha256()
            for name in sorted(arrays):
                content.update(f"{name}|{arrays[name].dtype.str}|{arrays[name].shape}|".encode())
                content.update(arrays[name].tobytes())
            return {"main": {**self._write(self.artifact_path(kind, key, "safetensors"), blob),
                             "content": content.hexdigest()}}
        if fmt == "model":
            blob = state_dict_bytes(value.state_dict() if isinstance(value, torch.nn.Module) else value, meta)
            return {"main": self._write(self.artifact_path(kind, key, "safetensors"), blob)}
        if fmt in ("json", "table"):
            obj = value
            if fmt == "table":
                obj = {"columns": [str(c) for c in value.columns], "records": value.to_dict("records")}
            blob = json.dumps({"meta": meta or {}, "value": obj}, default=_json_default, sort_keys=True).encode()
            return {"main": self._write(self.artifact_path(kind, key, "json"), blob)}
        raise ValueError(f"unknown artifact format {fmt!r}")

    def decode(self, fmt: str, run: dict) -> tuple[Any, dict]:
        """(payload, meta) of a finished run's main artifact, verified; raises :class:`CorruptArtifact`."""
        data = self._read_verified(run)
        try:
            if fmt == "arrays":
                from safetensors.numpy import load

                arrays = load(data)
                meta = json.loads(_safetensors_metadata(data).get("meta", "{}"))
                return arrays, meta
            if fmt == "model":
                from safetensors.torch import load

                state = load(data)
                return state, json.loads(_safetensors_metadata(data).get("forgetset", "{}"))
            if fmt in ("json", "table"):
                obj = json.loads(data)
                value = obj["value"]
                if fmt == "table":
                    import pandas as pd

                    value = pd.DataFrame(value["records"], columns=value["columns"])
                return value, obj.get("meta", {})
        except CorruptArtifact:
            raise
        except Exception as err:  # noqa: BLE001 - any decoding failure means the artifact cannot be trusted
            raise CorruptArtifact(f"artifact of run {run['key']} cannot be decoded ({type(err).__name__}: {err})") \
                from None
        raise ValueError(f"unknown artifact format {fmt!r}")

    # ------------------------------------------------------------------ the one caching primitive
    def cached(self, kind: str, config: dict, compute: Callable[[], Computed], *, fmt: str,
               decode: Callable[[Any, dict], Any] | None = None, on_log: Callable[[str], None] | None = None,
               cancel: Callable[[], None] | None = None) -> Cached:
        """Serve ``config``'s result from the store, or claim it, ``compute()`` it, save and record it.

        ``fmt`` is the artifact format (``arrays``: dict of numpy arrays; ``model``: an ``nn.Module`` or state
        dict; ``json``; ``table``: a DataFrame). ``decode(payload, meta)`` turns a loaded payload into the value a
        caller expects (e.g. builds the model from a state dict); the computed value is returned as is.
        """
        key = config_key(config)
        while True:
            run = self.done_run(key)
            corrupt = False
            if run is not None:
                try:
                    payload, meta = self.decode(fmt, run)
                    return Cached(decode(payload, meta) if decode else payload, True, run, meta)
                except (CorruptArtifact, CheckpointError) as err:
                    # CheckpointError: the payload decodes but is unusable (NaN or absurd weights, another model's
                    # tensors, forget-set indices out of range): as untrustworthy as a failed checksum.
                    corrupt = True  # re-claimed below even though its row says done
                    if on_log:
                        on_log(f"cached {kind} {key[:10]} is corrupt ({err}); recomputing it")
            token = self.claim(key, kind, config, cancel=cancel, replace=corrupt)
            if token is not None:
                break
        t0 = time.time()
        try:
            out = compute()
            artifacts = self.encode(fmt, kind, key, out.value, out.meta)
        except BaseException as err:
            self.fail(key, token, f"{type(err).__name__}: {err}", _fail_status(err))
            raise
        timings = {**out.timings, "total_s": time.time() - t0}
        if not self.finish(key, token, out.metrics, timings, artifacts):
            if on_log:
                on_log(f"{kind} {key[:10]}: another worker took over the claim; its result is kept")
        return Cached(out.value, False, self.get_run(key) or {"key": key}, out.meta)

    def lookup(self, kind: str, config: dict, fmt: str) -> tuple[Any, dict, dict] | None:
        """(payload, meta, run) of a finished, intact result for ``config``; None otherwise (nothing computed)."""
        run = self.done_run(config_key(config))
        if run is None or run["kind"] != kind:
            return None
        try:
            payload, meta = self.decode(fmt, run)
        except CorruptArtifact:
            return None
        return payload, meta, run

    def put(self, kind: str, config: dict, value: Any, *, fmt: str, metrics: dict | None = None,
            timings: dict | None = None, meta: dict | None = None, replace: bool = False,
            config_override: dict | None = None) -> str:
        """Record a result computed outside :meth:`cached` (e.g. one model of a batch trained together).

        ``replace=True`` overwrites a finished result of the same key; ``config_override`` is stored in the row
        instead of ``config`` (which still gives the key), e.g. to note where an imported checkpoint came from.
        """
        key = config_key(config)
        existing = self.done_run(key)
        if existing is not None and not replace:
            try:
                self._read_verified(existing)
                return key  # an intact result is already there
            except CorruptArtifact:
                replace = True  # a corrupt one is overwritten
        token = self.claim(key, kind, config_override or config, wait=False, replace=replace)
        if token is None and replace:
            raise ConfigError(f"{kind} {key[:10]} is being computed by another worker right now; try again later.")
        if token is None:
            return key  # being computed by a live worker, whose result wins
        try:
            artifacts = self.encode(fmt, kind, key, value, meta or {})
        except BaseException as err:
            self.fail(key, token, f"{type(err).__name__}: {err}", _fail_status(err))
            raise
        self.finish(key, token, metrics or {}, timings, artifacts)
        return key

    # ------------------------------------------------------------------ moving results between stores
    def export_runs(self, keys: list[str]) -> dict:
        """A self-contained bundle of finished runs (rows + artifact bytes, verified) to import elsewhere, e.g.
        results a cluster worker computed in its own store, shipped back to the driver's."""
        runs, blobs = [], {}
        for key in keys:
            run = self.done_run(key)
            if run is None:
                raise ConfigError(f"Cannot export run {key[:10]}: it is not finished.")
            for name, rec in (run.get("artifacts") or {}).items():
                blobs[rec["file"]] = self._read_verified(run, name)
            runs.append({k: run[k] for k in ("key", "kind", "config", "metrics", "timings", "artifacts", "created",
                                              "finished")})
        return {"format": "forgetset-runs/1", "runs": runs, "artifacts": blobs}

    def import_runs(self, bundle: dict) -> int:
        """Add a bundle's runs to this store (atomic per run, checksums verified; intact local results are kept).
        Returns the number of runs imported."""
        if not isinstance(bundle, dict) or bundle.get("format") != "forgetset-runs/1":
            raise ConfigError("Not a forgetset run bundle.")
        n = 0
        for run in bundle["runs"]:
            key = run["key"]
            if config_key(run["config"]) != key and run["kind"] != "original":
                raise CorruptArtifact(f"bundle run {key[:10]}: its key does not match its configuration")
            local = self.done_run(key)
            if local is not None:
                try:
                    self._read_verified(local)
                    continue
                except CorruptArtifact:
                    pass
            token = self.claim(key, run["kind"], run["config"], wait=False, replace=local is not None)
            if token is None:
                continue  # a live local worker is computing it; its result wins
            try:
                for name, rec in (run.get("artifacts") or {}).items():
                    data = bundle["artifacts"][rec["file"]]
                    if sha256_bytes(data) != rec["sha256"]:
                        raise CorruptArtifact(f"bundle artifact {rec['file']} fails its checksum")
                    atomic_write_bytes(self.root / rec["file"], data)
            except BaseException as err:
                self.fail(key, token, f"{type(err).__name__}: {err}")
                raise
            self.finish(key, token, run.get("metrics") or {}, run.get("timings"), run.get("artifacts"))
            n += 1
        return n

    # ------------------------------------------------------------------ jobs table (the job runtime's records)
    def job_insert(self, row: dict) -> None:
        cols = ", ".join(row)
        with self.connect() as con:
            con.execute(f"INSERT INTO jobs({cols}) VALUES ({', '.join('?' * len(row))})",
                        [_job_value(k, v) for k, v in row.items()])

    def job_update(self, job_id: str, fields: dict, owner: str | None = None, only_active: bool = False) -> int:
        sets = ", ".join(f"{k}=?" for k in fields)
        q = f"UPDATE jobs SET {sets} WHERE id=?"
        args = [_job_value(k, v) for k, v in fields.items()] + [job_id]
        if owner is not None:
            q += " AND owner=?"
            args.append(owner)
        if only_active:
            q += " AND status IN ('queued', 'running')"
        with self.connect() as con:
            return con.execute(q, args).rowcount

    def job_get(self, job_id: str, with_log: bool = True) -> dict | None:
        with self.connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _job_row(row, with_log) if row is not None else None

    def job_list(self, limit: int | None = None, statuses: tuple[str, ...] | None = None,
                 with_log: bool = False, oldest_first: bool = False) -> list[dict]:
        q, args = "SELECT * FROM jobs", []
        if statuses:
            q += f" WHERE status IN ({', '.join('?' * len(statuses))})"
            args += list(statuses)
        q += " ORDER BY created" + ("" if oldest_first else " DESC")
        if limit:
            q += " LIMIT ?"
            args.append(int(limit))
        with self.connect() as con:
            rows = con.execute(q, args).fetchall()
        return [_job_row(r, with_log) for r in rows]

    def job_delete(self, job_id: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def job_cancel_requested(self, job_id: str) -> bool:
        with self.connect() as con:
            row = con.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row[0])

    def jobs_recover(self, recovered_by: str) -> tuple[int, bool]:
        """Jobs left queued/running by a dead server become interrupted. Returns (count, another live owner)."""
        other_live = False
        stale: list[str] = []
        with self.connect() as con:
            rows = con.execute("SELECT id, owner, updated FROM jobs WHERE status IN ('queued', 'running')").fetchall()
            for r in rows:
                owner = r["owner"] or ""
                if owner.split(":")[:2] == OWNER.split(":")[:2]:
                    stale.append(r["id"])  # an earlier manager of this very process
                elif _owner_alive(owner, r["updated"]):
                    other_live = True
                else:
                    stale.append(r["id"])
            now = time.time()
            for jid in stale:
                con.execute("UPDATE jobs SET status='interrupted', message='interrupted', error=?, finished=?, "
                            "updated=?, owner=? WHERE id=?",
                            ("Interrupted: the server stopped while this job was queued or running. Re-run it.",
                             now, now, f"recovered-by:{recovered_by}", jid))
        return len(stale), other_live


# ---------------------------------------------------------------------------------------------- helpers
def _fail_status(err: BaseException) -> str:
    return "cancelled" if isinstance(err, (CancelledError, KeyboardInterrupt)) else "failed"


def _finite(d: dict) -> dict:
    """NaN/inf become None in stored metrics (JSON has no NaN); readers treat None as missing."""
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        else:
            out[k] = v
    return out


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.detach().cpu().tolist()
    return str(o)


def _row_to_dict(row: sqlite3.Row) -> dict:
    """A run row as a dict with its JSON decoded. A finished row whose checksum does not match (a damaged database
    cell) or whose JSON does not decode is reported as status ``corrupt``: never served, recomputed when needed."""
    d = dict(row)
    damaged = d.get("status") == "done" and d.get("digest") != row_digest(d)
    for k in ("config", "metrics", "timings", "artifacts"):
        if d.get(k):
            try:
                d[k] = json.loads(d[k])
            except (TypeError, ValueError):
                d[k] = {}
                damaged = damaged or d.get("status") == "done"
    if damaged:
        d["status"] = "corrupt"
        d["error"] = "its database row fails its checksum (damaged); it is recomputed when needed"
    d.pop("digest", None)
    return d


_JOB_JSON = ("config", "result", "log")


def _job_value(k: str, v: Any) -> Any:
    if k in _JOB_JSON and v is not None and not isinstance(v, str):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def _job_row(r: sqlite3.Row, with_log: bool = True) -> dict:
    d = dict(r)
    for k in ("config", "result"):
        d[k] = json.loads(d[k]) if d.get(k) else (None if k == "result" else {})
    d["cancel_requested"] = bool(d.get("cancel_requested"))
    if with_log:
        d["log"] = json.loads(d["log"]) if d.get("log") else []
    else:
        d.pop("log", None)
    return d


def _safetensors_metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    return header.get("__metadata__") or {}


def state_dict_bytes(state: dict[str, torch.Tensor], meta: dict) -> bytes:
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    return save(tensors, metadata={"forgetset": json.dumps(meta, sort_keys=True, default=str)})


def save_state_dict(path: Path, state: dict[str, torch.Tensor], meta: dict) -> None:
    atomic_write_bytes(Path(path), state_dict_bytes(state, meta))


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a state dict from ``.safetensors`` or a torch file, never unpickling arbitrary objects.

    Returns (state_dict, metadata). Raises :class:`CheckpointError` for missing, oversized, corrupt or
    non-state-dict files, in forgetset's own words: library warnings are silenced and their texts (e.g. torch's
    advice to retry with ``weights_only=False``, which would run the file's code) are never passed on.
    """
    import warnings

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"Checkpoint '{path}' is a folder; give the weights file (.safetensors or .pt).")
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist (or is not a regular file).")
    size = path.stat().st_size
    if size > data_limit_bytes():
        # Both formats store tensors uncompressed, so the file's size bounds what loading it allocates.
        raise CheckpointError(f"Checkpoint '{path}' is {fmt_bytes(size)}; {data_limit_text()}.")
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # By content, not by name: a safetensors file starts with an 8-byte header length and a JSON header.
            if path.suffix == ".safetensors" or (len(head) == 9 and head[8:9] == b"{"):
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as f:
                    meta = json.loads((f.metadata() or {}).get("forgetset", "{}"))
                    state = {k: f.get_tensor(k) for k in f.keys()}
                if not isinstance(meta, dict):
                    raise CheckpointError(f"Checkpoint '{path}' carries unreadable forgetset metadata.")
                return state, meta
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - torch/safetensors raise many types for corrupt files
        raise CheckpointError(_checkpoint_problem(path, err)) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"Checkpoint '{path}' does not hold a state dict of tensors.")
    return obj, {}


def _checkpoint_problem(path: Path, err: BaseException) -> str:
    """Why a checkpoint could not be read, in forgetset's words (the library's text is not repeated: torch's
    names its site-packages paths and advises loading with ``weights_only=False``, which runs the file's code)."""
    import pickle
    import zipfile

    text = str(err)
    if isinstance(err, pickle.UnpicklingError) and ("weights only" in text.lower() or "weights_only" in text):
        return (f"Checkpoint '{path}' holds Python objects, not just tensors (e.g. a whole pickled model or "
                f"optimizer). forgetset reads only state dicts of tensors and never unpickles objects, because that "
                f"can run code from the file. Save the weights with torch.save(model.state_dict(), path) or "
                f"safetensors.torch.save_file, and import that file.")
    if isinstance(err, (zipfile.BadZipFile, EOFError, pickle.UnpicklingError)) or "zip" in text.lower():
        what = "truncated or corrupt"
    elif isinstance(err, MemoryError):
        what = "too large to load into memory"
    else:
        what = "not a weights file forgetset can read"
    return (f"Checkpoint '{path}' is {what} ({type(err).__name__}). Give a .safetensors file or a .pt file saved "
            f"with torch.save(model.state_dict(), path).")


def check_weights(state: dict[str, torch.Tensor], where: str, max_abs: float = 1e6) -> None:
    """Refuse weights that cannot be a trained model: non-float parameters, NaN/inf or absurd magnitudes."""
    for k, v in state.items():
        if k.endswith("num_batches_tracked"):
            continue
        if not torch.is_floating_point(v):
            raise CheckpointError(f"{where}: tensor '{k}' is {v.dtype}, not floating point; not a model's weights.")
        if not torch.isfinite(v).all():
            raise CheckpointError(f"{where}: tensor '{k}' holds NaN or infinite values.")
        if v.numel() and float(v.abs().max()) > max_abs:
            raise CheckpointError(f"{where}: tensor '{k}' has values above {max_abs:g} in magnitude; refusing it.")


def load_state_into(model: torch.nn.Module, state: dict[str, torch.Tensor], meta: dict, where: str,
                    expect: dict | None = None) -> torch.nn.Module:
    """Load ``state`` into ``model``; refuse weights made for another model or data set, or non-finite ones."""
    for k, v in (expect or {}).items():
        if k in meta and meta[k] != v:
            raise CheckpointError(f"{where} was made for {k}={meta[k]!r}, not {v!r}.")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{where} does not fit this model: {len(missing)} missing, {len(unexpected)} unexpected and "
            f"{len(wrong)} mis-shaped tensors (e.g. {(missing + unexpected + wrong)[:3]}). It was probably made "
            f"for another model or data set.")
    check_weights(state, where)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model


def load_weights_into(model: torch.nn.Module, path: str | os.PathLike, expect: dict | None = None) -> torch.nn.Module:
    """Load a checkpoint file into ``model`` (see :func:`load_state_into`)."""
    state, meta = read_checkpoint(path)
    return load_state_into(model, state, meta, f"Checkpoint '{path}'", expect)
