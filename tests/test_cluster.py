"""The Ray grid executor on a local Ray cluster started by this module (2 CPUs on 127.0.0.1).

What is checked: a grid through Ray gives bit-identical results to the local executor (same keys, same artifact
hashes, same metrics) and lands the same runs in the store; cached units are not recomputed; a worker killed
mid-unit is retried and the grid completes with the same results; a unit that keeps failing ends as a failed run
row with its error; cancel (the job's event, or Ctrl-C) leaves no unit running and nothing half-written.
"""
from __future__ import annotations

import _thread
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import pytest

from unlearn_core.cluster import GridUnitsFailed, check_address, check_options, experiment_executor
from unlearn_core.config import Setup
from unlearn_core.context import RunContext
from unlearn_core.errors import CancelledError, ConfigError
from unlearn_core.grid import ExperimentSpec, plan, run_experiment
from unlearn_core.store import Store


def _ray_importable() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


RAY = _ray_importable()
needs_ray = pytest.mark.skipif(not RAY, reason="Ray is not importable (pip install -e '.[cluster]')")

SETUP = Setup(device="cpu", train={"epochs": 3}, blo={"upper_iters": 2, "K": 1})  # short recipe: a fast grid
METRICS = ["UA", "RA", "TA", "MIA", "MIA_confidence", "forget_size"]  # the other MIA variants are on demand


def small_spec(**kw) -> ExperimentSpec:
    """Random + worst (the default grid without its lowest-loss rival), Retrain/FT/GA/RL/ℓ1-sparse, 10%, one seed:
    14 units."""
    kw.setdefault("selectors", ["random", "worst"])
    return ExperimentSpec(setup=SETUP, seeds=[0], **kw)


def done_runs(store: Store) -> dict[str, tuple[str, str]]:
    """key -> (kind, content hash of the main artifact) of every finished run in a store. The content hash is
    what derived keys use; an array artifact's file also holds timings (BLO's per-iteration seconds), which
    legitimately differ between two computations."""
    from unlearn_core.store import run_digest

    return {r["key"]: (r["kind"], run_digest(r)) for r in store.list_runs(status="done")}


def unit_processes() -> list[tuple[int, str]]:
    """Processes running a forgetset unit (Ray titles a task's worker 'ray::<task name>' while it runs it)."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::forgetset"):
            out.append((int(p.name), cmd.strip()))
    return out


def wait_for(pred, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a killed worker its parent has not reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def blocking_hook(folder: str, stage: str | None = None, unit_id: str | None = None, first_only: bool = True):
    """A worker_setup hook that, in the matching unit, records the worker's pid in ``folder`` and then blocks
    (until the test kills or cancels it). Defined in a function so Ray ships it to the workers by value."""

    def hook(unit) -> None:
        if (stage and unit.stage != stage) or (unit_id and unit.id != unit_id):
            return
        pid_file = Path(folder) / (unit.id.replace("/", "_") + ".pid")
        if first_only and pid_file.exists():
            return  # a retry: compute normally
        pid_file.write_text(str(os.getpid()))
        time.sleep(120)

    return hook


def failing_hook(folder: str, unit_id: str):
    """A worker_setup hook under which one unit always fails with a transient-looking error (counted)."""

    def hook(unit) -> None:
        if unit.id == unit_id:
            with open(Path(folder) / "attempts", "a") as f:
                f.write(f"{os.getpid()}\n")
            raise RuntimeError("simulated worker failure")

    return hook


# ---------------------------------------------------------------------------------------------- no Ray needed
def test_options_are_validated_without_ray():
    assert check_address("auto") == "auto" and check_address("ray://10.0.0.1:10001") == "ray://10.0.0.1:10001"
    assert check_address("head-node:6379") == "head-node:6379" and check_address(None) is None
    for bad in ("http://x", "ray://", "auto local", 5):
        with pytest.raises(ConfigError):
            check_address(bad)
    opts = check_options(gpus_per_unit={"run": 0.25, "default": 0.5}, cpus_per_unit=0.5)
    assert opts["gpus_per_unit"] == {"original": 0.5, "score": 0.5, "forget_set": 0.5, "run": 0.25, "bank": 0.5}
    assert set(opts["cpus_per_unit"].values()) == {0.5}
    for bad in ({"gpus_per_unit": -1}, {"gpus_per_unit": 1.5}, {"gpus_per_unit": {"train": 1}},
                {"max_retries": -1}, {"threads": 0}, {"bogus": 1}, {"worker_setup": 3}):
        with pytest.raises(ConfigError):
            check_options(**bad)


def test_experiment_job_validates_its_executor(monkeypatch):
    from unlearn_core.jobs.registry import get_job_kind

    check = get_job_kind("experiment").check
    spec = small_spec().to_dict()
    check({"spec": spec})
    with pytest.raises(ConfigError, match="Unknown executor"):
        check({"spec": spec, "executor": "dask"})
    with pytest.raises(ConfigError, match="only apply"):
        check({"spec": spec, "ray_address": "auto"})
    import unlearn_core.cluster.options as cluster_options  # where require_ray looks it up

    monkeypatch.setattr(cluster_options, "ray_available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[cluster\]'"):
        check({"spec": spec, "executor": "ray"})
    from unlearn_core.grid import make_executor

    with pytest.raises(ConfigError, match="not installed"):
        make_executor("ray")
    monkeypatch.undo()
    if RAY:
        check({"spec": spec, "executor": "ray", "ray_address": "ray://head:10001",
               "executor_options": {"gpus_per_unit": 0.25, "max_retries": 1}})
        with pytest.raises(ConfigError, match="not one of"):
            check({"spec": spec, "executor": "ray", "ray_address": "http://head"})
        with pytest.raises(ConfigError):
            check({"spec": spec, "executor": "ray", "executor_options": {"gpus_per_unit": "all"}})
    assert experiment_executor({"executor": "local"}) == {"name": "local"}


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ray_cluster():
    """A fresh local Ray cluster on this machine for the module (shut down at the end)."""
    if not RAY:
        pytest.skip("Ray is not importable (pip install -e '.[cluster]')")
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()
    assert not unit_processes()


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    """The small grid run by the local executor: (store, result frame)."""
    store = Store(tmp_path_factory.mktemp("local"))
    return store, run_experiment(small_spec(), store)


@pytest.fixture(scope="module")
def ray_result(ray_cluster, local_reference, tmp_path_factory):
    """The same grid through the Ray executor: (store, frame, executor, log lines)."""
    from unlearn_core.cluster import RayExecutor

    store = Store(tmp_path_factory.mktemp("ray"))
    ex = RayExecutor()
    log: list[str] = []
    progress: list[tuple[float, str]] = []
    ctx = RunContext(on_progress=lambda f, m: progress.append((f, m)), on_log=log.append)
    df = run_experiment(small_spec(), store, ctx, executor=ex)
    return store, df, ex, log, progress


def seeded_store(folder: Path, ref_store: Store) -> Store:
    """A store holding the reference's θ_o and forget sets (so only the unlearning runs are left to compute:
    they get those from the driver's store as bundles)."""
    store = Store(folder)
    keep = [r["key"] for r in ref_store.list_runs(status="done") if r["kind"] in ("original", "forget_set")]
    store.import_runs(ref_store.export_runs(keep))
    return store


def assert_same_rows(df, ref) -> None:
    a = df.sort_values(["selector", "method"]).reset_index(drop=True)
    b = ref.sort_values(["selector", "method"]).reset_index(drop=True)
    assert list(a["key"]) == list(b["key"])
    for col in METRICS:
        assert list(a[col]) == list(b[col]), col  # bit-identical, not approximately equal


# ---------------------------------------------------------------------------------------------- Ray
# (The tests that kill workers come last: Ray replaces a killed worker with a fresh, cold process.)
@needs_ray
def test_ray_grid_is_identical_to_local(ray_result, local_reference):
    store, df, ex, log, progress = ray_result
    ref_store, ref = local_reference
    assert len(df) == 10 and len(ex.submitted) == len(plan(small_spec())) == 14
    assert_same_rows(df, ref)
    # Every run the local grid left in its store (θ_o and its predictions, scores, forget sets, unlearning runs)
    # is in the driver's store under the same key with the same artifact bytes; nothing else, nothing running.
    assert done_runs(store) == done_runs(ref_store)
    assert not store.list_runs(status="running")
    assert {r["kind"] for r in store.list_runs()} == {"original", "learning_events", "predictions", "score", "forget_set",
                                                         "unlearn"}
    # Progress went from 0 to 1 through the RunContext with the units' own stages; every unit logged its worker.
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("units" in m and "running" in m for _, m in progress)
    assert sum(line.startswith("done ") for line in log) == 14
    assert all(t["device"] == "cpu" and t["end"] >= t["start"] for t in ex.timeline)
    assert df.attrs["executor"].startswith("ray (") and df.attrs["stage_seconds"]


@needs_ray
def test_cached_units_are_not_recomputed_and_existing_runs_travel(ray_result, local_reference):
    from unlearn_core.cluster import RayExecutor

    store, first, _, _, _ = ray_result
    # Everything cached: nothing is sent to Ray.
    ex = RayExecutor()
    again = run_experiment(small_spec(), store, executor=ex)
    assert ex.submitted == [] and list(again["key"]) == list(first["key"])
    # Delete the GA runs: only those two units run, on workers that get θ_o and the forget sets (incl. the BLO
    # score) from the driver's store as bundles; the results are the same as before.
    ga = {k for k, r in zip(first["key"], first["method"]) if r == "ga"}
    for k in ga:
        store.delete_run(k)
    ex = RayExecutor()
    redone = run_experiment(small_spec(), store, executor=ex)
    assert sorted(ex.submitted) == ["run/ga/random/0.1/0", "run/ga/worst/0.1/0"]
    # A corrupt θ_o that a unit to compute needs is not shipped: it is recomputed (same bytes) and replaced.
    original = store.list_runs(kind="original", status="done")[0]
    (store.root / original["artifacts"]["main"]["file"]).write_bytes(b"truncated")
    for k in ga:
        store.delete_run(k)
    ex = RayExecutor()
    redone = run_experiment(small_spec(), store, executor=ex)
    assert sorted(ex.submitted) == ["original/0", "run/ga/random/0.1/0", "run/ga/worst/0.1/0"]
    assert store.export_runs([original["key"]])["runs"]  # intact again
    assert_same_rows(redone, local_reference[1])
    assert done_runs(store) == done_runs(local_reference[0])


@needs_ray
def test_cli_and_job_kind_use_the_ray_executor(ray_result, capsys):
    from unlearn_core.cli import main
    from unlearn_core.jobs.registry import execute_job

    store, first, _, _, _ = ray_result
    rc = main(["compare", "--executor", "ray", "--ray-address", "auto", "--cache-dir", str(store.root),
               "--epochs", "3", "--blo", '{"upper_iters": 2, "K": 1}', "--seeds", "1", "--selectors", "random,worst", "--device", "cpu", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "10 runs" in out and "everything was served from the cache" in out
    res = execute_job("experiment", {"spec": small_spec().to_dict(), "executor": "ray",
                                     "executor_options": {"max_retries": 1}}, store, RunContext())
    assert res["n_runs"] == 10 and sorted(res["run_keys"]) == sorted(first["key"])
    assert res["executor"].startswith("ray")


@needs_ray
def test_resource_requests_by_stage_and_model_and_infeasible_ones_are_refused(ray_cluster, tmp_path):
    from unlearn_core.cluster import RayExecutor

    units = {u.stage: u for u in plan(small_spec())}
    cpu, auto = Setup(device="cpu"), Setup(device="auto")
    ex = RayExecutor()
    assert ex.resources_for(units["run"], cpu, "resnet18", 4) == {"num_cpus": 1, "num_gpus": 0}
    assert ex.resources_for(units["run"], auto, "resnet18", 4) == {"num_cpus": 1, "num_gpus": 0.25}
    assert ex.resources_for(units["run"], auto, "mlp", 0) == {"num_cpus": 1, "num_gpus": 0}  # no GPU: CPU
    assert ex.resources_for(units["run"], auto, "some_big_net", 4)["num_gpus"] == 1
    ex = RayExecutor(gpus_per_unit={"run": 0.25, "default": 0.5}, cpus_per_unit={"forget_set": 0.5})
    assert ex.resources_for(units["run"], cpu, "mlp", 4) == {"num_cpus": 1, "num_gpus": 0.25}
    assert ex.resources_for(units["forget_set"], cpu, "mlp", 4) == {"num_cpus": 0.5, "num_gpus": 0.5}
    # This cluster has 2 CPUs and no GPU: a request it can never satisfy is refused before anything runs.
    for i, bad in enumerate(({"gpus_per_unit": 0.5}, {"cpus_per_unit": 4})):
        with pytest.raises(ConfigError, match="No node of the Ray cluster can run"):
            run_experiment(small_spec(), Store(tmp_path / str(i)), executor=RayExecutor(**bad))
    with pytest.raises(ConfigError, match="has no GPUs"):
        run_experiment(ExperimentSpec(setup=SETUP.replace(device="cuda"), seeds=[0]), Store(tmp_path / "cuda"),
                       executor=RayExecutor())


@needs_ray
def test_unit_failing_every_attempt_is_recorded_as_failed(ray_cluster, local_reference, tmp_path):
    from unlearn_core.cluster import RayExecutor

    spec = small_spec(selectors=["random"], methods=["retrain", "ft"])
    target = "run/ft/random/0.1/0"
    store = seeded_store(tmp_path / "cache", local_reference[0])
    log: list[str] = []
    ex = RayExecutor(worker_setup=failing_hook(str(tmp_path), target), max_retries=1)
    with pytest.raises(GridUnitsFailed, match="simulated worker failure") as info:
        run_experiment(spec, store, RunContext(on_log=log.append), executor=ex)
    assert info.value.failures[0][0] == "ft · random @ 0.1 · seed 0"
    assert len((tmp_path / "attempts").read_text().split()) == 2  # first try + max_retries=1
    failed = store.list_runs(kind="unlearn", status="failed")
    assert len(failed) == 1 and failed[0]["config"]["method"] == "ft"
    assert "RuntimeError: simulated worker failure" in failed[0]["error"]
    assert any(line.startswith("FAILED ft · random @ 0.1 · seed 0 after 2 attempts") for line in log)
    # The independent units finished and are in the store; nothing is left running.
    assert [r["config"]["method"] for r in store.list_runs(kind="unlearn", status="done")] == ["retrain"]
    assert not store.list_runs(status="running")
    # A rerun without the failure computes only the failed unit and replaces the failed row.
    ex = RayExecutor()
    df = run_experiment(spec, store, executor=ex)
    assert ex.submitted == [target] and len(df) == 2 and not store.list_runs(status="failed")


@needs_ray
def test_dependents_of_a_failed_unit_are_skipped_and_independent_units_finish(ray_cluster, tmp_path):
    from unlearn_core.cluster import RayExecutor

    spec = small_spec(selectors=["random"], methods=["retrain", "ft"])  # ft needs θ_o; Retrain does not
    store = Store(tmp_path / "cache")
    log: list[str] = []
    ex = RayExecutor(worker_setup=failing_hook(str(tmp_path), "original/0"), max_retries=0)
    with pytest.raises(GridUnitsFailed, match="1 of 4 units failed; 1 units that depend on them were skipped"):
        run_experiment(spec, store, RunContext(on_log=log.append), executor=ex)
    assert len((tmp_path / "attempts").read_text().split()) == 1  # max_retries=0: no retry
    assert [r["kind"] for r in store.list_runs(status="failed")] == ["original"]
    assert any(line.startswith("skipped ft · random") for line in log)
    assert [r["config"]["method"] for r in store.list_runs(kind="unlearn")] == ["retrain"]
    assert not store.list_runs(status="running")


@needs_ray
def test_killed_worker_is_retried_and_the_grid_completes_identically(ray_cluster, local_reference, tmp_path):
    from unlearn_core.cluster import RayExecutor

    spec = small_spec(selectors=["random"], methods=["retrain", "ft"])
    target = "run/ft/random/0.1/0"
    store = seeded_store(tmp_path / "cache", local_reference[0])
    ex = RayExecutor(worker_setup=blocking_hook(str(tmp_path), unit_id=target), max_retries=2)
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("df", run_experiment(spec, store, executor=ex)))
    t.start()
    pid_file = tmp_path / (target.replace("/", "_") + ".pid")
    wait_for(pid_file.exists, 120, "the unit to start")
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGKILL)  # the worker process dies mid-unit
    t.join(180)
    assert not t.is_alive() and "df" in box
    attempts = ex.attempts[target]
    assert len(attempts) == 2 and attempts[0]["pid"] == pid and attempts[1]["pid"] != pid
    assert not pid_alive(pid)
    ref = local_reference[1]
    assert_same_rows(box["df"], ref[(ref["selector"] == "random") & ref["method"].isin(["retrain", "ft"])])
    assert sorted(ex.submitted) == ["run/ft/random/0.1/0", "run/retrain/random/0.1/0"]
    assert not store.list_runs(status="running") and not store.list_runs(status="failed")


@needs_ray
@pytest.mark.parametrize("how", ["cancel_event", "ctrl_c"])
def test_cancel_stops_every_unit_and_leaves_no_partial_result(ray_cluster, tmp_path, how):
    from unlearn_core.cluster import RayExecutor

    spec = small_spec(selectors=["random"], methods=["retrain", "ft", "ga"])
    store = Store(tmp_path / "cache")
    ex = RayExecutor(worker_setup=blocking_hook(str(tmp_path), stage="run", first_only=False))
    cancel = threading.Event()
    started = lambda: sorted(tmp_path.glob("*.pid"))  # noqa: E731

    trigger_log: list[str] = []  # what the trigger thread did, so a failure says why (it once passed silently by)

    def trigger() -> None:  # once the forget set is in the store and a run unit is computing
        try:
            wait_for(lambda: started() and store.list_runs(kind="forget_set", status="done"), 120, "a run unit")
            time.sleep(0.3)
        except BaseException as e:  # still stop the grid: the test must fail with this, not wait out the hooks
            trigger_log.append(f"trigger failed after {time.time() - t0:.1f}s: {e!r}")
        trigger_log.append(f"{how} at {time.time() - t0:.1f}s")
        cancel.set() if how == "cancel_event" else _thread.interrupt_main()
        main = sys._current_frames().get(threading.main_thread().ident)
        trigger_log.append("main thread then:\n" + "".join(traceback.format_stack(main)[-6:]) if main else "")

    t0 = time.time()
    threading.Thread(target=trigger, daemon=True).start()
    try:
        with pytest.raises(CancelledError if how == "cancel_event" else KeyboardInterrupt):
            run_experiment(spec, store, RunContext(cancel_event=cancel), executor=ex)
    except pytest.fail.Exception as e:  # DID NOT RAISE: say what the trigger saw
        pytest.fail(f"{e}; after {time.time() - t0:.1f}s; trigger: {trigger_log}")
    took = time.time() - t0
    assert not any("trigger failed" in line for line in trigger_log), trigger_log
    # No unit is left running: the blocked workers were killed, no Ray task process remains.
    pids = [int(p.read_text()) for p in started()]
    assert pids and not any(pid_alive(p) for p in pids)
    assert not unit_processes()
    # Nothing half-written: no running rows, no unlearning run, and every finished run has intact artifacts.
    assert not store.list_runs(status="running")
    assert not store.list_runs(kind="unlearn")
    done = list(done_runs(store))
    assert done and len(store.export_runs(done)["runs"]) == len(done)  # export re-verifies every checksum
    # The killed workers' unit folders (their local stores) were removed too.
    workers = {a["pid"] for attempts in ex.attempts.values() for a in attempts}
    assert not [d for d in (Path(tempfile.gettempdir()) / "forgetset-ray").glob("unit-*")
                if any(f"-{p}-" in d.name for p in workers)]
    assert took < 120


@needs_ray
def test_ctrl_c_that_ray_wait_swallows_still_stops_the_grid(ray_cluster, tmp_path, monkeypatch):
    """Ray's ``ray.wait`` checks signals in its C++ wait and can drop the KeyboardInterrupt (seen in the full suite:
    the grid then ran to the end). Here a ``ray.wait`` that swallows the interrupt it receives: the driver's own
    Ctrl-C latch must still stop the grid, and leave the SIGINT handler as it found it."""
    from unlearn_core.cluster import RayExecutor

    real_wait = ray_cluster.wait
    sent: list[float] = []

    def swallowing_wait(*args, **kwargs):
        if not sent:
            sent.append(time.time())
            try:
                signal.raise_signal(signal.SIGINT)  # what a user's Ctrl-C does, inside Ray's wait
            except KeyboardInterrupt:
                pass  # ... and Ray drops it
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(ray_cluster, "wait", swallowing_wait)
    before = signal.getsignal(signal.SIGINT)
    store = Store(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        run_experiment(small_spec(selectors=["random"], methods=["retrain", "ft"]), store, executor=RayExecutor())
    assert sent and signal.getsignal(signal.SIGINT) is before
    assert not store.list_runs(status="running") and not store.list_runs(kind="unlearn")


@needs_ray
def test_model_bank_units_on_ray_equal_a_local_run(ray_cluster, tmp_path):
    """Bank units (banks.py) run as Ray tasks: their members land in the driver's store and the bank metrics equal
    the local executor's."""
    from unlearn_core.cluster import RayExecutor

    def spec() -> ExperimentSpec:
        return ExperimentSpec(setup=SETUP, selectors=["random"], methods=["retrain", "ga"], seeds=[0], eval_models=4)

    local_store, ray_store = Store(tmp_path / "local"), Store(tmp_path / "ray")
    a = run_experiment(spec(), local_store).set_index("method")
    b = run_experiment(spec(), ray_store, executor=RayExecutor()).set_index("method")
    assert set(a.index) == set(b.index) == {"retrain", "ga", "original", "original_seeds"}
    for col in ("forget_quality", "score", "klom_forget_p95", "klom_retain_p95", "klom_test_p95", "n_models"):
        assert np.allclose(a.loc[sorted(a.index), col], b.loc[sorted(a.index), col]), col
    assert len(ray_store.list_runs("bank_member", "done")) == len(local_store.list_runs("bank_member", "done")) == 16
