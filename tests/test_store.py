"""The store: atomic writes, claims, checksums, crash safety, corrupt databases, migrations, checkpoint checks."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import torch

from unlearn_core.config import config_key
from unlearn_core.errors import CheckpointError, ConfigError
from unlearn_core.models import build_model
from unlearn_core.store import (Computed, Store, atomic_write_bytes, load_state_into, load_weights_into,
                                read_checkpoint, save_state_dict)


def test_config_key_ignores_order():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "x" / "result.json"

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"{}")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_killed_run_leaves_no_complete_result(tmp_path):
    """SIGKILL a CLI run in the middle of training: no 'done' row and no weights for that run."""
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        from unlearn_core.store import Store
        from unlearn_core.pipeline import Pipeline
        p = Pipeline(Store({str(cache)!r}), dataset="digits", model="mlp", device="cpu", train={{"epochs": 1000}})
        print("started", flush=True)
        p.original(0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    store = Store(cache)
    deadline = time.time() + 60
    while time.time() < deadline and not store.list_runs("original"):
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    runs = store.list_runs("original")
    assert len(runs) == 1 and runs[0]["status"] == "running"
    assert store.list_runs(status="done") == []
    assert not (store.artifact_dir / "original").exists() or not any((store.artifact_dir / "original").iterdir())
    assert store.mark_interrupted() == 1  # its owner process is dead
    assert store.get_run(runs[0]["key"])["status"] == "interrupted"


def _arrays_step(store, config, calls, value=5.0):
    def compute():
        calls.append(1)
        return Computed({"values": np.full(4, value, np.float32)}, {"mean": value})

    return store.cached("score", config, compute, fmt="arrays")


def test_cached_computes_once_and_records_checksums(tmp_path):
    store = Store(tmp_path)
    calls = []
    a = _arrays_step(store, {"x": 1}, calls)
    b = _arrays_step(store, {"x": 1}, calls)
    assert len(calls) == 1 and not a.hit and b.hit
    assert b.value["values"].tolist() == [5.0] * 4
    run = store.done_run(a.key)
    rec = run["artifacts"]["main"]
    assert len(rec["sha256"]) == 64 and rec["bytes"] == (store.root / rec["file"]).stat().st_size
    assert run["metrics"]["mean"] == 5.0 and a.digest == b.digest


def test_content_digests_name_the_arrays_not_their_metadata_or_format(tmp_path):
    """The one content digest (unlearn_core.io): an array artifact's digest ignores the timings stored with it
    (derived keys stay put when a result is recomputed) but not its dtype; a model's weights digest is the same
    after a round trip through the store's safetensors codec."""
    from unlearn_core.io import array_digest, weights_digest
    from unlearn_core.store import run_digest

    store = Store(tmp_path)
    values = {"values": np.arange(6, dtype=np.float32)}
    a = store.cached("score", {"x": "a"}, lambda: Computed(values, meta={"seconds": 0.1}), fmt="arrays")
    b = store.cached("score", {"x": "b"}, lambda: Computed(values, meta={"seconds": 9.9}), fmt="arrays")
    c = store.cached("score", {"x": "c"}, lambda: Computed({"values": values["values"].astype(np.float64)}),
                     fmt="arrays")
    file_sha = [store.done_run(r.key)["artifacts"]["main"]["sha256"] for r in (a, b)]
    assert file_sha[0] != file_sha[1]  # the files differ (their metadata) ...
    assert a.digest == b.digest == run_digest(store.done_run(b.key))  # ... the content digest does not
    assert c.digest != a.digest  # same values, another dtype: other content
    assert array_digest(np.arange(3)) != array_digest(np.arange(3).astype(np.int32))
    model = build_model("mlp", (1, 8, 8), 10)

    def step():
        return store.cached("original", {"x": "m"}, lambda: Computed(model), fmt="model",
                            decode=lambda state, meta: load_state_into(build_model("mlp", (1, 8, 8), 10), state,
                                                                       meta, "m"))

    computed, served = step(), step()
    assert not computed.hit and served.hit and served.value is not model
    assert weights_digest(served.value) == weights_digest(model)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_corrupt_artifact_is_recomputed_not_trusted(tmp_path, damage):
    store = Store(tmp_path)
    calls = []
    first = _arrays_step(store, {"x": 2}, calls)
    path = store.root / first.run["artifacts"]["main"]["file"]
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-3] ^= 0xFF  # one bit flip in the payload
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        path.unlink()
    again = _arrays_step(store, {"x": 2}, calls)
    assert len(calls) == 2 and not again.hit
    assert again.value["values"].tolist() == [5.0] * 4
    assert _arrays_step(store, {"x": 2}, calls).hit  # and intact again afterwards


def test_state_changes_only_under_the_own_claim(tmp_path):
    """A second, cancelled copy of a finished job can never demote the result (rows change only from running)."""
    store = Store(tmp_path)
    calls = []
    done = _arrays_step(store, {"x": 3}, calls)
    stale_token = "not-the-claim"
    assert not store.fail(done.key, stale_token, "CancelledError: cancelled", "cancelled")
    assert store.done_run(done.key) is not None
    assert store.claim(done.key, "score", {"x": 3}) is None  # done: nothing to claim


def test_a_claimed_key_is_waited_for_not_computed_twice(tmp_path):
    store = Store(tmp_path)
    calls = []
    started = threading.Event()

    def slow():
        calls.append(1)
        started.set()
        time.sleep(0.6)
        return Computed({"values": np.ones(3, np.float32)})

    out = {}
    t = threading.Thread(target=lambda: out.setdefault("a", store.cached("score", {"x": 4}, slow, fmt="arrays")))
    t.start()
    started.wait(5)
    b = store.cached("score", {"x": 4}, slow, fmt="arrays")  # waits for the first claim, then loads
    t.join()
    assert len(calls) == 1 and b.hit and not out["a"].hit


def test_failure_is_recorded_and_recomputed_next_time(tmp_path):
    store = Store(tmp_path)

    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.cached("score", {"x": 5}, boom, fmt="arrays")
    run = store.get_run(config_key({"x": 5}))
    assert run["status"] == "failed" and "boom" in run["error"]
    calls = []
    assert not _arrays_step(store, {"x": 5}, calls).hit and calls == [1]


def test_garbage_database_is_moved_aside_with_a_notice(tmp_path):
    (tmp_path / "forgetset.db").write_bytes(b"this is not a database at all" * 100)
    store = Store(tmp_path)
    assert store.notices and "moved to" in store.notices[0]
    assert list(tmp_path.glob("forgetset.db.corrupt-*"))
    calls = []
    assert not _arrays_step(store, {"x": 6}, calls).hit


def test_truncated_database_is_moved_aside(tmp_path):
    store = Store(tmp_path)
    calls = []
    for i in range(50):
        _arrays_step(store, {"x": 100 + i}, calls)
    db = tmp_path / "forgetset.db"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    for suffix in ("-wal", "-shm"):
        p = tmp_path / f"forgetset.db{suffix}"
        if p.exists():
            p.unlink()
    store2 = Store(tmp_path)
    assert store2.notices
    store2.list_runs()  # usable


@pytest.mark.parametrize("case", ["file", "dir_db", "under_file"])
def test_unusable_cache_dir_is_a_clear_error(tmp_path, case):
    if case == "file":
        target = tmp_path / "cache"
        target.write_text("x")
    elif case == "dir_db":
        target = tmp_path / "cache"
        (target / "forgetset.db").mkdir(parents=True)
    else:
        (tmp_path / "f").write_text("x")
        target = tmp_path / "f" / "cache"
    with pytest.raises(ConfigError):
        Store(target)


def test_newer_schema_is_refused(tmp_path):
    Store(tmp_path)
    with sqlite3.connect(tmp_path / "forgetset.db") as con:
        con.execute("UPDATE meta SET v='99' WHERE k='schema_version'")
    with pytest.raises(ConfigError, match="newer forgetset"):
        Store(tmp_path)


def test_release_1_cache_is_migrated(tmp_path, digits):
    """A cache made by release 1 opens: θ_o rows keep their key and gain a checksum; other results become legacy."""
    root = tmp_path
    (root / "artifacts" / "model").mkdir(parents=True)
    model = build_model("mlp", digits.input_shape, digits.num_classes)
    save_state_dict(root / "artifacts" / "model" / "korig.safetensors", model.state_dict(), {"model": "mlp"})
    with sqlite3.connect(root / "forgetset.db") as con:
        con.executescript("""
            CREATE TABLE runs (key TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, config TEXT NOT NULL,
                               metrics TEXT, timings TEXT, error TEXT, created REAL NOT NULL, finished REAL);
            CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT);
            INSERT INTO meta VALUES ('schema_version', '1');
            CREATE TABLE forget_set_catalog (key TEXT PRIMARY KEY, base TEXT NOT NULL, selector TEXT NOT NULL,
                                             seed INTEGER NOT NULL, created REAL NOT NULL);
        """)
        con.execute("INSERT INTO runs VALUES ('korig', 'original', 'done', '{}', '{}', '{}', NULL, 1, 2)")
        con.execute("INSERT INTO runs VALUES ('kun', 'unlearn', 'done', ?, '{\"UA\": 1}', '{}', NULL, 1, 2)",
                    (json.dumps({"method": "ft"}),))
        con.execute("INSERT INTO runs VALUES ('krun', 'score', 'running', '{}', NULL, NULL, NULL, 1, NULL)")
    store = Store(root)
    assert any("migrated" in n for n in store.notices)
    orig = store.get_run("korig")
    assert orig["status"] == "done" and len(orig["artifacts"]["main"]["sha256"]) == 64
    assert store.decode("model", orig)[0].keys() == model.state_dict().keys()
    assert store.get_run("kun")["status"] == "legacy"
    assert store.get_run("krun")["status"] == "interrupted"
    assert store.list_runs("unlearn", "done") == []


def test_corrupt_and_mismatched_checkpoints(tmp_path, digits):
    model = build_model("mlp", digits.input_shape, digits.num_classes)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_weights_into(model, bad)
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(CheckpointError):
        read_checkpoint(bad_st)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.pt")
    # A checkpoint of another architecture is refused with a clear message.
    other = build_model("cnn", digits.input_shape, digits.num_classes)
    torch.save(other.state_dict(), tmp_path / "cnn.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights_into(model, tmp_path / "cnn.pt")
    # Pickled arbitrary objects are not unpickled (weights_only=True).
    torch.save({"obj": object()}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError):
        load_weights_into(model, tmp_path / "pickle.pt")
    # Same architecture, other data set (metadata check).
    save_state_dict(tmp_path / "other.safetensors", model.state_dict(), {"model": "mlp", "dataset": "other-fp"})
    with pytest.raises(CheckpointError, match="made for dataset"):
        load_weights_into(build_model("mlp", digits.input_shape, digits.num_classes), tmp_path / "other.safetensors",
                          expect={"model": "mlp", "dataset": digits.fingerprint()})
    # Non-finite or non-float weights are refused.
    state = {k: v.clone() for k, v in model.state_dict().items()}
    first = next(iter(state))
    state[first][0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="NaN"):
        load_weights_into(build_model("mlp", digits.input_shape, digits.num_classes), tmp_path / "nan.pt")
    state = {k: v.to(torch.int64) for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "int.pt")
    with pytest.raises(CheckpointError, match="not floating point"):
        load_weights_into(build_model("mlp", digits.input_shape, digits.num_classes), tmp_path / "int.pt")


def test_runs_move_between_stores_with_their_checksums(tmp_path):
    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    calls = []
    res = _arrays_step(a, {"x": 7}, calls)
    bundle = a.export_runs([res.key])
    assert b.import_runs(bundle) == 1 and b.import_runs(bundle) == 0  # idempotent
    assert _arrays_step(b, {"x": 7}, calls).hit and len(calls) == 1
    rec = bundle["runs"][0]["artifacts"]["main"]
    bundle["artifacts"][rec["file"]] = b"tampered"
    c = Store(tmp_path / "c")
    with pytest.raises(Exception, match="checksum"):
        c.import_runs(bundle)
    assert c.done_run(res.key) is None
