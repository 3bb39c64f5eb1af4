"""The :class:`Store` facade: one object over the database file, the runs table, the artifact files and codec, the
caching primitive, run bundles and the jobs table (each a module of this package, mixed into :class:`Store`)."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import ConfigError
from .artifacts import ArtifactFiles
from .bundles import Bundles
from .cache import CachedResults
from .circumstances import StoreUnavailable
from .database import Database, default_cache_dir
from .jobs_table import JobsTable
from .runs import RunsTable


class Store(Database, RunsTable, ArtifactFiles, CachedResults, Bundles, JobsTable):
    """SQLite database + artifact folder under one root. Thread-safe (short-lived connections)."""

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
