"""The job runtime: a manager (queue + resource slots + persisted records) and pluggable executors.

- :class:`JobExecutor`: *where* a job body runs. :class:`LocalThreadExecutor` (default) runs it on a daemon thread in
  this process. A cluster backend implements :meth:`JobExecutor.start` by shipping ``(kind, config, device)`` to a
  worker that calls :func:`~unlearn_core.jobs.registry.execute_job` and relays progress / the outcome through the
  :class:`JobHandle` callbacks; cancellation reaches it through ``handle.cancel_event``.
- :class:`JobManager`: *when* a job runs. A FIFO queue and resource slots: one slot per CUDA device for jobs that
  train (``resource="device"``) and ``max_cpu_workers`` CPU slots. Progress and log lines live in memory and are
  written to the store's ``jobs`` table (throttled to about once a second, and on every status change).
  Cancellation sets the job's event; the core checks it at every progress call, so a job stops within seconds.
  On start-up, jobs left queued/running by a dead server become ``interrupted`` and can be re-run.

Randomness flows through explicit generators (``training.make_generator``) and seeded initialisation under a
lock (``training.seeded_init``), so several jobs can run at once in one process with bit-identical results to
running each alone. Jobs only *produce* results in the store; deleting a job record never deletes a result.
"""
from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..context import RunContext
from ..errors import CancelledError, ConfigError, ForgetsetError
from ..store import OWNER, Store
from ..threads import apply_thread_policy, default_workers
from .registry import JobKind, execute_job, get_job_kind

TERMINAL = ("done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
LOG_LINES_KEPT = 2000
LOG_LINES_PERSISTED = 500


def _now_line(message: str) -> str:
    return f"{time.strftime('%H:%M:%S')}  {message}"


def _gpu_ids() -> list[int]:
    try:
        import torch

        return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    except Exception:  # pragma: no cover - torch without a CUDA runtime
        return []


# ---------------------------------------------------------------------------------------------- executors
class JobHandle:
    """The manager's view of one started job, handed to a :class:`JobExecutor`.

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
            est = self.manager._estimate(self.job_id, self.kind, self.config)
            t0 = time.time()
            result = execute_job(self.kind, self.config, self.manager.store, self.context(), self.device,
                                 self.job_id)
            if est is not None:  # estimate vs actual, kept with the result (the Runs page shows both)
                result = {**result, "estimate": est, "actual_s": time.time() - t0}
        except BaseException as err:  # noqa: BLE001 - every failure must end the job, never the server
            self.fail(err)
        else:
            self.finish(result)


class JobExecutor(ABC):
    """Where job bodies run. Must not block in :meth:`start`."""

    name = "executor"

    @abstractmethod
    def start(self, handle: JobHandle) -> None:
        """Begin running ``handle`` (locally: ``handle.execute()`` on a worker)."""

    def shutdown(self, wait: bool = False, timeout: float = 10.0) -> None:  # pragma: no cover - trivial default
        pass


class LocalThreadExecutor(JobExecutor):
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
    estimate: dict | None = None  # the cost model's estimate, made when the job starts (unlearn_core.jobs.estimate)
    settled: threading.Event = field(default_factory=threading.Event)  # final state written to the database

    def as_dict(self, with_log: bool = True) -> dict:
        d = {"id": self.id, "kind": self.kind, "label": self.label, "config": self.config, "resource": self.resource,
             "status": self.status, "progress": self.progress, "message": self.message, "error": self.error,
             "result": self.result, "created": self.created, "started": self.started, "finished": self.finished,
             "rerun_of": self.rerun_of, "slot": self.slot, "cancel_requested": self.cancel.is_set(),
             "estimate": self.estimate or (self.result or {}).get("estimate")}
        if with_log:
            d["log"] = list(self.log)
        return d


_SHARED: dict[str, "JobManager"] = {}
_SHARED_LOCK = threading.Lock()


class JobManager:
    """Queue + resource slots + persisted job records for one store. Thread-safe; one per server process.

    Use :meth:`shared` in a server (one manager per store root per process); construct directly in tests.
    """

    def __init__(self, store: Store | None = None, executor: JobExecutor | None = None, *,
                 max_cpu_workers: int | None = None, gpu_ids: list[int] | None = None,
                 jobs_per_gpu: int | None = None, persist_interval: float = 1.0):
        self.store = store if store is not None else Store()
        self.executor = executor or LocalThreadExecutor()
        if max_cpu_workers is None:
            max_cpu_workers = default_workers()
        if isinstance(max_cpu_workers, bool) or not isinstance(max_cpu_workers, int) or max_cpu_workers < 1:
            raise ConfigError(f"max_cpu_workers must be a positive integer, got {max_cpu_workers!r}.")
        self.max_cpu_workers = int(max_cpu_workers)
        apply_thread_policy()
        if jobs_per_gpu is None:
            jobs_per_gpu = int(os.environ.get("FORGETSET_JOBS_PER_GPU", "1") or 1)
        if jobs_per_gpu < 1:
            raise ConfigError("jobs_per_gpu must be at least 1.")
        # Several small jobs can share one GPU (one small model leaves most of it idle): slot "cuda:0#1" etc.
        self.gpu_slots = [f"cuda:{i}" + (f"#{k}" if k else "") for i in (_gpu_ids() if gpu_ids is None else gpu_ids)
                          for k in range(jobs_per_gpu)]
        self.persist_interval = float(persist_interval)
        self.owner = f"{OWNER}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}  # jobs owned by this manager (queued, running and recently finished)
        self._pending: deque[str] = deque()
        self._busy: dict[str, str] = {}  # slot -> job id ("cpu#0", "cuda:0", ...)
        self._version = 0
        self._closed = False
        self.recovered = self._recover()

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
        """Jobs left queued/running by a dead server become interrupted; so do its half-computed runs."""
        n, _ = self.store.jobs_recover(self.owner)
        self.store.mark_interrupted()  # only runs whose owning process is dead
        return n

    # ------------------------------------------------------------------ public API
    @property
    def version(self) -> int:
        """Increases whenever a job of this manager changes status (cheap change detection for views)."""
        return self._version

    def submit(self, kind: str, config: dict | None = None, label: str | None = None,
               rerun_of: str | None = None) -> str:
        """Queue a job; returns its id. Raises :class:`ForgetsetError` for bad input (nothing is queued then)."""
        import json

        if self._closed:
            raise ConfigError("The job manager has been shut down.")
        spec = get_job_kind(kind)
        try:
            config = json.loads(json.dumps(config or {}))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Job config must be JSON-serialisable: {err}") from None
        except RecursionError:
            raise ConfigError("Job config is nested too deeply.") from None
        if spec.check is not None:
            spec.check(config)
        resource = self._resource_for(spec, config)
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        job = _Job(job_id, kind, label or spec.label(config), config, resource, rerun_of=rerun_of)
        job.log.append(_now_line(f"queued ({resource} job)" + (f", re-run of {rerun_of}" if rerun_of else "")))
        self.store.job_insert({"id": job_id, "kind": kind, "label": job.label, "config": config,
                               "resource": resource, "status": "queued", "progress": 0, "message": "queued",
                               "owner": self.owner, "rerun_of": rerun_of, "created": job.created,
                               "updated": job.created, "log": list(job.log)})
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
        row = self.store.job_get(job_id, with_log=False)
        if row is None or row["status"] not in ACTIVE:
            return False
        # Owned by another process / manager: it polls this flag.
        self.store.job_update(job_id, {"cancel_requested": 1, "updated": time.time()})
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
        """Forget a finished job's record. The results it stored are kept: they live in the store, not in the job."""
        job = self.get(job_id, with_log=False)
        if job is None:
            return
        if job["status"] in ACTIVE:
            raise ConfigError("Cancel the job before deleting it.")
        with self._lock:
            self._jobs.pop(job_id, None)
            self._version += 1
        self.store.job_delete(job_id)

    def get(self, job_id: str, with_log: bool = True) -> dict | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return self._annotate(job.as_dict(with_log))
        row = self.store.job_get(job_id, with_log)
        return self._annotate(row) if row is not None else None

    def list_jobs(self, limit: int | None = None, with_log: bool = False) -> list[dict]:
        """Every job in the store, newest first (this manager's live jobs with their in-memory progress)."""
        rows = self.store.job_list(limit=limit, with_log=with_log)
        out = []
        with self._lock:
            for r in rows:
                job = self._jobs.get(r["id"])
                out.append(self._annotate(job.as_dict(with_log) if job is not None else r))
        return out

    def active_jobs(self) -> list[dict]:
        """Queued and running jobs (this manager's from memory, other processes' from the database)."""
        with self._lock:
            mine = [j.as_dict(False) for j in self._jobs.values() if j.status in ACTIVE]
            ids = {j["id"] for j in mine}
        others = [r for r in self.store.job_list(statuses=ACTIVE, oldest_first=True) if r["id"] not in ids]
        return [self._annotate(j) for j in sorted(mine + others, key=lambda j: j["created"])]

    def has_active(self) -> bool:
        with self._lock:
            if any(j.status in ACTIVE for j in self._jobs.values()):
                return True
        return bool(self.store.job_list(limit=1, statuses=ACTIVE))

    def _annotate(self, d: dict) -> dict:
        """Add, for a queued job, its place in the queue and what it waits for."""
        if d.get("status") == "queued":
            with self._lock:
                if d["id"] in self._pending:
                    pos = list(self._pending).index(d["id"]) + 1
                    res = d.get("resource", "cpu")
                    running = [self._jobs[j].label for s, j in self._busy.items()
                               if (s.startswith("cuda") if res == "gpu" else s.startswith("cpu")) and j in self._jobs]
                    n_slots = len(self.gpu_slots) if res == "gpu" else self.max_cpu_workers
                    d["queue_position"] = pos
                    d["waiting_for"] = (f"all {n_slots} {'GPU' if res == 'gpu' else 'CPU'} slot(s) are busy with: "
                                        + "; ".join(running)) if running else "starting"
        return d

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
        device = str((config.get("setup") or {}).get("device") or ((config.get("spec") or {}).get("setup") or {})
                     .get("device") or config.get("device") or "auto")
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
                device = slot.split("#")[0] if slot.startswith("cuda") else "cpu"
                to_start.append(JobHandle(self, jid, job.kind, job.config, device, job.cancel))
        for h in to_start:
            self._persist(h.job_id, force=True)
            try:
                self.executor.start(h)
            except BaseException as err:  # noqa: BLE001
                self._on_finished(h.job_id, None, err)

    def _estimate(self, job_id: str, kind: str, config: dict) -> dict | None:
        """The cost model's estimate of a job (unlearn_core.jobs.estimate), logged and kept on the job; None for
        kinds it does not model or when it cannot be made (an estimate never stops a job)."""
        from .estimate import estimate_job

        try:
            est = estimate_job(kind, config, self.store)
        except Exception:  # noqa: BLE001 - the job itself reports bad input; the estimate is only a plan
            return None
        if est is None:
            return None
        d = est.as_dict()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.estimate = d
        self._on_log(job_id, f"estimate: {est.summary()}")
        return d

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
            fields = {"status": job.status, "progress": job.progress, "message": job.message, "error": job.error,
                      "result": job.result, "log": list(job.log)[-LOG_LINES_PERSISTED:], "slot": job.slot,
                      "started": job.started, "finished": job.finished, "updated": now}
        try:
            self.store.job_update(job_id, fields, owner=self.owner)
            requested = self.store.job_cancel_requested(job_id)
        except Exception:  # noqa: BLE001 - a busy/locked database must not kill the job
            return
        if requested:
            with self._lock:
                job = self._jobs.get(job_id)
                if job is not None and job.status == "running" and not job.cancel.is_set():
                    job.cancel.set()
                    job.log.append(_now_line("cancel requested (from another process)"))
