"""The cache never serves a wrong or stale result: imported θ_o, damaged weights, forget sets, rows and pages,
duplicate jobs."""
from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest
import torch

from unlearn_core.config import config_key
from unlearn_core.errors import ConfigError
from unlearn_core.grid import ExperimentSpec, run_experiment
from unlearn_core.config import Setup
from unlearn_core.models import build_model
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store, save_state_dict

SETUP = dict(dataset="digits", model="mlp", device="cpu", train={"epochs": 3})


def _pipe(root) -> Pipeline:
    return Pipeline(Store(root), **SETUP)


def test_importing_a_checkpoint_changes_every_derived_key(tmp_path):
    """θ_o replaced by an import: scores, forget sets and runs derived from it are recomputed by the next compare;
    results that do not depend on θ_o (random forget set, Retrain) are reused."""
    store = Store(tmp_path / "cache")
    spec = ExperimentSpec(setup=Setup(**SETUP), selectors=["random", "bottom:loss"], methods=["ft"],
                          ratios=[0.1], seeds=[0], method_params={"ft": {"epochs": 1}})
    first = run_experiment(spec, store)
    pipe = Pipeline(store, **SETUP)
    before = {r["key"]: r for r in store.list_runs(status="done")}
    ckpt = tmp_path / "other.pt"
    torch.manual_seed(123)
    torch.save(build_model("mlp", pipe.ds.input_shape, pipe.ds.num_classes).state_dict(), ckpt)
    with pytest.raises(ConfigError, match="--confirm-dataset digits"):
        pipe.import_checkpoint(str(ckpt), 0)
    pipe.import_checkpoint(str(ckpt), 0, confirm_dataset="digits")
    second = run_experiment(spec, store)
    assert second.attrs["stage_seconds"]  # something was recomputed
    k1 = first.set_index(["method", "selector"])["key"]
    k2 = second.set_index(["method", "selector"])["key"]
    assert k1[("ft", "random")] != k2[("ft", "random")]  # FT starts from θ_o
    assert k1[("ft", "bottom:loss")] != k2[("ft", "bottom:loss")]
    assert k1[("retrain", "random")] == k2[("retrain", "random")]  # Retrain never reads θ_o
    after = {r["key"]: r for r in store.list_runs(status="done")}
    new_scores = [r for k, r in after.items() if r["kind"] == "score" and k not in before]
    assert new_scores and new_scores[0]["config"]["original"] != next(
        r for r in before.values() if r["kind"] == "score")["config"]["original"]
    # the imported weights are what the new runs started from
    assert pipe.find_original(0)["metrics"]["imported"] is True


def test_nan_weights_in_a_cached_original_are_recomputed(tmp_path):
    """A θ_o stored as done with NaN weights (an older release, a damaged disk that kept its checksum) is
    recomputed, not reported as diverged forever."""
    pipe = _pipe(tmp_path)
    good = pipe.original(0)
    state = {k: v.clone() for k, v in good.state_dict().items()}
    state[next(iter(state))][0, 0] = float("nan")
    pipe.store.put("original", pipe.original_config(0), state, fmt="model", replace=True,
                   meta=pipe._checkpoint_meta(), metrics={"train_acc": 0.0, "test_acc": 0.0})
    nan_digest = pipe.store.done_run(pipe.original_key(0))["artifacts"]["main"]["sha256"][:24]
    fresh = _pipe(tmp_path)  # a new process: nothing memoised
    row = fresh.run("ft", "random", 0.1, 0, {"epochs": 1})  # the first thing it touches is a derived result
    assert np.isfinite(row["UA"])
    run = fresh.store.done_run(fresh.original_key(0))
    digest = run["artifacts"]["main"]["sha256"][:24]
    assert digest != nan_digest and run["metrics"]["train_acc"] > 50
    # the run is keyed by the θ_o it started from (the recomputed one), never by the NaN one
    assert fresh.store.get_run(row["key"])["config"]["original"] == digest
    model = fresh.original(0)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not fresh.store.list_runs(status="running")


@pytest.mark.parametrize("damage", ["out_of_range", "bit_flip"])
def test_corrupted_forget_set_indices_are_recomputed(tmp_path, damage):
    pipe = _pipe(tmp_path)
    fs = pipe.forget_set("random", 0.1, 0)
    cfg = pipe.forget_set_config("random", 0.1, 0, {})
    if damage == "out_of_range":  # a consistent artifact (checksum fine) with impossible indices
        bad = fs.forget_idx.copy()
        bad[0] = 10**9
        pipe.store.put("forget_set", cfg, {"forget_idx": bad}, fmt="arrays", replace=True)
    else:
        run = pipe.store.done_run(config_key(cfg))
        path = pipe.store.root / run["artifacts"]["main"]["file"]
        data = bytearray(path.read_bytes())
        data[-5] ^= 0x04
        path.write_bytes(bytes(data))
    fresh = _pipe(tmp_path)
    row = fresh.run("ft", "random", 0.1, 0, {"epochs": 1})
    assert row["forget_size"] == fs.size
    again = fresh.forget_set("random", 0.1, 0)
    assert again.forget_idx.tolist() == fs.forget_idx.tolist()  # recomputed identically
    assert not fresh.store.list_runs(status="running")
    assert {r["status"] for r in fresh.store.list_runs()} == {"done"}


def test_a_damaged_row_is_never_served(tmp_path):
    """A flipped digit in a stored metric (the database has no checksums of its own) is detected by the row's
    checksum: the run is listed as corrupt, left out of results and recomputed to the true value."""
    pipe = _pipe(tmp_path)
    row = pipe.run("ft", "random", 0.1, 0, {"epochs": 1})
    with sqlite3.connect(tmp_path / "forgetset.db") as con:
        text = con.execute("SELECT metrics FROM runs WHERE key=?", (row["key"],)).fetchone()[0]
        tampered = text.replace(f'"UA": {row["UA"]}', f'"UA": {row["UA"] + 7}')
        assert tampered != text
        con.execute("UPDATE runs SET metrics=? WHERE key=?", (tampered, row["key"]))
    store = Store(tmp_path)
    assert store.get_run(row["key"])["status"] == "corrupt"
    assert store.done_run(row["key"]) is None
    assert row["key"] not in {r["key"] for r in store.list_runs("unlearn", "done")}
    again = Pipeline(store, **SETUP).run("ft", "random", 0.1, 0, {"epochs": 1})
    assert again["UA"] == row["UA"] and again["key"] == row["key"]
    assert store.get_run(row["key"])["status"] == "done"


def test_damaged_database_pages_are_moved_aside(tmp_path):
    """quick_check's answer is checked (it reports damaged pages as a row instead of raising): a file with a damaged
    data page is moved aside at open instead of failing every later query."""
    import shutil

    from _bad_inputs import make_good_db

    src = tmp_path / "src"
    make_good_db(src, rows=300)
    data = (src / "forgetset.db").read_bytes()
    page = 4096
    assert len(data) > 45 * page
    for p in (10, 20, 40):  # leaf pages of the runs table (a damaged one opens fine but fails every listing)
        root = tmp_path / f"p{p}"
        shutil.copytree(src, root)
        damaged = bytearray(data)
        damaged[p * page: (p + 1) * page] = b"\xff" * page
        (root / "forgetset.db").write_bytes(bytes(damaged))
        store = Store(root)
        assert store.notices and "moved to" in store.notices[0], p
        assert store.list_runs() == []


def test_cancelled_duplicate_job_never_demotes_a_finished_result(tmp_path):
    """Two identical training jobs: the second waits on the first's claim. Cancelling it while it waits, or after
    the first finished, leaves the first's result done and intact."""
    from unlearn_core.jobs import JobManager

    store = Store(tmp_path / "cache")
    mgr = JobManager(store, max_cpu_workers=2, gpu_ids=[], persist_interval=0.2)
    cfg = {"setup": {"train": {"epochs": 60}, "device": "cpu"}, "seed": 0}
    try:
        a = mgr.submit("train_original", cfg)
        deadline = time.time() + 60
        while not store.list_runs("original", "running") and time.time() < deadline:
            time.sleep(0.05)
        b = mgr.submit("train_original", cfg)
        while mgr.get(b)["status"] != "running" and time.time() < deadline:
            time.sleep(0.05)
        mgr.cancel(b)  # cancelled while waiting for a's claim
        assert mgr.wait(b, 30)["status"] == "cancelled"
        c = mgr.submit("train_original", cfg)  # a third copy, cancelled right after a finished
        assert mgr.wait(a, 120)["status"] == "done"
        mgr.cancel(c)
        assert mgr.wait(c, 30)["status"] in ("cancelled", "done")
    finally:
        mgr.shutdown(wait=True, timeout=30)
    runs = store.list_runs("original")
    assert [r["status"] for r in runs] == ["done"]
    payload, _ = store.decode("model", store.done_run(runs[0]["key"]))  # checksum verified
    assert payload


def test_checkpoint_import_job_refuses_bad_weights(tmp_path):
    """The job kind goes through the same checks as the CLI: NaN weights and metadata-less files are refused."""
    from unlearn_core.jobs import JobManager

    pipe = _pipe(tmp_path / "cache")
    state = {k: v.clone() for k, v in build_model("mlp", pipe.ds.input_shape, pipe.ds.num_classes).state_dict().items()}
    save_state_dict(tmp_path / "plain.safetensors", state, {})
    state[next(iter(state))][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    mgr = JobManager(pipe.store, max_cpu_workers=1, gpu_ids=[], persist_interval=0.2)
    setup = {"train": {"epochs": 3}, "device": "cpu"}
    try:
        j1 = mgr.submit("train_original", {"setup": setup, "checkpoint": str(tmp_path / "nan.pt"),
                                           "confirm_dataset": "digits"})
        j2 = mgr.submit("train_original", {"setup": setup, "checkpoint": str(tmp_path / "plain.safetensors")})
        r1, r2 = mgr.wait(j1, 60), mgr.wait(j2, 60)
        with pytest.raises(ConfigError, match="does not exist"):
            mgr.submit("train_original", {"setup": setup, "checkpoint": str(tmp_path / "missing.pt")})
        with pytest.raises(ConfigError, match="seed"):
            mgr.submit("train_original", {"setup": setup, "seed": -1})
    finally:
        mgr.shutdown(wait=True, timeout=30)
    assert r1["status"] == "failed" and "NaN" in r1["error"]
    assert r2["status"] == "failed" and "--confirm-dataset" in r2["error"]
    assert pipe.store.list_runs("original", "done") == []
