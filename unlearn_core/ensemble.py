"""Model ensembles: k small models of one recipe trained at once (vmapped, "stacked") where a measurement says it is
faster than training them one after the other (LiRA's and EL2N's shadow models, the retrain banks)."""
from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from .context import NULL_CONTEXT, RunContext
from .data import ImageDataset
from .device import autocast
from .errors import ConfigError
from .models import Classifier, build_model
from .training import (TrainConfig, as_index_tensor, check_finite, get_batch, make_optimizer, make_scheduler,
                       new_model, train_model, wants_augmentation)


# ---------------------------------------------------------------------------------------------- ensemble training
# Whether k small models train faster stacked (vmap) than one after the other depends on the model and the device,
# not on a parameter count: measured on a 2-core CPU, vmapped convs (grouped convs) made the small CNN 4.1x slower,
# and MLPs gained only from ~16 models up; on a GPU, one small model leaves most of it idle and stacking is the main
# lever. So the choice is measured (ensemble_speedup) once per model, shape, device and thread count.
ENSEMBLE_PARAM_BUDGET = 50_000_000  # stacked parameters at most (memory)
MIN_SPEEDUP = 1.15  # stack only when it is clearly faster
_SPEEDUPS: dict[tuple, float] = {}


def count_params(model_name: str, ds: ImageDataset) -> int:
    return sum(p.numel() for p in build_model(model_name, ds.input_shape, ds.num_classes).parameters())


def ensemble_speedup(model_name: str, ds: ImageDataset, cfg: TrainConfig, k: int, batches: int = 2) -> float:
    """Measured time of k models one after the other / k models stacked, for a couple of batches (cached)."""
    import time

    k = max(2, int(k))
    key = (model_name, tuple(ds.input_shape), ds.num_classes, cfg.batch_size, str(ds.device), torch.get_num_threads(),
           k)
    if key in _SPEEDUPS:
        return _SPEEDUPS[key]
    n = min(ds.n_train, cfg.batch_size * batches)
    idx = torch.arange(n)
    probe = replace(cfg, epochs=1)

    def timed(fn) -> float:
        fn()  # warm-up
        if ds.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if ds.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    one = timed(lambda: [train_model(model_name, ds, idx, probe, s) for s in range(k)])
    stacked = timed(lambda: train_ensemble(model_name, ds, [idx] * k, probe, list(range(k))))
    _SPEEDUPS[key] = one / max(stacked, 1e-9)
    return _SPEEDUPS[key]


def auto_model_batch(model_name: str, ds: ImageDataset, n_models: int, cfg: TrainConfig | None = None) -> int:
    """How many models to train at once: all of them (up to a parameter budget) when stacking them was measured
    clearly faster on this device (:func:`ensemble_speedup`), else 1."""
    if n_models < 2:
        return 1
    k = max(1, min(n_models, ENSEMBLE_PARAM_BUDGET // max(count_params(model_name, ds), 1)))
    if k < 2:
        return 1
    cfg = cfg or TrainConfig()
    return k if ensemble_speedup(model_name, ds, cfg, k) >= MIN_SPEEDUP else 1


def train_ensemble(model_name: str, ds: ImageDataset, index_sets: Sequence, cfg: TrainConfig, seeds: Sequence[int],
                   ctx: RunContext = NULL_CONTEXT, what: str = "ensemble training",
                   stop_after_epochs: int | None = None) -> list[Classifier]:
    """Train ``len(seeds)`` fresh models at once, model k on training samples ``index_sets[k]``, with recipe ``cfg``.

    Same recipe as :func:`training.train_loop` per model: initial weights from ``new_model(seed)``, a CPU generator
    seeded with the model's seed drawing the epoch permutation (and, when the recipe augments, that model's crop/flip
    draws), batch mean cross-entropy, the recipe's optimizer and LR schedule. The parameters of all models are
    stacked (``stack_module_state``) and the forward pass is ``vmap(functional_call)``; the loss is the sum of the
    per-model batch means, so each stacked slice receives exactly its own model's gradient, and SGD/Adam (which are
    element-wise) update every slice as if it were alone. With no augmentation the result equals ``train_model``
    per model up to floating-point summation order (tested).

    Models whose index sets differ in size are padded with zero-weight entries; a model that runs out of samples
    before the others in an epoch still takes the (zero-gradient) momentum/weight-decay step of the others. With
    LiRA's complementary halves the sizes differ by at most one, so this only happens when N/2 is a multiple of the
    batch size.

    ``stop_after_epochs`` stops early while keeping the schedule of the full ``cfg.epochs`` (EL2N/GraNd "early in
    training" checkpoints).
    """
    cfg.validate()
    if len(index_sets) != len(seeds) or not seeds:
        raise ConfigError("train_ensemble needs one seed per index set (and at least one model).")
    device = ds.device
    n_models = len(seeds)
    idx_sets = [as_index_tensor(i, device) for i in index_sets]
    sizes = [int(i.numel()) for i in idx_sets]
    if min(sizes) == 0:
        raise ConfigError(f"{what}: a model's set of training samples is empty.")
    n_max = max(sizes)
    models = [new_model(model_name, ds, int(s), device) for s in seeds]
    for m in models:
        m.train()
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]  # the stream train_loop's seed_everything gives
    augment = wants_augmentation(ds, cfg.augment)

    params, buffers = stack_module_state(models)  # leaves with requires_grad; buffers stacked (BatchNorm stats)
    base = copy.deepcopy(models[0]).to("meta")

    def fwd(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (x,))

    vfwd = vmap(fwd, randomness="different")
    opt = make_optimizer(list(params.values()), cfg)
    bs = cfg.batch_size
    steps_per_epoch = math.ceil(n_max / bs)
    sched = make_scheduler(opt, cfg, steps_per_epoch * cfg.epochs)
    n_epochs = cfg.epochs if stop_after_epochs is None else min(cfg.epochs, int(stop_after_epochs))
    for epoch in range(n_epochs):
        # Each model's own permutation of its own samples (drawn on the CPU like shuffled_batches), padded to n_max.
        order = torch.zeros(n_models, n_max, dtype=torch.long, device=device)
        valid = torch.zeros(n_models, n_max, dtype=torch.float32, device=device)
        for k in range(n_models):
            perm = torch.randperm(sizes[k], generator=gens[k]).to(device)
            order[k, :sizes[k]] = idx_sets[k][perm]
            valid[k, :sizes[k]] = 1.0
        loss = None
        for s in range(0, n_max, bs):
            ib, wb = order[:, s:s + bs], valid[:, s:s + bs]
            b = ib.shape[1]
            if augment:  # per-model draws keep every model on its own random stream (as in train_loop)
                parts = [get_batch(ds, ib[k], augment=True, generator=gens[k]) for k in range(n_models)]
                xb = torch.stack([xp for xp, _ in parts])
                yb = torch.stack([yp for _, yp in parts])
            else:
                xb, yb = get_batch(ds, ib.reshape(-1))
                xb = xb.view(n_models, b, *xb.shape[1:])
                yb = yb.view(n_models, b)
            with autocast(device):
                logits = vfwd(params, buffers, xb)
            ce = F.cross_entropy(logits.float().reshape(n_models * b, -1), yb.reshape(-1),
                                 reduction="none").view(n_models, b)
            per_model = (ce * wb).sum(1) / wb.sum(1).clamp_min(1.0)
            loss = per_model.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        check_finite(loss.detach().float(), what)
        ctx.progress((epoch + 1) / max(n_epochs, 1), f"{what}: epoch {epoch + 1}/{n_epochs}")
    with torch.no_grad():
        for k, model in enumerate(models):
            for name, t in model.named_parameters():
                t.copy_(params[name][k])
            for name, t in model.named_buffers():
                t.copy_(buffers[name][k])
            model.eval()
    return models
