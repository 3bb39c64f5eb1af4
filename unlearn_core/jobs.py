"""Background jobs for the dashboard (no Streamlit here): a job manager, a pluggable executor, a job-kind registry.

A *job* is ``(kind, config)``: ``kind`` names a registered function (``train_original``, ``score``,
``forget_set``, ``experiment``, ``teaching_demo``, ...) and ``config`` is a JSON-serialisable dict. Everything a
job computes goes through :class:`~unlearn_core.experiments.Pipeline` into the :class:`~unlearn_core.store.Store`,
so a job can always be re-created from its row ("re-run" after a restart) and its results outlive it.

Pieces:

- :func:`register_job_kind` / :data:`JOB_KINDS`: the registry (``fn(config, env) -> result dict``; an optional
  ``check(config)`` validates input at submit time so bad input is refused before anything is queued).
- :class:`Executor`: *where* a job body runs. :class:`LocalThreadExecutor` (default) runs it on a daemon thread
  in this process. A cluster backend implements :meth:`Executor.start` by shipping ``(kind, config, device)``
  to a worker that calls :func:`execute_job` and relays progress / the outcome back through the
  :class:`JobHandle` callbacks (``report_progress``, ``report_log``, ``finish``, ``fail``); cancellation
  reaches it through ``handle.cancel_event`` and the ``cancel_requested`` column of the ``jobs`` table.
- :class:`JobManager`: *when* a job runs. It keeps a FIFO queue and resource slots: one slot per CUDA device
  (at most one training job per GPU at a time) and ``max_cpu_workers`` CPU slots (default 1, env
  ``FORGETSET_MAX_WORKERS``). Progress and log lines live in thread-safe in-memory state and are written to the
  ``jobs`` table of the store's SQLite database (throttled to about once a second, and on every status change).
  Cancellation sets the job's :class:`threading.Event`; the core checks it at every progress call (each epoch),
  so a job stops within a few seconds. On start-up, jobs left ``queued``/``running`` by a dead server become
  ``interrupted`` (and the store's runs too, via :meth:`Store.mark_interrupted`); they can be re-run.

Why one CPU slot by default: the trainer seeds torch's *global* RNG, so two jobs initialising models at the
same moment in one process could perturb each other's seeded weights; on a small CPU there is no speed-up either.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import traceback
import uuid
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .context import RunContext
from .errors import CancelledError, ConfigError, ForgetsetError, unknown_name
from .store import Store

TERMINAL = ("done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
LOG_LINES_KEPT = 2000
LOG_LINES_PERSISTED = 500

# The setup a dashboard session works on: data set + model + training recipe (+ BLO parameters).
DEFAULT_SETUP: dict[str, Any] = {"dataset": "digits", "model": None, "train_preset": "auto", "train_overrides": {},
                                 "data_root": None, "download": False, "blo_params": {}, "device": "auto"}


def full_setup(setup: dict | None) -> dict:
    """``setup`` completed with the defaults (unknown keys are kept; ``None`` values fall back to defaults)."""
    out = dict(DEFAULT_SETUP)
    for k, v in (setup or {}).items():
        if v is not None or k in ("model", "data_root"):
            out[k] = v
    out["train_overrides"] = {k: v for k, v in dict(out.get("train_overrides") or {}).items() if v is not None}
    out["blo_params"] = dict(out.get("blo_params") or {})
    return out


def pipeline_from_setup(store: Store, setup: dict | None, device: str | None = None):
    """A :class:`Pipeline` for a setup dict (see :data:`DEFAULT_SETUP`)."""
    from .experiments import Pipeline

    s = full_setup(setup)
    return Pipeline(store, s["dataset"], s["model"], device or s.get("device") or "auto", s["train_preset"],
                    s["train_overrides"], s["data_root"], bool(s["download"]), s["blo_params"])


# ---------------------------------------------------------------------------------------------- registry
@dataclass
class JobEnv:
    """What a job function gets besides its config."""

    store: Store
    ctx: RunContext
    device: str = "auto"  # the device slot the manager assigned ("cpu", "cuda:0", ...)
    job_id: str = ""


@dataclass
class JobKind:
    name: str
    fn: Callable[[dict, JobEnv], dict]
    title: str = ""
    describe: Callable[[dict], str] | None = None  # one-line label from the config
    check: Callable[[dict], None] | None = None  # raise ForgetsetError for bad input (runs at submit time)
    uses_device: bool = True  # trains models: needs a GPU slot when one is available

    def label(self, config: dict) -> str:
        if self.describe is not None:
            try:
                return self.describe(config)
            except Exception:  # a label must never break listing jobs
                pass
        return self.title or self.name


JOB_KINDS: dict[str, JobKind] = {}


def register_job_kind(name: str, *, title: str = "", describe: Callable[[dict], str] | None = None,
                      check: Callable[[dict], None] | None = None, uses_device: bool = True, replace: bool = False):
    """Decorator registering ``fn(config, env) -> dict`` as job kind ``name``."""

    def deco(fn: Callable[[dict, JobEnv], dict]):
        if name in JOB_KINDS and not replace:
            raise ValueError(f"job kind '{name}' registered twice")
        JOB_KINDS[name] = JobKind(name, fn, title or name, describe, check, uses_device)
        return fn

    return deco


def get_job_kind(name: str) -> JobKind:
    if name not in JOB_KINDS:
        raise unknown_name("job kind", name, list(JOB_KINDS))
    return JOB_KINDS[name]


def execute_job(kind: str, config: dict, store: Store, ctx: RunContext, device: str = "auto", job_id: str = "") -> dict:
    """Run one job body synchronously (what a local thread or a remote cluster worker calls)."""
    spec = get_job_kind(kind)
    result = spec.fn(config, JobEnv(store, ctx, device, job_id))
    return dict(result or {})


# ---------------------------------------------------------------------------------------------- executors
class JobHandle:
    """The manager's view of one started job, handed to an :class:`Executor`.

    ``execute()`` runs the body here and reports through the callbacks; a remote executor calls
    ``report_progress`` / ``report_log`` / ``finish`` / ``fail`` itself instead.
    """

    def __init__(self, manager: "JobManager", job_id: str, kind: str, config: dict, device: str,
                 cancel_event: threading.Event):
        self.manager = manager
        self.job_id = job_id
        self.kind = kind
        self.config = config
        self.device = device
        self.cancel_event = cancel_event

    def context(self) -> RunContext:
        return RunContext(on_progress=self.report_progress, on_log=self.report_log, cancel_event=self.cancel_event)

    def report_progress(self, fraction: float, message: str = "") -> None:
        self.manager._on_progress(self.job_id, fraction, message)

    def report_log(self, line: str) -> None:
        self.manager._on_log(self.job_id, line)

    def finish(self, result: dict) -> None:
        self.manager._on_finished(self.job_id, result, None)

    def fail(self, err: BaseException) -> None:
        self.manager._on_finished(self.job_id, None, err)

    def execute(self) -> None:
        self.manager._on_started(self.job_id)
        try:
            RunContext(cancel_event=self.cancel_event).check_cancel()
            result = execute_job(self.kind, self.config, self.manager.store, self.context(), self.device, self.job_id)
        except BaseException as err:  # noqa: BLE001 - every failure must end the job, never the server
            self.fail(err)
        else:
            self.finish(result)


class Executor(ABC):
    """Where job bodies run. Must not block in :meth:`start`."""

    name = "executor"

    @abstractmethod
    def start(self, handle: JobHandle) -> None:
        """Begin running ``handle`` (locally: ``handle.execute()`` on a worker)."""

    def shutdown(self, wait: bool = False, timeout: float = 10.0) -> None:  # pragma: no cover - trivial default
        pass


class LocalThreadExecutor(Executor):
    """Runs each job on its own daemon thread in this process (the manager bounds how many run at once)."""

    name = "local-threads"

    def __init__(self):
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, handle: JobHandle) -> None:
        t = threading.Thread(target=handle.execute, name=f"forgetset-job-{handle.job_id}", daemon=True)
        with self._lock:
            self._threads = {k: v for k, v in self._threads.items() if v.is_alive()}
            self._threads[handle.job_id] = t
        t.start()

    def shutdown(self, wait: bool = False, timeout: float = 10.0) -> None:
        if wait:
            deadline = time.time() + timeout
            with self._lock:
                threads = list(self._threads.values())
            for t in threads:
                t.join(max(0.0, deadline - time.time()))


# ---------------------------------------------------------------------------------------------- manager
@dataclass
class _Job:
    id: str
    kind: str
    label: str
    config: dict
    resource: str  # "gpu" or "cpu"
    status: str = "queued"
    progress: float = 0.0
    message: str = "queued"
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES_KEPT))
    cancel: threading.Event = field(default_factory=threading.Event)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    result: dict | None = None
    rerun_of: str | None = None
    slot: str | None = None
    last_persist: float = 0.0
    settled: threading.Event = field(default_factory=threading.Event)  # final state written to the database

    def as_dict(self, with_log: bool = True) -> dict:
        d = {"id": self.id, "kind": self.kind, "label": self.label, "config": self.config, "resource": self.resource,
             "status": self.status, "progress": self.progress, "message": self.message, "error": self.error,
             "result": self.result, "created": self.created, "started": self.started, "finished": self.finished,
             "rerun_of": self.rerun_of, "slot": self.slot, "cancel_requested": self.cancel.is_set()}
        if with_log:
            d["log"] = list(self.log)
        return d


_JOBS_SCHEMA = """
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

_SHARED: dict[str, "JobManager"] = {}
_SHARED_LOCK = threading.Lock()


def _now_line(message: str) -> str:
    return f"{time.strftime('%H:%M:%S')}  {message}"


def _gpu_ids() -> list[int]:
    try:
        import torch

        return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    except Exception:  # pragma: no cover - torch without CUDA runtime
        return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class JobManager:
    """Queue + resource slots + persisted job records for one store. Thread-safe; one per server process.

    Use :meth:`shared` in a server (one manager per store root per process); construct directly in tests.
    """

    def __init__(self, store: Store | None = None, executor: Executor | None = None, *,
                 max_cpu_workers: int | None = None, gpu_ids: list[int] | None = None,
                 persist_interval: float = 1.0):
        self.store = store if store is not None else Store()
        self.executor = executor or LocalThreadExecutor()
        if max_cpu_workers is None:
            max_cpu_workers = int(os.environ.get("FORGETSET_MAX_WORKERS", "1") or 1)
        if max_cpu_workers < 1:
            raise ConfigError("max_cpu_workers must be at least 1.")
        self.max_cpu_workers = int(max_cpu_workers)
        self.gpu_slots = [f"cuda:{i}" for i in (_gpu_ids() if gpu_ids is None else gpu_ids)]
        self.persist_interval = float(persist_interval)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}  # jobs owned by this manager (queued, running and recently finished)
        self._pending: deque[str] = deque()
        self._busy: dict[str, str] = {}  # slot -> job id ("cpu#0", "cuda:0", ...)
        self._version = 0
        self._closed = False
        with self.store.connect() as con:
            con.executescript(_JOBS_SCHEMA)
        self.recovered = self._recover()

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def shared(cls, store: Store | None = None, **kw) -> "JobManager":
        """The process-wide manager of ``store``'s root (created on first use)."""
        store = store if store is not None else Store()
        root = str(store.root.resolve())
        with _SHARED_LOCK:
            mgr = _SHARED.get(root)
            if mgr is None or mgr._closed:
                mgr = cls(store, **kw)
                _SHARED[root] = mgr
            return mgr

    def _recover(self) -> int:
        """Jobs left queued/running by a dead server (or an earlier manager of this process) become interrupted."""
        host, pid = socket.gethostname(), os.getpid()
        other_live_owner = False
        stale: list[str] = []
        with self.store.connect() as con:
            rows = con.execute("SELECT id, owner FROM jobs WHERE status IN ('queued', 'running')").fetchall()
        for r in rows:
            owner = (r["owner"] or "::").split(":")
            o_host, o_pid = owner[0], int(owner[1]) if len(owner) > 1 and owner[1].isdigit() else -1
            if o_host == host and o_pid != pid and o_pid > 0 and _pid_alive(o_pid):
                other_live_owner = True  # another live server process on this machine runs it: leave it alone
                continue
            if o_host != host and o_host:
                other_live_owner = True  # cannot tell whether a remote owner is alive
                continue
            stale.append(r["id"])
        now = time.time()
        with self.store.connect() as con:
            for jid in stale:
                con.execute("UPDATE jobs SET status='interrupted', message=?, error=?, finished=?, updated=?, "
                            "owner=? WHERE id=?",
                            ("interrupted", "Interrupted: the server stopped while this job was queued or running. "
                             "Re-run it.", now, now, f"recovered-by:{self.owner}", jid))
        if not other_live_owner:
            self.store.mark_interrupted()
        return len(stale)

    # ------------------------------------------------------------------ public API
    @property
    def version(self) -> int:
        """Increases whenever a job of this manager changes status (cheap change detection for views)."""
        return self._version

    def submit(self, kind: str, config: dict | None = None, label: str | None = None,
               rerun_of: str | None = None) -> str:
        """Queue a job; returns its id. Raises :class:`ForgetsetError` for bad input (nothing is queued then)."""
        if self._closed:
            raise ConfigError("The job manager has been shut down.")
        spec = get_job_kind(kind)
        try:
            config = json.loads(json.dumps(config or {}))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Job config must be JSON-serialisable: {err}") from None
        if spec.check is not None:
            spec.check(config)
        resource = self._resource_for(spec, config)
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        job = _Job(job_id, kind, label or spec.label(config), config, resource, rerun_of=rerun_of)
        job.log.append(_now_line(f"queued ({resource} job)" + (f", re-run of {rerun_of}" if rerun_of else "")))
        with self.store.connect() as con:
            con.execute(
                "INSERT INTO jobs(id, kind, label, config, resource, status, progress, message, owner, rerun_of, "
                "created, updated, log) VALUES (?, ?, ?, ?, ?, 'queued', 0, 'queued', ?, ?, ?, ?, ?)",
                (job_id, kind, job.label, json.dumps(config, sort_keys=True), resource, self.owner, rerun_of,
                 job.created, job.created, json.dumps(list(job.log))))
        with self._lock:
            self._jobs[job_id] = job
            self._pending.append(job_id)
            self._version += 1
        self._dispatch()
        return job_id

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued job at once, or ask a running one to stop (it does at its next progress call)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.status in ACTIVE:
                job.cancel.set()
                job.log.append(_now_line("cancel requested"))
                if job.status == "queued":
                    try:
                        self._pending.remove(job_id)
                    except ValueError:
                        pass
                    job.status, job.message, job.finished = "cancelled", "cancelled before it started", time.time()
                    job.error = "Cancelled by the user."
                else:
                    job.message = "cancelling…"
                self._version += 1
                local = True
            else:
                local = False
        if local:
            self._persist(job_id, force=True)
            if job.status == "cancelled":
                job.settled.set()
            return True
        row = self._db_get(job_id)
        if row is None or row["status"] not in ACTIVE:
            return False
        with self.store.connect() as con:  # owned by another process / manager: it polls this flag
            con.execute("UPDATE jobs SET cancel_requested=1, updated=? WHERE id=?", (time.time(), job_id))
        return True

    def rerun(self, job_id: str) -> str:
        """Submit the same (kind, config) again; works for jobs of earlier server processes too."""
        job = self.get(job_id, with_log=False)
        if job is None:
            raise ConfigError(f"No job '{job_id}'.")
        if job["status"] in ACTIVE:
            raise ConfigError("This job is still queued or running; cancel it or wait before re-running it.")
        return self.submit(job["kind"], job["config"], job["label"], rerun_of=job_id)

    def delete(self, job_id: str) -> None:
        """Forget a finished job's record (the results it stored in the store are kept)."""
        job = self.get(job_id, with_log=False)
        if job is None:
            return
        if job["status"] in ACTIVE:
            raise ConfigError("Cancel the job before deleting it.")
        with self._lock:
            self._jobs.pop(job_id, None)
            self._version += 1
        with self.store.connect() as con:
            con.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def get(self, job_id: str, with_log: bool = True) -> dict | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return job.as_dict(with_log)
        return self._db_get(job_id, with_log)

    def list_jobs(self, limit: int | None = None, with_log: bool = False) -> list[dict]:
        """Every job in the store, newest first (this manager's live jobs with their in-memory progress)."""
        q = "SELECT * FROM jobs ORDER BY created DESC" + (f" LIMIT {int(limit)}" if limit else "")
        with self.store.connect() as con:
            rows = con.execute(q).fetchall()
        out = []
        with self._lock:
            for r in rows:
                job = self._jobs.get(r["id"])
                out.append(job.as_dict(with_log) if job is not None else self._row_dict(r, with_log))
        return out

    def active_jobs(self) -> list[dict]:
        """Queued and running jobs (this manager's from memory, other processes' from the database)."""
        with self._lock:
            mine = [j.as_dict(False) for j in self._jobs.values() if j.status in ACTIVE]
            ids = {j["id"] for j in mine}
        with self.store.connect() as con:
            rows = con.execute("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created").fetchall()
        others = [self._row_dict(r, False) for r in rows if r["id"] not in ids]
        return sorted(mine + others, key=lambda j: j["created"])

    def has_active(self) -> bool:
        with self._lock:
            if any(j.status in ACTIVE for j in self._jobs.values()):
                return True
        with self.store.connect() as con:
            return con.execute("SELECT 1 FROM jobs WHERE status IN ('queued', 'running') LIMIT 1").fetchone() is not None

    def wait(self, job_id: str, timeout: float = 60.0, poll: float = 0.05) -> dict:
        """Block until the job ends (for tests and scripts); returns its final record."""
        deadline = time.time() + timeout
        while True:
            job = self.get(job_id)
            if job is None:
                raise ConfigError(f"No job '{job_id}'.")
            if job["status"] in TERMINAL:
                with self._lock:
                    local = self._jobs.get(job_id)
                if local is None or local.settled.wait(max(0.0, deadline - time.time())):
                    return self.get(job_id) or job
            if time.time() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")
            time.sleep(poll)

    def export(self, job_id: str) -> dict:
        """Everything about a job (config, status, timings, result, log) as a JSON-able dict."""
        job = self.get(job_id, with_log=True)
        if job is None:
            raise ConfigError(f"No job '{job_id}'.")
        return {"format": "forgetset-job/1", **job}

    def slots(self) -> dict[str, Any]:
        with self._lock:
            return {"gpu_slots": list(self.gpu_slots), "cpu_slots": self.max_cpu_workers, "busy": dict(self._busy),
                    "queued": list(self._pending), "executor": self.executor.name}

    def shutdown(self, wait: bool = False, timeout: float = 10.0) -> None:
        """Cancel everything this manager runs and stop accepting jobs."""
        with self._lock:
            self._closed = True
            ids = [j.id for j in self._jobs.values() if j.status in ACTIVE]
        for jid in ids:
            self.cancel(jid)
        self.executor.shutdown(wait=wait, timeout=timeout)

    # ------------------------------------------------------------------ scheduling
    def _resource_for(self, spec: JobKind, config: dict) -> str:
        if not spec.uses_device or not self.gpu_slots:
            return "cpu"
        device = str((config.get("setup") or {}).get("device") or (config.get("spec") or {}).get("device")
                     or config.get("device") or "auto")
        return "cpu" if device.startswith("cpu") else "gpu"

    def _free_slot(self, resource: str) -> str | None:
        if resource == "gpu":
            for s in self.gpu_slots:
                if s not in self._busy:
                    return s
            return None
        for i in range(self.max_cpu_workers):
            if f"cpu#{i}" not in self._busy:
                return f"cpu#{i}"
        return None

    def _dispatch(self) -> None:
        to_start: list[JobHandle] = []
        with self._lock:
            if self._closed:
                return
            for jid in list(self._pending):
                job = self._jobs[jid]
                slot = self._free_slot(job.resource)
                if slot is None:
                    continue  # later jobs needing another resource may still start (no head-of-line blocking)
                self._pending.remove(jid)
                self._busy[slot] = jid
                job.slot = slot
                job.status, job.message, job.started = "running", "starting", time.time()
                job.log.append(_now_line(f"started on {slot}"))
                self._version += 1
                device = slot if slot.startswith("cuda") else "cpu"
                to_start.append(JobHandle(self, jid, job.kind, job.config, device, job.cancel))
        for h in to_start:
            self._persist(h.job_id, force=True)
            try:
                self.executor.start(h)
            except BaseException as err:  # noqa: BLE001
                self._on_finished(h.job_id, None, err)

    # ------------------------------------------------------------------ callbacks (any thread)
    def _on_started(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.message = "running"

    def _on_progress(self, job_id: str, fraction: float, message: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job.progress = max(job.progress, min(max(float(fraction), 0.0), 1.0))
            if message and message != job.message:
                job.message = message
                job.log.append(_now_line(message))
            due = time.time() - job.last_persist >= self.persist_interval
        if due:
            self._persist(job_id)

    def _on_log(self, job_id: str, line: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                for part in str(line).splitlines() or [""]:
                    job.log.append(_now_line(part))

    def _on_finished(self, job_id: str, result: dict | None, err: BaseException | None) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job.finished = time.time()
            if err is None:
                job.status, job.progress, job.result = "done", 1.0, result or {}
                job.message = "done"
            elif isinstance(err, (CancelledError, KeyboardInterrupt)) or (job.cancel.is_set() and
                                                                          isinstance(err, ForgetsetError)):
                job.status, job.error, job.message = "cancelled", "Cancelled by the user.", "cancelled"
            else:
                job.status = "failed"
                job.error = str(err) if isinstance(err, ForgetsetError) else f"{type(err).__name__}: {err}"
                job.message = "failed"
                if not isinstance(err, ForgetsetError):
                    for line in traceback.format_exception(type(err), err, err.__traceback__):
                        for part in line.rstrip().splitlines():
                            job.log.append(part)
            took = job.finished - (job.started or job.finished)
            job.log.append(_now_line(f"{job.status} after {took:.1f}s" + (f": {job.error}" if job.error else "")))
            if job.slot is not None:
                self._busy.pop(job.slot, None)
            self._version += 1
        self._persist(job_id, force=True)
        job.settled.set()
        self._dispatch()

    # ------------------------------------------------------------------ persistence
    def _persist(self, job_id: str, force: bool = False) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            now = time.time()
            if not force and now - job.last_persist < self.persist_interval:
                return
            job.last_persist = now
            vals = (job.status, job.progress, job.message, job.error,
                    json.dumps(job.result, default=str) if job.result is not None else None,
                    json.dumps(list(job.log)[-LOG_LINES_PERSISTED:]), job.slot, job.started, job.finished, now,
                    job_id, self.owner)
        try:
            with self.store.connect() as con:
                con.execute("UPDATE jobs SET status=?, progress=?, message=?, error=?, result=?, log=?, slot=?, "
                            "started=?, finished=?, updated=? WHERE id=? AND owner=?", vals)
                row = con.execute("SELECT cancel_requested, owner FROM jobs WHERE id=?", (job_id,)).fetchone()
        except Exception:  # pragma: no cover - a busy/locked database must not kill the job
            return
        if row is not None and row["cancel_requested"] and row["owner"] == self.owner:
            with self._lock:
                job = self._jobs.get(job_id)
                if job is not None and job.status == "running" and not job.cancel.is_set():
                    job.cancel.set()
                    job.log.append(_now_line("cancel requested (from another process)"))

    def _db_get(self, job_id: str, with_log: bool = True) -> dict | None:
        with self.store.connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return self._row_dict(row, with_log) if row is not None else None

    @staticmethod
    def _row_dict(r, with_log: bool = True) -> dict:
        d = {"id": r["id"], "kind": r["kind"], "label": r["label"], "config": json.loads(r["config"]),
             "resource": r["resource"], "status": r["status"], "progress": r["progress"], "message": r["message"],
             "error": r["error"], "result": json.loads(r["result"]) if r["result"] else None,
             "created": r["created"], "started": r["started"], "finished": r["finished"], "rerun_of": r["rerun_of"],
             "slot": r["slot"], "cancel_requested": bool(r["cancel_requested"])}
        if with_log:
            d["log"] = json.loads(r["log"]) if r["log"] else []
        return d


# ---------------------------------------------------------------------------------------------- job kinds
def _setup_label(setup: dict | None) -> str:
    s = full_setup(setup)
    ep = s["train_overrides"].get("epochs")
    return f"{s['dataset']}/{s['model'] or 'auto'}" + (f" ({ep} ep)" if ep else "")


def _check_setup(config: dict) -> None:
    s = full_setup(config.get("setup"))
    if not s["dataset"] or not isinstance(s["dataset"], str):
        raise ConfigError("Choose a data set.")
    if s["dataset"].startswith(("npz:", "folder:")) and len(s["dataset"].split(":", 1)[1].strip()) == 0:
        raise ConfigError("Give the path after npz: / folder:.")
    ep = s["train_overrides"].get("epochs")
    if ep is not None and (not isinstance(ep, int) or ep < 1):
        raise ConfigError(f"Training epochs must be a positive integer, got {ep!r}.")


def _check_seed(config: dict) -> None:
    seed = config.get("seed", 0)
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"Seed must be a non-negative integer, got {seed!r}.")


def _check_train(config: dict) -> None:
    _check_setup(config)
    _check_seed(config)
    ck = config.get("checkpoint")
    if ck is not None and not os.path.isfile(str(ck)):
        raise ConfigError(f"Checkpoint file '{ck}' does not exist.")


@register_job_kind("train_original", title="Train original model", check=_check_train,
                   describe=lambda c: ("Import checkpoint" if c.get("checkpoint") else "Train original")
                   + f" · {_setup_label(c.get('setup'))} · seed {c.get('seed', 0)}")
def _job_train_original(config: dict, env: JobEnv) -> dict:
    pipe = pipeline_from_setup(env.store, config.get("setup"), env.device)
    seed = int(config.get("seed", 0))
    env.ctx.log(f"data set {pipe.dataset_name} ({pipe.ds.n_train} train samples), model {pipe.model_name}, "
                f"recipe {pipe.train_cfg.to_dict()}, device {pipe.device}")
    if config.get("checkpoint"):
        pipe.import_checkpoint(str(config["checkpoint"]), seed)
    else:
        pipe.original(seed, env.ctx)
    key = pipe.original_key(seed)
    run = env.store.done_run(key) or {}
    m = run.get("metrics") or {}
    env.ctx.log(f"train acc {m.get('train_acc', float('nan')):.2f}%, test acc {m.get('test_acc', float('nan')):.2f}%")
    return {"original_key": key, **m}


def _check_score(config: dict) -> None:
    from .scores import get_score
    from .config import forget_count

    _check_setup(config)
    _check_seed(config)
    spec = get_score(str(config.get("score", "")))
    params = config.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError("Score parameters must be a JSON object.")
    spec.resolve_params({**(full_setup(config.get("setup"))["blo_params"] if spec.name == "blo" else {}), **params})
    if spec.depends_on_ratio and params.get("granularity", "sample") != "class":
        forget_count(config.get("ratio"), 10**9)


@register_job_kind("score", title="Compute score", check=_check_score,
                   describe=lambda c: f"Score {c['score']}" + (f" @ {c['ratio']}" if c.get("ratio") is not None else "")
                   + f" · {_setup_label(c.get('setup'))} · seed {c.get('seed', 0)}")
def _job_score(config: dict, env: JobEnv) -> dict:
    import numpy as np

    from .scores import get_score

    pipe = pipeline_from_setup(env.store, config.get("setup"), env.device)
    name, seed = config["score"], int(config.get("seed", 0))
    ratio = config.get("ratio") if get_score(name).depends_on_ratio else None
    res = pipe.score(name, seed, ratio, config.get("params") or {}, env.ctx)
    v = np.asarray(res.values, dtype=float)
    env.ctx.log(f"{name}: n={len(v)} mean={v.mean():.4g} std={v.std():.4g} min={v.min():.4g} max={v.max():.4g}")
    for row in (res.extras.get("trace") or [])[-3:]:
        env.ctx.log("BLO " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    return {"score": name, "ratio": ratio, "mean": float(v.mean()), "std": float(v.std())}


def _check_forget_set(config: dict) -> None:
    from .config import forget_count
    from .selectors import parse_selector

    _check_setup(config)
    _check_seed(config)
    spec = parse_selector(str(config.get("selector", "")))
    if not spec.class_wise:
        forget_count(config.get("ratio"), 10**9)


@register_job_kind("forget_set", title="Build forget set", check=_check_forget_set,
                   describe=lambda c: f"Forget set {c['selector']} @ {c.get('ratio')} · {_setup_label(c.get('setup'))}"
                   f" · seed {c.get('seed', 0)}")
def _job_forget_set(config: dict, env: JobEnv) -> dict:
    from .views_data import register_forget_set

    pipe = pipeline_from_setup(env.store, config.get("setup"), env.device)
    sel, ratio, seed = config["selector"], config.get("ratio"), int(config.get("seed", 0))
    fs = pipe.forget_set(sel, ratio, seed, env.ctx)
    register_forget_set(pipe, fs)
    env.ctx.log(f"{sel} @ {ratio}: {fs.size} samples; per class {fs.info.get('class_histogram')}")
    return {"key": fs.info.get("key"), "size": fs.size, "classes": fs.forget_classes}


def _spec_from(config: dict):
    from .experiments import ExperimentSpec

    d = dict(config.get("spec") or {})
    known = set(ExperimentSpec.__dataclass_fields__)
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"Unknown experiment fields {unknown}.")
    return ExperimentSpec(**d)


def _check_experiment(config: dict) -> None:
    spec = _spec_from(config).validate()
    _check_setup({"setup": {"dataset": spec.dataset, "train_overrides": spec.train_overrides}})


def _describe_experiment(c: dict) -> str:
    s = _spec_from(c)
    ratios = ",".join(f"{r:g}" for r in s.ratios)
    return (f"Experiment · {s.dataset} · {'/'.join(s.selectors)} × {'/'.join(s.methods)} × ratio {ratios} × "
            f"seeds {','.join(map(str, s.seeds))}")


@register_job_kind("experiment", title="Experiment grid", check=_check_experiment, describe=_describe_experiment)
def _job_experiment(config: dict, env: JobEnv) -> dict:
    from .experiments import run_experiment

    spec = _spec_from(config).validate()
    if env.device.startswith("cuda"):
        spec.device = env.device  # the GPU slot the manager assigned
    env.ctx.log(f"{spec.n_runs()} unlearning runs (Retrain included) on device {spec.device}")
    keys: list[str] = []

    def on_row(row: dict) -> None:
        keys.append(row["key"])
        env.ctx.log(f"{row['method']} · {row['selector']} · {row['ratio']} · seed {row['seed']}: UA {row['UA']:.2f} "
                    f"RA {row['RA']:.2f} TA {row['TA']:.2f} MIA {row['MIA']:.2f} ({row['runtime_s']:.2f}s)")

    df = run_experiment(spec, env.store, env.ctx, on_row=on_row)
    return {"n_runs": int(len(df)), "run_keys": keys, "dataset": spec.dataset,
            "model": str(df["model"].iloc[0]) if len(df) else spec.model}


DEMO_STAGES = [  # (name, what it does, progress range)
    ("original", "Train the original model θ_o on the digits training set", 0.0, 0.08),
    ("scores", "Score every training sample: loss and entropy", 0.08, 0.1),
    ("blo", "Find the worst-case forget set by bi-level optimisation (BLO)", 0.1, 0.3),
    ("sets", "Build the random, worst-case and easiest forget sets (10%)", 0.3, 0.32),
    ("seed0", "Unlearn with Retrain, FT, GA, RL and ℓ1-sparse on random vs worst-case sets (seed 0)", 0.32, 0.5),
    ("seeds", "Repeat for seeds 1 and 2 (mean ± std)", 0.5, 0.75),
    ("sweep", "Ratio sweep: 5% and 20% forget sets", 0.75, 1.0),
]
DEMO_DEFAULTS = {"setup": {"dataset": "digits"}, "ratio": 0.1, "seeds": [0, 1, 2], "sweep_ratios": [0.05, 0.2],
                 "methods": ["retrain", "ft", "ga", "rl", "l1_sparse"], "selectors": ["random", "worst"]}


def _check_demo(config: dict) -> None:
    from .experiments import ExperimentSpec

    c = {**DEMO_DEFAULTS, **config}
    _check_setup(c)
    ExperimentSpec(dataset=full_setup(c["setup"])["dataset"], methods=c["methods"], selectors=c["selectors"],
                   ratios=[c["ratio"], *c["sweep_ratios"]], seeds=c["seeds"]).validate()


@register_job_kind("teaching_demo", title="Teaching demo", check=_check_demo,
                   describe=lambda c: f"Teaching demo · {_setup_label(c.get('setup') or DEMO_DEFAULTS['setup'])}")
def _job_teaching_demo(config: dict, env: JobEnv) -> dict:
    """The default digits pipeline, stage by stage (each stage cached, so results appear as it goes)."""
    from .experiments import ExperimentSpec, run_experiment
    from .views_data import register_forget_set

    c = {**DEMO_DEFAULTS, **config}
    setup = full_setup(c["setup"])
    pipe = pipeline_from_setup(env.store, setup, env.device)
    ctx, ratio, seeds = env.ctx, float(c["ratio"]), [int(s) for s in c["seeds"]]
    bounds = {name: (lo, hi) for name, _, lo, hi in DEMO_STAGES}
    titles = {name: title for name, title, _, _ in DEMO_STAGES}
    stages_done: list[str] = []

    def stage(name: str) -> RunContext:
        lo, hi = bounds[name]
        ctx.progress(lo, f"stage {list(bounds).index(name) + 1}/{len(bounds)}: {titles[name]}")
        return ctx.sub(lo, hi)

    pipe.original(seeds[0], stage("original"))
    stages_done.append("original")
    sub = stage("scores")
    for name in ("loss", "entropy"):
        pipe.score(name, seeds[0], None, {}, sub)
    stages_done.append("scores")
    pipe.score("blo", seeds[0], ratio, {}, stage("blo"))
    stages_done.append("blo")
    sub = stage("sets")
    for sel in ("random", "worst", "easiest"):
        register_forget_set(pipe, pipe.forget_set(sel, ratio, seeds[0], sub))
    stages_done.append("sets")

    def grid(name: str, grid_seeds: list[int], ratios: list[float]) -> int:
        spec = ExperimentSpec(dataset=setup["dataset"], model=setup["model"], selectors=list(c["selectors"]),
                              methods=list(c["methods"]), ratios=ratios, seeds=grid_seeds, device=str(pipe.device),
                              train_preset=setup["train_preset"], train_overrides=setup["train_overrides"],
                              data_root=setup["data_root"], blo_params=setup["blo_params"])

        def on_row(row: dict) -> None:
            ctx.log(f"{row['method']} · {row['selector']} · {row['ratio']} · seed {row['seed']}: UA {row['UA']:.2f} "
                    f"MIA {row['MIA']:.2f} RA {row['RA']:.2f} TA {row['TA']:.2f}")

        return len(run_experiment(spec, env.store, stage(name), on_row=on_row))

    n = grid("seed0", seeds[:1], [ratio])
    stages_done.append("seed0")
    if len(seeds) > 1:
        n += grid("seeds", seeds[1:], [ratio])
    stages_done.append("seeds")
    if c["sweep_ratios"]:
        n += grid("sweep", seeds, [float(r) for r in c["sweep_ratios"]])
    stages_done.append("sweep")
    ctx.progress(1.0, "teaching demo done")
    return {"stages": stages_done, "n_runs": n, "original_key": pipe.original_key(seeds[0])}


from .views import jobs as _view_jobs  # noqa: E402,F401 - registers the analysis views' job kinds (issue 6)
