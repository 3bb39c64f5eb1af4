"""Atomic writes, crash safety, checkpoint validation."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from unlearn_core.errors import CheckpointError
from unlearn_core.models import build_model
from unlearn_core.store import Store, atomic_write_bytes, config_key, load_weights_into, read_checkpoint


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
        import sys
        from unlearn_core.store import Store
        from unlearn_core.experiments import Pipeline
        p = Pipeline(Store({str(cache)!r}), "digits", "mlp", "cpu", train_overrides={{"epochs": 100000}})
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
    assert not store.model_path("model", runs[0]["key"]).exists()
    assert store.mark_interrupted() == 1
    assert store.get_run(runs[0]["key"])["status"] == "interrupted"


def test_results_round_trip_and_rows(tmp_path):
    store = Store(tmp_path)
    store.start_run("k", "unlearn", {"a": 1})
    assert store.done_run("k") is None
    store.finish_run("k", "unlearn", {"a": 1}, {"UA": 1.5}, {"runtime_s": 0.1})
    assert store.done_run("k")["metrics"]["UA"] == 1.5
    store.save_arrays("score", "s", {"values": torch.arange(5).float()}, {"extras": {"m": 3}})
    arrays, meta = store.load_arrays("score", "s")
    assert arrays["values"].tolist() == [0, 1, 2, 3, 4] and meta["extras"]["m"] == 3


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
    store = Store(tmp_path / "c")
    store.save_model("model", "k", model, {"model": "mlp", "dataset": "other-fingerprint"})
    with pytest.raises(CheckpointError, match="made for dataset"):
        load_weights_into(build_model("mlp", digits.input_shape, digits.num_classes), store.model_path("model", "k"),
                          expect={"model": "mlp", "dataset": digits.fingerprint()})
