"""Shared fixtures: small, fast, offline (scikit-learn digits; a few epochs)."""
from __future__ import annotations


import os
import tempfile

import pytest
import torch

# The trainer's memory-format choice is cached per machine (unlearn_core/kernels.py); tests keep theirs private.
os.environ.setdefault("FORGETSET_CALIBRATION_DIR", tempfile.mkdtemp(prefix="forgetset-calibration-"))

# Tiny models (digits MLP) run fastest on one thread; more threads only add synchronisation overhead (on a loaded,
# shared CPU OpenMP spin-waiting made a 100-step training 100x slower with 2 threads than with 1: measured).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test starts on one torch thread (a test that changed it, e.g. through the CLI's thread policy, cannot
    slow the next one down); the one place this is set."""
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def digits():
    from unlearn_core.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_mlp(digits):
    """θ_o for tests that need one trained digits MLP: all of D, 12 epochs of SGD (lr 0.05, batch 128), seed 0.
    Shared by the session: tests must not modify ``original`` (methods copy it; see UnlearnInput.copy_original)."""
    from types import SimpleNamespace

    from unlearn_core.training import TrainConfig, train_model

    cfg = TrainConfig(epochs=12, batch_size=128, lr=0.05)
    torch.manual_seed(0)
    return SimpleNamespace(ds=digits, cfg=cfg, original=train_model("mlp", digits, torch.arange(digits.n_train), cfg,
                                                                    seed=0))


@pytest.fixture(scope="session")
def session_store(tmp_path_factory):
    from unlearn_core.store import Store

    return Store(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def quick_pipeline(session_store):
    """digits + MLP with a short recipe and a small BLO, shared by tests that only read from it."""
    from unlearn_core.pipeline import Pipeline

    return Pipeline(session_store, dataset="digits", model="mlp", device="cpu", train={"epochs": 12},
                    blo={"upper_iters": 8, "K": 3})
