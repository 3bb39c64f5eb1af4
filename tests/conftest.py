"""Shared fixtures: small, fast, offline (scikit-learn digits; a few epochs)."""
from __future__ import annotations


import os
import tempfile

import pytest
import torch

# The trainer's memory-format choice is cached per machine (unlearn_core/kernels.py); tests keep theirs private.
os.environ.setdefault("FORGETSET_CALIBRATION_DIR", tempfile.mkdtemp(prefix="forgetset-calibration-"))

# Tiny models (digits MLP) run fastest on one thread; more threads only add synchronisation overhead.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    from unlearn_core.data import load_dataset

    return load_dataset("digits")


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
