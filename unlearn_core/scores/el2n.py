"""EL2N score (Paul et al. 2021, "Deep learning on a data diet", §2): EL2N(x) = ||softmax(f_t(x)) − onehot(y)||_2
for a model f_t early in training (after ``epochs`` epochs of the original recipe), averaged over ``n_seeds`` runs.

"Early in training" means the weights after the first ``epochs`` epochs of the *full* recipe: the learning-rate
schedule is that of ``train_cfg.epochs`` and training stops early (:func:`ensemble.train_ensemble`'s
``stop_after_epochs``), rather than a compressed schedule that would anneal the LR to zero within those epochs.
The seeds' models are trained together as a vmapped ensemble and stored (runs of kind ``early_model``, keyed by
data, model, recipe, epochs and seed), which GraNd reuses (same defaults = same models).

Orientation: Paul et al. keep HIGH-EL2N samples (hard / important; coresets, Fan et al., Challenging Forgets Fig. 3, take the top-m).
EL2N is an early-training error, i.e. a loss-like quantity, and Chen et al., Forgetting Sequence finds low loss = hard to FORGET, so the
registry's ``hard_end`` (hard to forget) is "low", the same orientation as the loss score.
"""
from __future__ import annotations

from typing import Any

import torch

from ..context import RunContext
from ..errors import ConfigError
from ..models import Classifier
from ..training import new_model, predict_logits
from .base import ScoreInput, ScoreResult, register_score, to_numpy
from ..ensemble import auto_model_batch, train_ensemble

EARLY_PARAM_RULES = {"n_seeds": {"min": 1, "max": 100}, "epochs": {"min": 1, "max": 1000}}
EARLY_DEFAULTS: dict[str, Any] = {
    "epochs": 3,  # epochs of the original recipe before the score is taken ("early in training")
    "n_seeds": 3,  # independent training runs averaged
    "model_batch": 0,  # runs trained at once (vmap); 0 = auto
}


def _early_params(params: dict) -> tuple[int, int, int]:
    try:
        epochs, n_seeds, batch = int(params["epochs"]), int(params["n_seeds"]), int(params["model_batch"])
    except (TypeError, ValueError, KeyError) as err:
        raise ConfigError(f"epochs, n_seeds and model_batch must be integers ({err}).") from err
    if epochs < 1 or n_seeds < 1 or batch < 0:
        raise ConfigError("epochs and n_seeds must be >= 1, model_batch >= 0 (0 = automatic).")
    return epochs, n_seeds, batch


def early_models(inp: ScoreInput, params: dict, what: str = "early training", ctx: RunContext | None = None
                 ) -> tuple[list[Classifier], dict]:
    """``n_seeds`` models after ``epochs`` epochs of the original recipe on all of D (stored, resumable)."""
    epochs, n_seeds, batch = _early_params(params)
    ctx = ctx or inp.ctx
    ds = inp.ds
    cfg = inp.train_cfg.validate()
    if epochs > cfg.epochs:
        raise ConfigError(f"epochs={epochs} exceeds the recipe's {cfg.epochs} epochs.")
    seeds = [20_000 * (inp.seed + 1) + k for k in range(n_seeds)]
    bank = {"dataset": ds.fingerprint(), "model": inp.model_name, "train_cfg": cfg.to_dict(), "epochs": epochs}
    member = {s: {"kind": "early_model", **bank, "seed": s} for s in seeds}
    models: dict[int, Classifier] = {}
    for k, s in enumerate(seeds):
        got = inp.store.lookup("early_model", member[s], "model") if inp.store is not None else None
        if got is None:
            continue
        model = new_model(inp.model_name, ds, s, ds.device)
        try:
            model.load_state_dict(got[0])
        except RuntimeError as err:
            ctx.log(f"{what}: a stored early model does not fit ({err}); retraining it.")
            continue
        models[k] = model.eval()
    missing = [k for k in range(n_seeds) if k not in models]
    batch = batch or auto_model_batch(inp.model_name, ds, max(len(missing), 1), cfg)
    all_idx = torch.arange(ds.n_train)
    done = 0
    for i in range(0, len(missing), batch):
        group = missing[i:i + batch]
        sub = ctx.sub(done / len(missing), (done + len(group)) / len(missing))
        trained = train_ensemble(inp.model_name, ds, [all_idx] * len(group), cfg, [seeds[k] for k in group],
                                 ctx=sub, what=what, stop_after_epochs=epochs)
        for k, model in zip(group, trained):
            models[k] = model
            if inp.store is not None:
                inp.store.put("early_model", member[seeds[k]], model, fmt="model", meta={"model": inp.model_name})
        done += len(group)
    info = {"epochs": epochs, "n_seeds": n_seeds, "seeds": seeds, "n_trained": len(missing),
            "model_batch": batch, "lr_schedule_epochs": cfg.epochs}
    return [models[k] for k in range(n_seeds)], info


@torch.no_grad()
def el2n_values(model: torch.nn.Module, ds, split: str = "train") -> torch.Tensor:
    """||softmax(f(x)) − onehot(y)||_2 per sample (eval mode), on the data's device."""
    logits = predict_logits(model, ds, split)
    _, y = ds.split(split)
    err = torch.softmax(logits, dim=1)
    err[torch.arange(err.shape[0], device=err.device), y] -= 1.0
    return err.norm(dim=1)


def early_cost(params: dict, n: int, recipe, m: int | None) -> float:
    """Sample passes: n_seeds models trained for ``epochs`` epochs on all of D, then one pass to score them."""
    return int(params["n_seeds"]) * (int(params["epochs"]) * n + n / 3)


@register_score("el2n", label="EL2N", hard_end="low", defaults=EARLY_DEFAULTS, expensive=True, cost=early_cost,
                param_rules=EARLY_PARAM_RULES,
                description="Error L2 norm ||softmax − onehot|| early in training (Paul et al. 2021), mean over "
                            "seeds. High = hard/important to LEARN (coreset baselines keep the top); as a loss-like "
                            "score, low = hard to forget (Chen et al.'s orientation).")
def el2n_score(inp: ScoreInput) -> ScoreResult:
    models, info = early_models(inp, {**EARLY_DEFAULTS, **inp.params}, what="EL2N early training")
    per_seed = torch.stack([el2n_values(m, inp.ds) for m in models])
    inp.ctx.progress(1.0, "EL2N done")
    return ScoreResult(to_numpy(per_seed.mean(0)), extras=info,
                       arrays={"std_over_seeds": to_numpy(per_seed.std(0, correction=0))})
