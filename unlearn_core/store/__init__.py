"""Persistence, all of it: an embedded SQLite database (runs, jobs, meta) plus an artifact folder on disk.

This package is the only code that writes SQL or artifact files; :class:`Store` (``facade``) is its one entry point.
What it guarantees:

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

Modules (bottom to top): ``circumstances`` (errors; full disk vs damage), ``owners`` (who holds a claim, alive?),
``records`` (``Computed``/``Cached``, row checksum and decoder), ``schema`` (layout and migrations), ``database``
(opening, integrity, connections), ``runs`` (claims and state changes), ``artifacts`` (files and codec),
``cache`` (``cached``/``lookup``/``put``), ``bundles`` (export/import of runs), ``jobs_table`` (the job runtime's
rows), ``checkpoints`` (weights files from outside), ``facade`` (:class:`Store`). Content digests and atomic writes
live one layer down, in :mod:`unlearn_core.io`.
"""
from __future__ import annotations

from ..io import array_digest, atomic_write_bytes, config_key, sha256_bytes, sha256_file, weights_digest
from .artifacts import state_dict_bytes
from .checkpoints import check_weights, load_state_into, load_weights_into, read_checkpoint, save_state_dict
from .circumstances import CorruptArtifact, StoreUnavailable, circumstance_message, db_circumstance, db_damage
from .database import default_cache_dir
from .facade import Store
from .owners import OWNER, REMOTE_CLAIM_TIMEOUT_S, pid_alive
from .records import RUN_STATES, Cached, Computed, row_digest, run_digest
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "MIGRATIONS", "OWNER", "REMOTE_CLAIM_TIMEOUT_S", "RUN_STATES", "SCHEMA_VERSION", "Cached", "Computed",
    "CorruptArtifact", "Store", "StoreUnavailable", "array_digest", "atomic_write_bytes", "check_weights",
    "circumstance_message", "db_circumstance", "db_damage", "default_cache_dir", "load_state_into",
    "load_weights_into", "pid_alive", "read_checkpoint", "row_digest", "run_digest", "save_state_dict",
    "sha256_bytes", "sha256_file", "state_dict_bytes", "weights_digest",
]
