"""The trainer's memory format: measured once per machine, persisted, so runs are bit-identical (kernels.py)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from unlearn_core import kernels
from unlearn_core.data import _from_numpy
from unlearn_core.training import TrainConfig, train_model


@pytest.fixture()
def private_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGETSET_CALIBRATION_DIR", str(tmp_path))
    monkeypatch.delenv("FORGETSET_MEMORY_FORMAT", raising=False)
    monkeypatch.setattr(kernels, "_CHOSEN", {})
    return tmp_path


def tiny_images(c: int = 3, hw: int = 8, n: int = 64):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, hw, hw, c), dtype=np.uint8)
    y = rng.integers(0, 3, size=n)
    return _from_numpy("tiny", x, y, x[:16], y[:16], None)


def digest(model) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_the_first_measured_choice_is_kept_so_runs_are_bit_identical(private_dir, monkeypatch):
    ds = tiny_images()
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, augment="none")
    calls = []
    monkeypatch.setattr(kernels, "measure_speedup", lambda *a, **k: calls.append(1) or 2.0)  # channels_last wins
    first = train_model("cnn", ds, torch.arange(64), cfg, seed=0)
    assert calls == [1]
    conv = next(m for m in first.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    # A later process (simulated: the in-process memo cleared) under other load would measure the opposite; the
    # persisted choice wins, no new measurement runs, and the weights are the same bytes.
    monkeypatch.setattr(kernels, "_CHOSEN", {})
    monkeypatch.setattr(kernels, "measure_speedup", lambda *a, **k: calls.append(2) or 0.5)
    second = train_model("cnn", ds, torch.arange(64), cfg, seed=0)
    assert calls == [1]
    assert digest(first) == digest(second)


def test_a_slower_channels_last_keeps_the_default_format_and_an_mlp_is_never_measured(private_dir, monkeypatch):
    monkeypatch.setattr(kernels, "measure_speedup", lambda *a, **k: 1.01)  # below MIN_SPEEDUP
    ds = tiny_images()
    m = train_model("cnn", ds, torch.arange(64), TrainConfig(epochs=1, batch_size=16, augment="none"), seed=0)
    conv = next(x for x in m.modules() if isinstance(x, torch.nn.Conv2d))
    assert conv.weight.is_contiguous()
    monkeypatch.setattr(kernels, "measure_speedup", lambda *a, **k: pytest.fail("an MLP has no convs to measure"))
    train_model("mlp", ds, torch.arange(64), TrainConfig(epochs=1, batch_size=16, augment="none"), seed=0)


def test_both_formats_train_the_same_model_up_to_float_tolerance(private_dir, monkeypatch):
    ds = tiny_images()
    cfg = TrainConfig(epochs=1, batch_size=16, lr=0.01, augment="none")
    out = {}
    for fmt in ("contiguous", "channels_last"):
        monkeypatch.setenv("FORGETSET_MEMORY_FORMAT", fmt)
        out[fmt] = train_model("cnn", ds, torch.arange(64), cfg, seed=0).state_dict()
    for k, v in out["contiguous"].items():
        torch.testing.assert_close(v.float(), out["channels_last"][k].float(), rtol=1e-3, atol=1e-4)


def test_persist_first_writer_wins(private_dir):
    assert kernels._persist("k", "contiguous") == "contiguous"
    assert kernels._persist("k", "channels_last") == "contiguous"
    assert kernels._read_all() == {"k": "contiguous"}
