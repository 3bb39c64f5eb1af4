"""The database layout (runs, meta, jobs) and the migrations that bring an older cache to it in place."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Callable, Protocol

from ..io import sha256_file
from .records import row_digest

SCHEMA_VERSION = 3


class MigratingStore(Protocol):
    """What a migration needs of the store being opened (its root and artifact paths)."""

    root: Path

    def artifact_path(self, kind: str, key: str, ext: str) -> Path: ...

SCHEMA_SQL = """
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


def _migrate_1_to_2(store: MigratingStore, con: sqlite3.Connection) -> None:
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


def _migrate_2_to_3(store: MigratingStore, con: sqlite3.Connection) -> None:
    """Release 2 → 3: finished runs carry a checksum of their row (:func:`row_digest`), so a damaged database
    cell (a flipped digit in a metric) is detected instead of served. Existing finished rows are trusted once."""
    cols = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    if "digest" not in cols:
        con.execute("ALTER TABLE runs ADD COLUMN digest TEXT")
    for row in con.execute("SELECT * FROM runs WHERE status='done'").fetchall():
        con.execute("UPDATE runs SET digest=? WHERE key=?", (row_digest(row), row["key"]))


MIGRATIONS: dict[int, Callable[[MigratingStore, sqlite3.Connection], None]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}
