"""The worker side of the Ray executor: one unit computed in a fresh local store on a cluster node, from the
dependency bundles it receives, returned as bundles (see :mod:`unlearn_core.cluster`)."""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from ..config import Setup
from ..context import RunContext
from ..errors import ConfigError, DataNotFoundError, DivergenceError, ForgetsetError
from ..grid_stages import Unit, execute_unit
from ..io import sha256_bytes
from ..store import Store, pid_alive

_PROGRESS_EVERY_S = 0.5  # a worker relays its progress at most this often


class UnitError(ForgetsetError):
    """A unit failed on a worker and retrying cannot help (bad input, a diverged method, missing data)."""

    def __init__(self, unit_id: str, message: str):
        super().__init__(unit_id, message)

    @property
    def unit_id(self) -> str:
        return self.args[0]

    @property
    def message(self) -> str:
        return self.args[1]

    def __str__(self) -> str:
        return self.message


class TransientUnitError(UnitError):
    """A unit failed on a worker in a way a retry may fix (out of memory, a lost file, a CUDA error, ...)."""


@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """Hash of this unlearn_core's source: a worker running other code would give other results."""
    root = Path(__file__).resolve().parents[1]  # the whole unlearn_core package
    blob = b"".join(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() for p in sorted(root.rglob("*.py")))
    return sha256_bytes(blob)[:16]  # a content digest (the store's), not a configuration key


def worker_parent(worker_dir: str | None) -> Path:
    """Where workers of this host put their per-unit stores."""
    return Path(worker_dir or Path(tempfile.gettempdir()) / "forgetset-ray")


def sweep_stale(parent: Path, host: str) -> None:
    """Remove unit folders left by workers of this host that were killed (SIGKILL skips their cleanup)."""
    for d in parent.glob(f"unit-{host}-*-*"):
        pid = d.name[len(f"unit-{host}-"):].split("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def run_unit(payload: dict, *deps: dict) -> tuple[dict, dict]:
    """A Ray task: compute one unit in a fresh local store; returns (own result bundle, other created runs)."""
    import ray

    unit: Unit = payload["unit"]
    board = payload["board"]
    start = time.time()
    host = socket.gethostname()
    info = {"pid": os.getpid(), "host": host, "node": ray.get_runtime_context().get_node_id(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()], "start": start}
    # Waited for (a few ms): an attempt whose worker dies right after starting must still be on record.
    with contextlib.suppress(Exception):
        ray.get(board.started.remote(unit.id, info), timeout=30)
    try:
        main, extra, stages, device = _compute(payload, deps, host, board)
    except (ConfigError, DivergenceError, DataNotFoundError) as err:
        # Deterministic for this configuration (and this worker's data): a retry would fail the same way.
        raise UnitError(unit.id, f"{type(err).__name__}: {err} (on {host})") from None
    except Exception as err:  # noqa: BLE001 - anything else may be transient (OOM, I/O, CUDA): Ray retries it
        raise TransientUnitError(unit.id, f"{type(err).__name__}: {err} (on {host})") from None
    info.update(end=time.time(), device=device, stage_seconds=stages)
    return {"unit": unit.id, "key": main["runs"][0]["key"], "bundle": main, "info": info}, {"bundle": extra}


def _compute(payload: dict, deps: tuple[dict, ...], host: str, board) -> tuple[dict, dict, dict, str]:
    from ..pipeline import Pipeline
    from ..threads import apply_thread_policy

    unit: Unit = payload["unit"]
    apply_thread_policy(payload["threads"])  # the local policy (1 thread by default): same numbers as local runs
    if payload.get("code") and payload["code"] != code_digest():
        raise ConfigError(f"this worker runs another forgetset (code {code_digest()}, driver {payload['code']}); "
                          f"install the same version on every node")
    if payload.get("worker_setup") is not None:
        payload["worker_setup"](unit)
    parent = worker_parent(payload.get("worker_dir"))
    parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(parent, host)
    root = Path(tempfile.mkdtemp(prefix=f"unit-{host}-{os.getpid()}-", dir=parent))
    try:
        store = Store(root)
        imported: set[str] = set()
        for dep in deps:
            store.import_runs(dep["bundle"])
            imported.update(r["key"] for r in dep["bundle"]["runs"])
        setup = Setup.from_dict(payload["setup"])
        if payload.get("worker_data_root"):
            setup = setup.replace(data_root=str(payload["worker_data_root"]))
        pipe = Pipeline(store, setup)
        if pipe.base_config != payload["base_config"]:
            raise ConfigError(f"this worker's copy of data set '{setup.dataset}' (fingerprint "
                              f"{pipe.base_config.get('data_fingerprint')}) or its recipe differs from the "
                              f"driver's ({payload['base_config'].get('data_fingerprint')})")
        last = [0.0]

        def on_progress(f: float, msg: str) -> None:
            now = time.time()
            if now - last[0] >= _PROGRESS_EVERY_S:  # fire-and-forget calls, throttled
                last[0] = now
                board.progress.remote(unit.id, f, msg)

        ctx = RunContext(on_progress=on_progress, on_log=lambda line: board.log.remote(unit.id, line))
        out = execute_unit(pipe, unit, ctx)
        key = out["key"]
        # Everything this unit created besides its own result (predictions of a new θ_o, shadow-model banks):
        # the driver stores it as a local run would; downstream units only need the unit's own result.
        created = [r["key"] for r in store.list_runs(status="done") if r["key"] not in imported and r["key"] != key]
        main, extra = store.export_runs([key]), store.export_runs(created)
        device = str(pipe.device)
        if pipe.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()  # the worker is reused; a GPU shared by fractional units needs the memory back
        return main, extra, dict(pipe.stage_seconds), device
    finally:
        shutil.rmtree(root, ignore_errors=True)


def progress_board_class():
    """The progress board actor's class, defined here so that Ray ships it by value: its process then needs
    neither torch nor this project (an idle actor costs ~no memory or start-up time)."""

    class ProgressBoard:
        """Where workers post what they are doing; the driver drains it every poll."""

        def __init__(self) -> None:
            self.events: list[tuple] = []
            self.latest: dict[str, tuple[float, str]] = {}

        def started(self, uid: str, info: dict) -> None:
            self.events.append(("start", uid, info))
            self.latest.pop(uid, None)

        def progress(self, uid: str, fraction: float, message: str) -> None:
            self.latest[uid] = (fraction, message)  # only the newest progress of a unit matters

        def log(self, uid: str, line: str) -> None:
            if len(self.events) < 10_000:
                self.events.append(("log", uid, line))

        def drain(self) -> tuple[list[tuple], dict[str, tuple[float, str]]]:
            events, self.events = self.events, []
            return events, dict(self.latest)

    return ProgressBoard


def is_running_unit(pid: int, uid: str) -> bool:
    """Whether process ``pid`` on this host is a Ray worker computing unit ``uid`` (Linux; False elsewhere)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and cmd.rstrip(" \0") == f"ray::forgetset {uid}"
