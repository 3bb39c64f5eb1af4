"""Opening the database file: root checks, integrity check, moving a damaged file aside, schema creation and
migration, and the short-lived connections every other part of the store uses."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterator

from ..errors import ConfigError
from .circumstances import DB_NAME, StoreUnavailable, circumstance_message, db_circumstance, db_damage
from .schema import SCHEMA_SQL, MIGRATIONS, SCHEMA_VERSION


def default_cache_dir() -> Path:
    return Path(os.environ.get("FORGETSET_CACHE_DIR", "cache"))


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # pragma: no cover - no statvfs (Windows)
        return False


class Database:
    """The database file of a :class:`~unlearn_core.store.Store` (a mixin of it: uses ``root``, ``db_path`` and
    ``notices``)."""

    DB_NAME = DB_NAME

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
                con.executescript(SCHEMA_SQL.replace("CREATE INDEX IF NOT EXISTS runs_kind ON runs(kind, status);", ""))
                for v in range(version, SCHEMA_VERSION):
                    MIGRATIONS[v](self, con)
                self.notices.append(f"The cache {self.db_path} was migrated from schema {version} to "
                                    f"{SCHEMA_VERSION}.")
            con.executescript(SCHEMA_SQL)
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
