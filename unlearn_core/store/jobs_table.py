"""The jobs table: the job runtime's records (queued, running, finished jobs with progress, log and result)."""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .owners import OWNER, owner_alive


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


class JobsTable:
    """Rows of the jobs table (a mixin of :class:`~unlearn_core.store.Store`: uses ``connect``)."""

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
                elif owner_alive(owner, r["updated"]):
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
