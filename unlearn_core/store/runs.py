"""The runs table: claims (a ``running`` row with a claim token and its owner) and state changes under them."""
from __future__ import annotations

import json
import time
import uuid
from typing import Callable

from .owners import OWNER, owner_alive
from .records import finite_metrics, json_default, row_to_dict, row_digest


class RunsTable:
    """Claims and run rows of a :class:`~unlearn_core.store.Store` (a mixin of it: uses ``connect``)."""

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
                status = row_to_dict(row)["status"] if row is not None else None  # a damaged 'done' is 'corrupt'
                busy = status == "running" and owner_alive(row["owner"], row["updated"])
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
        m_txt = json.dumps(finite_metrics(metrics), default=json_default)
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
        return row_to_dict(row) if row else None

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
        out = [row_to_dict(r) for r in rows]
        return [r for r in out if r["status"] == status] if status else out

    def delete_run(self, key: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM runs WHERE key=?", (key,))

    def mark_interrupted(self) -> int:
        """Runs left ``running`` by a dead process become ``interrupted`` (live workers' claims are kept)."""
        with self.connect() as con:
            rows = con.execute("SELECT key, owner, updated FROM runs WHERE status='running'").fetchall()
            dead = [r["key"] for r in rows if not owner_alive(r["owner"], r["updated"])]
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
