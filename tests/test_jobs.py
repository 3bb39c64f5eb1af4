"""Job manager lifecycle: submit, progress, cancel, failure, resource bounds, persistence and restart recovery."""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from unlearn_core.errors import ConfigError, ForgetsetError
from unlearn_core.jobs import JobManager, register_job_kind
from unlearn_core.store import Store

RELEASE = threading.Event()  # lets the "_t_block" jobs finish


@register_job_kind("_t_steps", replace=True)
def _steps(config, env):
    n = int(config.get("n", 20))
    for i in range(n):
        env.ctx.progress(i / n, f"step {i + 1}/{n}")
        time.sleep(float(config.get("sleep", 0.05)))
    env.ctx.log("all steps done")
    return {"n": n, "device": env.device}


@register_job_kind("_t_forever", replace=True)
def _forever(config, env):
    t0 = time.time()
    while time.time() - t0 < 60:
        env.ctx.progress(0.5, "spinning")  # raises CancelledError once the job is cancelled
        time.sleep(0.05)
    return {}


@register_job_kind("_t_block", replace=True)
def _block(config, env):
    env.ctx.progress(0.1, "waiting for release")
    RELEASE.wait(30)
    return {"released": True}


@register_job_kind("_t_fail", replace=True)
def _fail(config, env):
    env.ctx.progress(0.2, "about to fail")
    if config.get("user"):
        raise ForgetsetError("The forget ratio 1.5 is out of range (a clear, user-facing message).")
    raise RuntimeError("boom")


def _check_positive(config):
    if config.get("x", 1) <= 0:
        raise ConfigError("x must be positive")


register_job_kind("_t_checked", check=_check_positive, replace=True)(lambda config, env: {"x": config.get("x", 1)})


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "cache")


@pytest.fixture
def mgr(store):
    m = JobManager(store, max_cpu_workers=1, gpu_ids=[], persist_interval=0.2)
    yield m
    RELEASE.set()
    m.shutdown(wait=True, timeout=10)
    RELEASE.clear()


def _wait_for(pred, timeout=10.0, poll=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(poll)
    raise AssertionError("condition not reached in time")


def test_submit_progress_done_and_persisted(mgr, store):
    jid = mgr.submit("_t_steps", {"n": 20, "sleep": 0.05})
    seen = _wait_for(lambda: (j := mgr.get(jid)) and 0 < j["progress"] < 1 and j["status"] == "running" and j)
    assert seen["message"].startswith("step")
    job = mgr.wait(jid, timeout=30)
    assert job["status"] == "done" and job["progress"] == 1.0
    assert job["result"] == {"n": 20, "device": "cpu"}
    assert any("all steps done" in line for line in job["log"])
    assert any("step 10/20" in line for line in job["log"])
    # the record is in the store's database, readable by a fresh manager (another tab / a restarted server)
    other = JobManager(store, gpu_ids=[])
    row = other.get(jid)
    assert row["status"] == "done" and row["result"]["n"] == 20 and row["kind"] == "_t_steps"
    assert row["started"] and row["finished"] >= row["started"]
    exported = mgr.export(jid)
    assert exported["config"] == {"n": 20, "sleep": 0.05} and exported["log"]
    json.dumps(exported)


def test_cancel_running_takes_effect_quickly(mgr):
    jid = mgr.submit("_t_forever")
    _wait_for(lambda: mgr.get(jid)["status"] == "running")
    t0 = time.time()
    assert mgr.cancel(jid)
    job = mgr.wait(jid, timeout=5)
    assert job["status"] == "cancelled"
    assert time.time() - t0 < 3


def test_cancel_queued_job_and_cpu_bound(mgr):
    a = mgr.submit("_t_block")
    b = mgr.submit("_t_steps", {"n": 2})
    _wait_for(lambda: mgr.get(a)["status"] == "running")
    time.sleep(0.2)
    assert mgr.get(b)["status"] == "queued"  # one CPU slot: b waits for a
    assert mgr.cancel(b)
    assert mgr.get(b)["status"] == "cancelled"
    c = mgr.submit("_t_steps", {"n": 2})
    RELEASE.set()
    assert mgr.wait(a, 10)["status"] == "done"
    assert mgr.wait(c, 10)["status"] == "done"
    assert mgr.get(b)["status"] == "cancelled" and mgr.get(b)["started"] is None


def test_gpu_slots_one_training_job_per_gpu(store):
    m = JobManager(store, max_cpu_workers=1, gpu_ids=[0], persist_interval=0.2)
    try:
        g1 = m.submit("_t_block", {"setup": {"device": "auto"}})
        g2 = m.submit("_t_block", {"setup": {"device": "auto"}})
        c1 = m.submit("_t_steps", {"n": 2, "setup": {"device": "cpu"}})
        _wait_for(lambda: m.get(g1)["status"] == "running")
        assert m.get(g1)["slot"] == "cuda:0" and m.get(g1)["resource"] == "gpu"
        assert m.wait(c1, 10)["status"] == "done"  # the CPU job is not stuck behind the busy GPU
        assert m.get(c1)["result"]["device"] == "cpu"
        assert m.get(g2)["status"] == "queued"
        RELEASE.set()
        assert m.wait(g2, 10)["status"] == "done" and m.get(g2)["slot"] == "cuda:0"
    finally:
        RELEASE.set()
        m.shutdown(wait=True)
        RELEASE.clear()


def test_failures_end_as_failed_with_message_and_manager_keeps_working(mgr):
    j1 = mgr.submit("_t_fail", {"user": True})
    job = mgr.wait(j1, 10)
    assert job["status"] == "failed"
    assert job["error"] == "The forget ratio 1.5 is out of range (a clear, user-facing message)."
    j2 = mgr.submit("_t_fail")
    job = mgr.wait(j2, 10)
    assert job["status"] == "failed" and job["error"] == "RuntimeError: boom"
    assert any("Traceback" in line for line in job["log"])
    assert mgr.wait(mgr.submit("_t_steps", {"n": 2}), 10)["status"] == "done"


def test_bad_input_is_refused_at_submit(mgr):
    with pytest.raises(ConfigError, match="x must be positive"):
        mgr.submit("_t_checked", {"x": -1})
    with pytest.raises(ConfigError, match="Unknown job kind"):
        mgr.submit("no_such_kind", {})
    with pytest.raises(ForgetsetError, match="at least one unlearning method"):
        mgr.submit("experiment", {"spec": {"methods": [], "seeds": [0]}})
    with pytest.raises(ForgetsetError, match="strictly between 0 and 1"):
        mgr.submit("experiment", {"spec": {"methods": ["ft"], "ratios": [1.5], "seeds": [0]}})
    with pytest.raises(ForgetsetError, match="Unknown selector"):
        mgr.submit("forget_set", {"selector": "nonsense", "ratio": 0.1})
    assert mgr.list_jobs() == []


def test_real_divergence_fails_with_clear_message(mgr, store):
    jid = mgr.submit("train_original", {"setup": {"train": {"epochs": 3, "lr": 1e5}}, "seed": 0})
    job = mgr.wait(jid, 60)
    assert job["status"] == "failed"
    assert "diverged" in job["error"] and "Lower the learning rate" in job["error"]
    assert store.list_runs("original", "failed")  # the core recorded it too; nothing 'done' was written


def test_real_training_job_cancels_within_seconds(mgr, store):
    jid = mgr.submit("train_original", {"setup": {"train": {"epochs": 1000}}, "seed": 0})
    _wait_for(lambda: mgr.get(jid)["progress"] > 0, timeout=60)
    t0 = time.time()
    mgr.cancel(jid)
    job = mgr.wait(jid, timeout=10)
    assert job["status"] == "cancelled"
    assert time.time() - t0 < 5
    assert [r["status"] for r in store.list_runs("original")] == ["cancelled"]


def test_core_job_kinds_end_to_end(mgr, store):
    setup = {"train": {"epochs": 3}}
    j_train = mgr.submit("train_original", {"setup": setup, "seed": 0})
    j_score = mgr.submit("score", {"setup": setup, "score": "loss", "seed": 0})
    j_set = mgr.submit("forget_set", {"setup": setup, "selector": "top:loss", "ratio": 0.1, "seed": 0})
    j_exp = mgr.submit("experiment", {"spec": {"methods": ["ft"], "selectors": ["random"], "ratios": [0.1],
                                               "seeds": [0], "setup": setup}})
    for j in (j_train, j_score, j_set, j_exp):
        job = mgr.wait(j, 120)
        assert job["status"] == "done", job["error"]
    assert mgr.get(j_train)["result"]["test_acc"] > 50
    assert mgr.get(j_set)["result"]["size"] == round(0.1 * 1437)
    assert mgr.get(j_exp)["result"]["n_runs"] == 2  # FT + Retrain
    assert len(store.list_runs("unlearn", "done")) == 2


def test_restart_recovery_marks_interrupted_and_rerun_works(store):
    m1 = JobManager(store, gpu_ids=[], persist_interval=0.2)
    jid = m1.submit("_t_block", {"tag": "left running"})
    _wait_for(lambda: m1.get(jid)["status"] == "running")
    with store.connect() as con:  # a core run left 'running' by a process that died
        con.execute("INSERT INTO runs(key, kind, status, config, created, owner) VALUES ('fake-run-key', 'unlearn', "
                    "'running', '{}', ?, ?)", (time.time(), f"{socket.gethostname()}:999999999"))
    # a fresh manager on the same store = the server restarted (m1's thread is treated as dead)
    m2 = JobManager(store, gpu_ids=[], persist_interval=0.2)
    assert m2.recovered == 1
    job = m2.get(jid)
    assert job["status"] == "interrupted" and "Re-run" in job["error"]
    assert store.get_run("fake-run-key")["status"] == "interrupted"
    RELEASE.set()  # the old thread now ends; its late write must not resurrect the record
    time.sleep(0.5)
    assert m2.get(jid)["status"] == "interrupted"
    new = m2.rerun(jid)
    done = m2.wait(new, 10)
    assert done["status"] == "done" and done["rerun_of"] == jid and done["config"] == {"tag": "left running"}
    assert done["result"] == {"released": True}
    m2.delete(jid)
    assert m2.get(jid) is None and m2.get(new) is not None
    m1.shutdown(wait=True)
    m2.shutdown(wait=True)
    RELEASE.clear()


def test_job_of_dead_process_is_interrupted_and_live_other_process_is_left_alone(store):
    JobManager(store, gpu_ids=[])  # creates the table
    host = socket.gethostname()
    with store.connect() as con:
        for jid, owner in [("dead", f"{host}:999999999:x"), ("alive", f"{host}:1:y")]:  # pid 1 is alive
            con.execute("INSERT INTO jobs(id, kind, config, status, owner, created) VALUES (?, '_t_steps', '{}', "
                        "'running', ?, ?)", (jid, owner, time.time()))
    m = JobManager(store, gpu_ids=[])
    assert m.get("dead")["status"] == "interrupted"
    assert m.get("alive")["status"] == "running"
    assert m.cancel("alive")  # cross-process: sets the flag that the owning server polls
    with store.connect() as con:
        assert con.execute("SELECT cancel_requested FROM jobs WHERE id='alive'").fetchone()[0] == 1


def test_shared_manager_is_one_per_store_root(store):
    a = JobManager.shared(store)
    b = JobManager.shared(Store(store.root))
    assert a is b
    with pytest.raises(ConfigError, match="still queued or running|No job"):
        a.rerun("missing")


def _grid_metrics(store) -> dict:
    cols = ("UA", "RA", "TA", "MIA", "MIA_confidence")
    return {(r["config"]["method"], r["config"]["selector"], r["config"]["seed"]): tuple(r["metrics"][c] for c in cols)
            for r in store.list_runs("unlearn", "done")}


def test_two_concurrent_jobs_are_bit_identical_to_each_alone(tmp_path):
    """Explicit generators + seeded init under a lock: two workers in one process give the same numbers as one.

    The two grids overlap (θ_o of seed 0 and its BLO): one job waits for the other's claim instead of computing
    it twice.
    """
    setup = {"train": {"epochs": 3}, "blo": {"upper_iters": 2, "K": 1}}
    a = {"spec": {"setup": setup, "methods": ["ft", "rl"], "selectors": ["random", "worst"], "ratios": [0.1],
                  "seeds": [0]}}
    b = {"spec": {"setup": setup, "methods": ["ga", "l1_sparse"], "selectors": ["worst"], "ratios": [0.1],
                  "seeds": [0, 1]}}
    alone = {}
    for name, cfg in (("a", a), ("b", b)):
        store = Store(tmp_path / f"alone_{name}")
        m = JobManager(store, max_cpu_workers=1, gpu_ids=[])
        assert m.wait(m.submit("experiment", cfg), 300)["status"] == "done"
        m.shutdown(wait=True)
        alone.update(_grid_metrics(store))
    store = Store(tmp_path / "together")
    m = JobManager(store, max_cpu_workers=2, gpu_ids=[])
    ja, jb = m.submit("experiment", a), m.submit("experiment", b)
    _wait_for(lambda: m.get(ja)["status"] == "running" and m.get(jb)["status"] == "running", timeout=30)
    for j in (ja, jb):
        assert m.wait(j, 300)["status"] == "done"
    m.shutdown(wait=True)
    together = _grid_metrics(store)
    # a: 3 methods (with Retrain) x 2 sets; b: 3 x 2 seeds; Retrain on the worst set of seed 0 is shared
    assert together.keys() == alone.keys() and len(together) == 6 + 6 - 1
    assert together == alone  # bit-identical floats
    assert len(store.list_runs("original", "done")) == 2  # θ_o of seed 0 computed once, not twice


def test_parallel_worker_processes_give_the_sequential_numbers(tmp_path):
    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, LocalExecutor, ProcessExecutor, run_experiment

    spec = ExperimentSpec(setup=Setup(train={"epochs": 3}, blo={"upper_iters": 2, "K": 1}),
                          methods=["retrain", "ft"], selectors=["random", "worst"], seeds=[0, 1])
    seq = run_experiment(spec, Store(tmp_path / "seq"), executor=LocalExecutor())
    par = run_experiment(spec, Store(tmp_path / "par"), executor=ProcessExecutor(2))
    cols = ["method", "selector", "seed", "UA", "RA", "TA", "MIA", "MIA_confidence"]
    assert seq[cols].equals(par[cols])  # bit-identical, same order


def test_stacked_training_of_originals_and_retrains_matches_one_at_a_time(tmp_path):
    """Forced stacking (what a GPU chooses) gives the same models as one at a time, within float tolerance."""
    import numpy as np

    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, LocalExecutor, run_experiment

    spec = ExperimentSpec(setup=Setup(train={"epochs": 4}), methods=["retrain", "ft"], selectors=["random"],
                          ratios=[0.1, 0.2], seeds=[0, 1])
    one = run_experiment(spec, Store(tmp_path / "one"), executor=LocalExecutor(batch_models="off"))
    stacked_store = Store(tmp_path / "stacked")
    stacked = run_experiment(spec, stacked_store, executor=LocalExecutor(batch_models="on"))
    assert all(r["metrics"].get("batched") for r in stacked_store.list_runs("original", "done"))
    cols = ["UA", "RA", "TA"]
    assert list(one["method"]) == list(stacked["method"])
    # Summation order changes the float trajectory of an under-trained model a little: a few samples' predictions.
    diff = np.abs(stacked[cols].to_numpy() - one[cols].to_numpy())
    assert diff.mean() < 0.75 and diff.max() < 3.0, diff


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc")
def test_worker_processes_exit_when_the_compare_driving_them_is_killed(tmp_path):
    """kill -9 of a `compare --workers 2` must not leave its worker processes computing for nobody."""
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "unlearn_core", "compare", "--workers", "2", "--seeds", "2",
                             "--epochs", "30", "--cache-dir", str(tmp_path), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, kids = time.time() + 120, []
    while time.time() < deadline and len(kids) < 2 and proc.poll() is None:
        time.sleep(0.2)
        kids = _children(proc.pid)
    assert len(kids) >= 2, "the workers never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    def alive() -> list[int]:
        out = []
        for k in kids:
            try:
                if "\nState:\tZ" not in Path(f"/proc/{k}/status").read_text():
                    out.append(k)
            except OSError:
                continue
        return out

    deadline = time.time() + 15
    while time.time() < deadline and alive():
        time.sleep(0.2)
    assert not alive(), f"workers {alive()} outlived their driver"


def test_auto_batching_never_stacks_on_a_cpu(tmp_path, monkeypatch):
    """batch_models="auto" on a CPU trains one model at a time even where a timing would favour stacking: the
    stored θ_o must not depend on the machine's load (stacked = sequential only to float tolerance)."""
    import unlearn_core.grid_executors as training  # where the executor looks the measurement up
    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, LocalExecutor, run_experiment

    monkeypatch.setattr(training, "auto_model_batch", lambda *a, **k: 8)  # "stacking measured 10x faster"
    spec = ExperimentSpec(setup=Setup(train={"epochs": 2}, device="cpu"), methods=["retrain"], selectors=["random"],
                          seeds=[0, 1])
    store = Store(tmp_path)
    run_experiment(spec, store, executor=LocalExecutor(batch_models="auto"))
    assert not any(r["metrics"].get("batched") for r in store.list_runs("original", "done"))


def test_job_kinds_are_found_by_discovery_and_registered_by_decorator(tmp_path):
    """The project's kinds register themselves (``@register_job_kind`` in the modules of unlearn_core/jobs, imported
    by discovery); a new kind is one decorated function."""
    from unlearn_core.context import NULL_CONTEXT
    from unlearn_core.jobs import registry
    from unlearn_core.store import Store

    assert {"train_original", "score", "forget_set", "experiment", "tune", "teaching_demo", "view_why_hard"} <= set(
        registry.JOB_KINDS)

    @registry.register_job_kind("throwaway_kind", resource="cpu", check=lambda c: None)
    def throwaway(config, env):
        return {"echo": config["x"]}

    try:
        assert not registry.get_job_kind("throwaway_kind").uses_device
        assert registry.execute_job("throwaway_kind", {"x": 3}, Store(tmp_path), NULL_CONTEXT) == {"echo": 3}
        with pytest.raises(ValueError, match="twice"):
            registry.register_job_kind("throwaway_kind")(throwaway)
    finally:
        registry.JOB_KINDS.pop("throwaway_kind", None)
