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


def reference_cnn(in_shape, num_classes: int = 10):
    """The small CNN as it was before its kernels were tuned: out-of-place ReLUs, an adaptive 4×4 pool."""
    from torch import nn

    from unlearn_core.models import Classifier

    c = in_shape[0]
    b1 = nn.Sequential(nn.Conv2d(c, 32, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(32), nn.ReLU())
    b2 = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
    fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 256), nn.ReLU())
    return Classifier(nn.Sequential(b1, b2, fc), nn.Linear(256, num_classes), groups=[b1, b2, fc])


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
def test_tuned_cnn_kernels_give_bit_identical_outputs_and_gradients(shape):
    """In-place ReLUs and the fixed average pool are a speed change only: logits, loss and every gradient equal the
    reference layers' bit for bit (train and eval mode, channels_last)."""
    import torch.nn.functional as F

    from unlearn_core.models import build_model

    torch.manual_seed(0)
    ref = reference_cnn(shape).to(memory_format=torch.channels_last)
    new = build_model("cnn", shape, 10).to(memory_format=torch.channels_last)
    new.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, *shape, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (16,), generator=g)
    for mode in ("train", "eval"):
        ref.train(mode == "train"), new.train(mode == "train")
        la, lb = F.cross_entropy(ref(x), y), F.cross_entropy(new(x), y)
        la.backward(), lb.backward()
        assert torch.equal(la, lb)
        assert all(torch.equal(p.grad, q.grad) for p, q in zip(ref.parameters(), new.parameters()))
        ref.zero_grad(), new.zero_grad()
    with torch.no_grad():
        assert torch.equal(ref.eval()(x), new.eval()(x))


def test_eval_batch_size_changes_logits_only_by_float_rounding_and_is_deterministic():
    """predict_logits' CPU batch for conv nets (kernels.eval_batch_size) is a speed choice: the logits equal those
    of any other batch size up to float rounding (oneDNN picks kernels by batch shape), and repeat bit for bit."""
    from unlearn_core.training import new_model, predict_logits

    ds = tiny_images(c=3, hw=32, n=300)
    model = new_model("cnn", ds, 0, torch.device("cpu")).eval()
    assert kernels.eval_batch_size(model, torch.device("cpu")) == kernels.EVAL_BATCH_CONV_CPU
    a = predict_logits(model, ds, "train")
    assert torch.equal(a, predict_logits(model, ds, "train"))
    for b in (7, 2048):
        assert torch.allclose(a, predict_logits(model, ds, "train", batch_size=b), rtol=0, atol=1e-5)
