"""The driver side of the Ray executor: :class:`RayExecutor` checks the driver's store, submits the units to
compute as Ray tasks with their dependencies as ObjectRefs, imports each finished unit's bundles and records
failures, and cancels every task on cancel / Ctrl-C (see :mod:`unlearn_core.cluster`)."""
from __future__ import annotations

import contextlib
import functools
import signal
import socket
import threading
import time
from typing import Any, Callable, Iterator

from ..config import Setup
from ..io import config_key
from ..context import RunContext
from ..errors import ConfigError, ForgetsetError
from ..grid_executors import GridExecutor
from ..grid_stages import Unit, get_stage
from ..store import CorruptArtifact, Store
from .options import DEFAULT_GPUS_PER_UNIT, DEFAULT_MAX_RETRIES, check_options, require_ray
from .worker import (TransientUnitError, UnitError, code_digest, is_running_unit, progress_board_class, run_unit,
                     sweep_stale, worker_parent)

_POLL_S = 0.25  # how often the driver looks at finished units and progress
_CANCEL_WAIT_S = 60.0


# ---------------------------------------------------------------------------------------------- connection
_CONN_LOCK = threading.Lock()
_CONN: dict[str, Any] = {"users": 0, "owned": False}


def _connect(address: str | None, init_options: dict | None, log: Callable[[str], None]) -> None:
    """Connect this process to Ray (once; shared by concurrent grids, e.g. several dashboard jobs)."""
    import ray

    with _CONN_LOCK:
        if ray.is_initialized():
            if _CONN["users"] == 0 and address not in (None, "auto"):
                log(f"Ray is already initialised in this process; using that cluster, not {address!r}")
            _CONN["users"] += 1
            return
        kwargs = dict(init_options or {})
        if address == "local":
            kwargs.setdefault("include_dashboard", False)  # a dashboard process per grid costs memory on a laptop
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ConfigError(f"Cannot connect to the Ray cluster at {address or 'the default address'}: {err}. "
                              f"Start one with 'ray start --head' or use --ray-address local.") from None
        _CONN["owned"] = True  # this process started the connection: it closes it when the last grid ends
        _CONN["users"] = 1


def _release() -> None:
    import ray

    with _CONN_LOCK:
        _CONN["users"] = max(0, _CONN["users"] - 1)
        if _CONN["users"] == 0 and _CONN["owned"]:
            _CONN["owned"] = False
            ray.shutdown()


class GridUnitsFailed(ForgetsetError):
    """Some units of a grid failed after their retries; every other unit's result is in the store."""

    def __init__(self, failures: list[tuple[str, str]], skipped: int, total: int):
        self.failures, self.skipped, self.total = failures, skipped, total
        first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        skip = f"; {skipped} units that depend on them were skipped" if skipped else ""
        super().__init__(f"{len(failures)} of {total} units failed{skip}. {first[0]}: {first[1]}{more}")


@contextlib.contextmanager
def _sigint_latch() -> Iterator[list[bool]]:
    """Record Ctrl-C in a flag the poll loop checks, instead of trusting the exception to surface.

    Ray's ``ray.wait`` checks for signals inside its C++ wait (``PyErr_CheckSignals``) and can drop the resulting
    KeyboardInterrupt: measured in the full test suite with Ray 2.60, an interrupt sent while the driver was in
    ``ray.wait`` never reached Python, and the grid ran to the end. A handler that only sets a flag cannot be lost
    that way; the loop raises KeyboardInterrupt itself. Outside the main thread (no signals there) the flag stays
    empty and ``ctx``'s cancel event is the way to stop a grid."""
    hit: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield hit
        return
    try:
        previous = signal.signal(signal.SIGINT, lambda *_: hit.append(True))
    except ValueError:  # pragma: no cover - no signals here (embedded interpreter)
        yield hit
        return
    try:
        yield hit
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _defer_sigint() -> Iterator[None]:
    """Hold Ctrl-C while a bundle is imported, so an interrupted import never leaves a ``running`` row behind."""
    with _sigint_latch() as hit:
        yield
    if hit:
        raise KeyboardInterrupt


def _lookup(pipe, unit: Unit) -> dict | None:
    """The driver's finished run of a unit, through the pipeline's read-only lookups (None: compute it)."""
    return get_stage(unit.stage).find(pipe, unit)


def _summary(unit: Unit, run: dict, hit: bool) -> dict:
    """What :func:`~unlearn_core.grid_stages.execute_unit` returns for a unit, built from its run row."""
    return get_stage(unit.stage).summary(unit, run, hit)


def _unit_config(pipe, unit: Unit) -> tuple[str, dict]:
    """(kind, configuration) of a unit's result, from the driver's store (its dependencies are there)."""
    return get_stage(unit.stage).config(pipe, unit)


class RayExecutor(GridExecutor):
    """Runs a grid's units as Ray tasks (see the module docstring for what travels where).

    Options: ``address`` (auto | local | ray://host:port | host:port | None), ``gpus_per_unit`` and
    ``cpus_per_unit`` (a number, or ``{stage: number}``; GPUs default by model size when the setup may use a GPU
    and the cluster has one, see :data:`DEFAULT_GPUS_PER_UNIT`), ``max_retries`` (per unit, for crashed workers
    and transient errors), ``worker_dir`` (where workers keep their per-unit stores; default the system's temp
    folder), ``worker_data_root`` (the data root on the workers, if not the setup's), ``threads`` (torch threads
    per unit; default the local policy), ``worker_setup`` (a function called with the unit in the worker before
    it runs, e.g. to register your own methods there), ``fail_fast`` (cancel the grid at the first failed unit
    instead of finishing the independent ones), ``init_options`` (extra ``ray.init`` arguments, e.g.
    ``num_cpus`` for ``local`` or a ``runtime_env``), ``reuse_workers`` (keep worker processes between units; on
    by default, also for GPU units), ``check_code`` (refuse workers running another version of this code).
    """

    computes_here = False  # units run on the cluster's nodes: their devices are checked there

    name = "ray"

    def __init__(self, **options: Any):
        require_ray()
        opts = check_options(**options)
        self.address: str | None = opts["address"]
        self.gpus_per_unit: dict[str, float] | None = opts["gpus_per_unit"]
        self.cpus_per_unit: dict[str, float] = opts["cpus_per_unit"]
        self.max_retries: int = opts.get("max_retries", DEFAULT_MAX_RETRIES)
        self.worker_dir = str(opts["worker_dir"]) if opts.get("worker_dir") else None
        self.worker_data_root = str(opts["worker_data_root"]) if opts.get("worker_data_root") else None
        self.threads: int | None = opts.get("threads")
        self.worker_setup: Callable[[Unit], None] | None = opts.get("worker_setup")
        self.fail_fast: bool = bool(opts.get("fail_fast", False))
        self.init_options: dict = dict(opts.get("init_options") or {})
        self.reuse_workers: bool = bool(opts.get("reuse_workers", True))
        self.check_code: bool = bool(opts.get("check_code", True))
        # What the last run did (for the CLI summary, benchmarks and tests).
        self.submitted: list[str] = []  # unit ids sent to Ray (units found in the store are not)
        self.timeline: list[dict] = []  # per finished unit: where it ran, start/end, resources
        self.attempts: dict[str, list[dict]] = {}  # unit id -> one entry per attempt that started
        self.failures: list[tuple[str, str]] = []
        self._stage_seconds: dict[str, float] = {}
        self._cluster = ""

    # ------------------------------------------------------------------ reporting
    def describe(self) -> str:
        return f"ray ({self._cluster or self.address or 'default address'})"

    @property
    def stage_seconds(self) -> dict[str, float]:
        return dict(self._stage_seconds)

    # ------------------------------------------------------------------ resources
    def resources_for(self, unit: Unit, setup: Setup, model: str, cluster_gpus: float) -> dict[str, float]:
        """The Ray resource request of one unit (``num_cpus``, ``num_gpus``)."""
        cpus = self.cpus_per_unit[unit.stage]
        if self.gpus_per_unit is not None:
            gpus = self.gpus_per_unit[unit.stage]
        elif setup.device == "cpu" or (cluster_gpus <= 0 and setup.device == "auto"):
            gpus = 0.0
        else:
            gpus = DEFAULT_GPUS_PER_UNIT.get(model, 1.0)
        return {"num_cpus": cpus, "num_gpus": gpus}

    def _check_feasible(self, requests: dict[str, dict[str, float]], setup: Setup) -> None:
        """Refuse a request no node can satisfy (Ray would wait for it forever)."""
        import ray

        nodes = [n.get("Resources") or {} for n in ray.nodes() if n.get("Alive")]
        gpus = sum(n.get("GPU", 0.0) for n in nodes)
        if setup.device.startswith("cuda") and gpus <= 0:
            raise ConfigError(f"The setup asks for device {setup.device!r} but the Ray cluster has no GPUs.")
        for stage, req in requests.items():
            if not any(n.get("CPU", 0.0) >= req["num_cpus"] and n.get("GPU", 0.0) >= req["num_gpus"] for n in nodes):
                biggest = max(nodes, key=lambda n: (n.get("GPU", 0.0), n.get("CPU", 0.0)), default={})
                raise ConfigError(f"No node of the Ray cluster can run a {stage} unit: it asks for "
                                  f"{req['num_cpus']:g} CPUs and {req['num_gpus']:g} GPUs; the largest node has "
                                  f"{biggest.get('CPU', 0):g} CPUs and {biggest.get('GPU', 0):g} GPUs. Lower "
                                  f"cpus_per_unit / gpus_per_unit.")

    # ------------------------------------------------------------------ run
    def run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
            on_done: Callable[[Unit, dict], None]) -> None:
        from ..pipeline import Pipeline
        from ..threads import threads_per_worker

        self.submitted, self.timeline, self.attempts, self.failures = [], [], {}, []
        self._stage_seconds = {}
        # Lookups and failure rows only: keys never depend on the device, so the driver needs no GPU.
        pipe = Pipeline(store, setup.replace(device="cpu"))
        threads = self.threads or threads_per_worker()
        _connect(self.address, self.init_options, ctx.log)
        try:
            self._run(setup, units, store, ctx, on_done, pipe, threads)
        finally:
            _release()

    def _run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
             on_done: Callable[[Unit, dict], None], pipe, threads: int) -> None:
        import ray

        by_id = {u.id: u for u in units}
        order = {u.id: i for i, u in enumerate(units)}
        total = len(units)

        @functools.lru_cache(maxsize=None)
        def ancestors(uid: str) -> tuple[str, ...]:
            seen: dict[str, None] = {}
            for d in by_id[uid].deps:
                if d is None or d not in by_id:
                    continue
                for a in ancestors(d) + (d,):
                    seen.setdefault(a, None)
            return tuple(sorted(seen, key=order.__getitem__))

        # 1. Idempotency: units whose result the driver's store already holds are not recomputed; those that a
        #    unit to compute depends on are shipped to it as verified bundles (a corrupt one is recomputed).
        cached: dict[str, dict] = {}
        for u in units:
            run = _lookup(pipe, u)
            if run is not None:
                cached[u.id] = run
        bundles: dict[str, dict] = {}
        while True:
            needed = {a for u in units if u.id not in cached for a in ancestors(u.id) if a in cached}
            corrupt = False
            for a in sorted(needed - set(bundles), key=order.__getitem__):
                try:
                    bundles[a] = store.export_runs([cached[a]["key"]])
                except CorruptArtifact as err:
                    ctx.log(f"{by_id[a].label}: the stored result is corrupt ({err}); recomputing it")
                    del cached[a]
                    corrupt = True
            if not corrupt:
                break
        for u in units:
            if u.id in cached:
                on_done(u, _summary(u, cached[u.id], hit=True))
        todo = [u for u in units if u.id not in cached]
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        res = ray.cluster_resources()
        try:
            where = ray.get_runtime_context().gcs_address or self.address or "default address"
        except Exception:  # noqa: BLE001 - Ray Client has no GCS address here; the name is only for the log
            where = self.address or "default address"
        self._cluster = (f"{where}: {len(nodes)} node{'s' * (len(nodes) != 1)}, "
                         f"{res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs")
        ctx.log(f"Ray cluster {self._cluster}; {len(cached)} of {total} units already in the store, "
                f"{len(todo)} to run")
        if not todo:
            return
        requests = {u.id: self.resources_for(u, setup, pipe.model_name, res.get("GPU", 0.0)) for u in todo}
        self._check_feasible({by_id[uid].stage: r for uid, r in requests.items()}, setup)

        # 2. Submit every unit at once with its dependencies as ObjectRefs: Ray starts each as soon as its inputs
        #    exist and resources are free. Retries: crashed workers and TransientUnitError, max_retries times.
        board = ray.remote(num_cpus=0)(progress_board_class()).remote()
        # Wait until the board runs: a task blocked on it (see run_unit) lends its CPU to another task meanwhile.
        ray.get(board.drain.remote())
        remote = ray.remote(max_calls=0 if self.reuse_workers else 1)(run_unit)
        base = {"setup": setup.to_dict(), "base_config": pipe.base_config, "threads": threads, "board": board,
                "code": code_digest() if self.check_code else None, "worker_dir": self.worker_dir,
                "worker_data_root": self.worker_data_root, "worker_setup": self.worker_setup}
        refs: dict[str, Any] = {}  # unit id -> ObjectRef of its own result (what dependents receive)
        extras: dict[str, Any] = {}
        pending: dict[Any, str] = {}
        for u in units:  # plan order: every dependency is submitted (or put) before its dependents
            if u.id in cached:
                continue
            dep_refs = []
            for a in ancestors(u.id):
                if a not in refs:  # a cached dependency: its bundle goes through the object store once
                    refs[a] = ray.put({"unit": a, "key": cached[a]["key"], "bundle": bundles[a]})
                dep_refs.append(refs[a])
            main, extra = remote.options(
                name=f"forgetset {u.id}", num_returns=2, max_retries=self.max_retries,
                retry_exceptions=[TransientUnitError], **requests[u.id],
            ).remote({**base, "unit": u}, *dep_refs)
            refs[u.id], extras[u.id] = main, extra
            pending[main] = u.id
            self.submitted.append(u.id)
        bundles.clear()
        # Unfinished dependents per result: the driver drops its reference to a result (so Ray frees the bundle,
        # e.g. a ResNet's weights) once everything that needs it has finished.
        users = {uid: 0 for uid in refs}
        for uid in pending.values():
            for a in ancestors(uid):
                users[a] += 1

        def release(uid: str) -> None:  # a unit's dependencies have all finished before it
            for a in ancestors(uid):
                users[a] -= 1
                if users[a] == 0:
                    refs.pop(a, None)
            if users.get(uid) == 0:
                refs.pop(uid, None)

        # 3. Collect: import bundles as units finish, relay progress and logs, honour cancel / Ctrl-C.
        done = len(cached)
        running: dict[str, tuple[float, str]] = {}
        skipped = 0
        last_fraction = done / total
        try:
            with _sigint_latch() as interrupted:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=_POLL_S)
                    if interrupted:
                        raise KeyboardInterrupt
                    self._drain(board, running, by_id, ctx)  # first: a unit's attempts are known when it is collected
                    for ref in sorted(ready, key=lambda r: order[pending[r]]):  # dependencies before dependents
                        uid = pending.pop(ref)
                        running.pop(uid, None)
                        outcome = self._collect(by_id[uid], ref, extras.pop(uid), store, pipe, ctx, on_done)
                        release(uid)
                        done += 1
                        if outcome == "skipped":
                            skipped += 1
                        elif outcome == "failed" and self.fail_fast:
                            raise GridUnitsFailed(self.failures, skipped, total)
                    fraction = max(last_fraction, (done + sum(f for f, _ in running.values())) / total)
                    last_fraction = fraction
                    ctx.progress(fraction, self._message(done, total, running, by_id))  # raises when cancelled
        except BaseException:  # cancel, Ctrl-C, fail_fast, a failing callback: stop every task of the grid
            self._cancel(list(pending), list(pending.values()), board, by_id, ctx)
            raise
        finally:
            with contextlib.suppress(Exception):
                ray.kill(board)
        if self.failures:
            raise GridUnitsFailed(self.failures, skipped, total)

    def _collect(self, unit: Unit, ref: Any, extra_ref: Any, store: Store, pipe, ctx: RunContext,
                 on_done: Callable[[Unit, dict], None]) -> str:
        """Import a finished unit's bundles (or record its failure). Returns done | failed | skipped."""
        import ray
        from ray.exceptions import RayError

        try:
            main, extra = ray.get([ref, extra_ref])
        except UnitError as err:  # Ray re-raises the worker's exception as a subclass of it, cause attached
            cause = getattr(err, "cause", err)
            if cause.unit_id != unit.id:  # Ray propagates a failed dependency's error to its dependents
                ctx.log(f"skipped {unit.label}: it depends on {cause.unit_id}, which failed")
                return "skipped"
            self._record_failure(unit, cause.message, store, pipe, ctx)
            return "failed"
        except RayError as err:  # the worker died on every attempt, the task was cancelled, an object was lost
            self._record_failure(unit, f"{type(err).__name__}: {str(err).strip().splitlines()[0][:500]}",
                                 store, pipe, ctx)
            return "failed"
        with _defer_sigint():  # a run is imported whole or not at all (the store's claim + atomic writes)
            store.import_runs(main["bundle"])
            store.import_runs(extra["bundle"])
        run = store.done_run(main["key"])
        if run is None:  # pragma: no cover - import_runs verified it; only a concurrent deletion gets here
            raise ForgetsetError(f"{unit.label}: its result vanished from the store after import")
        info = main["info"]
        for k, v in (info.get("stage_seconds") or {}).items():
            self._stage_seconds[k] = self._stage_seconds.get(k, 0.0) + v
        self.timeline.append({"unit": unit.id, "stage": unit.stage, "label": unit.label,
                              "attempt": len(self.attempts.get(unit.id, [])) or 1,
                              **{k: v for k, v in info.items() if k != "stage_seconds"}})
        ctx.log(f"done {unit.label} on {info['host']} (pid {info['pid']}, {info['device']}) in "
                f"{info['end'] - info['start']:.1f}s")
        on_done(unit, _summary(unit, run, hit=False))
        return "done"

    def _record_failure(self, unit: Unit, error: str, store: Store, pipe, ctx: RunContext) -> None:
        """A failed run row in the driver's store, as a local failure leaves (never over a finished result)."""
        n = len(self.attempts.get(unit.id, []))
        self.failures.append((unit.label, error))
        ctx.log(f"FAILED {unit.label} after {n} attempt{'s' * (n != 1)}: {error}")
        try:
            kind, config = _unit_config(pipe, unit)
        except (LookupError, ForgetsetError, KeyError):
            return
        key = config_key(config)
        token = store.claim(key, kind, config, wait=False)
        if token is not None:
            store.fail(key, token, f"{error} (Ray worker, {n} attempt{'s' * (n != 1)})")

    def _drain(self, board: Any, running: dict[str, tuple[float, str]], by_id: dict[str, Unit],
               ctx: RunContext) -> None:
        import ray

        events, latest = ray.get(board.drain.remote())
        for kind, uid, data in events:
            if kind == "start":
                self.attempts.setdefault(uid, []).append(data)
                running[uid] = (0.0, "started")
                if len(self.attempts[uid]) > 1:
                    ctx.log(f"retrying {by_id[uid].label} (attempt {len(self.attempts[uid])}) on {data['host']}")
            else:
                ctx.log(f"[{by_id[uid].label}] {data}")
        for uid, fm in latest.items():
            if uid in running:
                running[uid] = fm

    @staticmethod
    def _message(done: int, total: int, running: dict[str, tuple[float, str]], by_id: dict[str, Unit]) -> str:
        shown = [f"{by_id[u].label}: {m}" for u, (_, m) in list(running.items())[:2]]
        more = f" (+{len(running) - 2} more)" if len(running) > 2 else ""
        return f"{done}/{total} units" + (" · running " + "; ".join(shown) + more if shown else "")

    def _cancel(self, refs: list[Any], uids: list[str], board: Any, by_id: dict[str, Unit],
                ctx: RunContext) -> None:
        """Cancel (force: the worker process is killed) every unfinished task and wait until all have stopped,
        so no unit is left running; nothing half-done reaches the store (only whole bundles are imported)."""
        import ray

        if not refs:
            return
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True, recursive=True)
        _, not_ready = ray.wait(refs, num_returns=len(refs), timeout=_CANCEL_WAIT_S)
        # Ray marks a cancelled task's result at once and kills its worker asynchronously, and a task being
        # dispatched while it was cancelled can still start. So confirm on this host that no attempt of these
        # units still runs (its worker's title names the unit), cancelling again meanwhile.
        host, deadline, running = socket.gethostname(), time.time() + _CANCEL_WAIT_S, {}
        while True:
            with contextlib.suppress(Exception):
                self._drain(board, running, by_id, ctx)
            live = [(uid, a["pid"]) for uid in uids for a in self.attempts.get(uid, [])
                    if a["host"] == host and is_running_unit(a["pid"], uid)]
            if not live or time.time() > deadline:
                break
            for ref in refs:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True, recursive=True)
            time.sleep(0.1)
        if not live:  # the killed workers of this host could not clean up their unit folders: do it for them
            sweep_stale(worker_parent(self.worker_dir), host)
        ctx.log(f"cancelled {len(refs)} unfinished units" +
                (f"; {len(not_ready)} did not confirm within {_CANCEL_WAIT_S:g}s" if not_ready else "") +
                (f"; still running here: {live}" if live else ""))
