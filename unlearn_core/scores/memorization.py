"""Memorization (Feldman & Zhang 2020, *What neural networks memorize and why*), estimated from LiRA's shadow bank.

Definition (Feldman 2020; Feldman & Zhang 2020, Eq. 1)
    mem(i) = P[f(x_i) = y_i | i ∈ train] − P[f(x_i) = y_i | i ∉ train],
    probabilities over the training randomness and the random subset the model is trained on. Feldman & Zhang
    estimate it with models trained on random subsets of the data: the fraction of models holding i that classify
    it correctly, minus the fraction of models not holding it that do.

Estimator here
    LiRA's shadow models (``scores/lira.py``) are exactly such models: S shadow models in complementary pairs of
    random halves, so every sample is IN for S/2 of them and OUT for the other S/2. For each shadow model the
    predicted class of every training sample (unaugmented image, eval mode) is stored once (a run of kind
    ``lira_correct`` next to LiRA's ``lira_stats``, keyed by the shadow model's key), and

        p_in(i)  = (# IN models correct on i) / n_in(i),    p_out(i) = (# OUT models correct on i) / n_out(i),
        mem(i)   = p_in(i) − p_out(i)                        ∈ [−1, 1],
        se(i)    = sqrt(p̃_in(1 − p̃_in)/n_in + p̃_out(1 − p̃_out)/n_out),   p̃ = (k + 1)/(n + 2).

    The standard error is the binomial one of the two independent proportions, with add-one (Laplace) smoothed
    proportions so that a sample every model gets right still shows the uncertainty of finitely many models; it
    shrinks as 1/√(S/2). With LiRA's 16 default shadow models mem takes multiples of 1/8 and se ≈ 0.1–0.25:
    enough to rank and bin samples (Zhao et al. use low / medium / high groups), not to resolve small differences.

Cost
    Free once the LiRA bank of the same seed, recipe and ``n_shadow`` exists (the shadow models are reused; only
    their predictions are computed, once); otherwise the missing shadow models are trained first (and then serve
    LiRA too).

Orientation
    Zhao et al. (NeurIPS 2024, *What makes unlearning hard and what to do about it*, Fig. 1 right and §4): the more
    memorized a forget set, the harder it is to unlearn for most methods (lower ToW); low-memorization sets are the
    easy ones (Retrain still classifies them right, so "forgetting" them asks for little). So ``hard_end`` is
    "high". Note the tension with Chen et al. (low loss / low LiRA ASR = hard to forget) and with the BLO worst case
    of Fan et al., which collects low-loss — typically *un*-memorized — samples: ``analysis/hardness.py`` measures
    which view holds on a setup.
"""
from __future__ import annotations

import contextlib
import tempfile
from dataclasses import replace
from typing import Any

import numpy as np

from ..io import config_key
from ..errors import ConfigError
from ..training import new_model, predict_logits, with_overrides
from .base import ScoreInput, ScoreResult, register_score
from .lira import LIRA_DEFAULTS, _parse_params, _row_sha, ensure_shadows, lira_cost, shadow_mask

KIND = "lira_correct"
MEM_DEFAULTS: dict[str, Any] = {
    "n_shadow": LIRA_DEFAULTS["n_shadow"],  # the LiRA bank's size (same default: the same shadow models)
    "epochs": LIRA_DEFAULTS["epochs"],  # shadow training epochs; 0 = the original recipe's
    "model_batch": LIRA_DEFAULTS["model_batch"],  # shadow models trained at once if any are missing
}


def shadow_model_configs(inp: ScoreInput, n_shadow: int, epochs: int) -> tuple[np.ndarray, list[dict]]:
    """The (S, N) IN mask and the store configuration of each LiRA shadow model, exactly as ``lira.ensure_shadows``
    keys them (the bank is shared; a test checks that these find LiRA's models)."""
    ds = inp.ds
    cfg = with_overrides(inp.train_cfg, epochs=epochs or None).validate()
    mask = shadow_mask(ds.n_train, n_shadow, inp.seed)
    bank = {"dataset": ds.fingerprint(), "model": inp.model_name, "train_cfg": cfg.to_dict(), "n_shadow": n_shadow,
            "seed": inp.seed}
    return mask, [{"kind": "lira_shadow", **bank, "shadow": m, "mask_sha": _row_sha(mask[m])} for m in range(n_shadow)]


def shadow_predictions(inp: ScoreInput, params: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """(mask (S, N) bool, predicted class (S, N) int64, info) of every LiRA shadow model on every training sample.

    Predictions are read from ``lira_correct`` runs, else computed from the stored shadow weights (and stored);
    shadow models that are not stored are trained first through LiRA's own ``ensure_shadows``.
    """
    store = inp.store
    n_shadow, epochs = int(params["n_shadow"]), int(params["epochs"])
    mask, cfgs = shadow_model_configs(inp, n_shadow, epochs)
    preds: dict[int, np.ndarray] = {}
    weights: dict[int, Any] = {}
    n = inp.ds.n_train
    for m, mc in enumerate(cfgs):
        got = store.lookup(KIND, {"kind": KIND, "shadow": config_key(mc)}, "arrays")
        if got is not None and got[0]["pred"].shape == (n,):
            preds[m] = got[0]["pred"].astype(np.int64)
    missing = [m for m in range(n_shadow) if m not in preds]
    n_trained = 0
    if missing:
        for m in missing:
            got = store.lookup("lira_shadow", cfgs[m], "model")
            if got is not None:
                weights[m] = got[0]
        if len(weights) < len(missing):
            lira_p = _parse_params({**LIRA_DEFAULTS, "n_shadow": n_shadow, "epochs": epochs,
                                    "model_batch": int(params["model_batch"])})
            sh = ensure_shadows(inp, lira_p)
            n_trained = sh.n_trained
            for m in missing:
                if m not in weights:
                    got = store.lookup("lira_shadow", cfgs[m], "model")
                    if got is None:
                        raise ConfigError("Memorization: LiRA stored its shadow models under keys this module does "
                                          "not reproduce (scores/lira.py changed); update shadow_model_configs.")
                    weights[m] = got[0]
        for k, m in enumerate(missing):
            model = new_model(inp.model_name, inp.ds, 0, inp.ds.device)
            model.load_state_dict(weights.pop(m))
            pred = predict_logits(model, inp.ds, "train").argmax(1).cpu().numpy().astype(np.int64)
            store.put(KIND, {"kind": KIND, "shadow": config_key(cfgs[m])}, {"pred": pred}, fmt="arrays",
                      meta={"shadow": m})
            preds[m] = pred
            inp.ctx.progress((k + 1) / len(missing), f"memorization: predictions of shadow model {m + 1}/{n_shadow}")
    pred = np.stack([preds[m] for m in range(n_shadow)])
    return mask, pred, {"n_shadow": n_shadow, "n_trained": n_trained, "n_predicted": len(missing)}


def memorization_from(mask: np.ndarray, correct: np.ndarray) -> dict[str, np.ndarray]:
    """mem, se, p_in, p_out, n_in, n_out from an (S, N) IN mask and an (S, N) correctness matrix (module doc)."""
    mask = np.asarray(mask, dtype=bool)
    correct = np.asarray(correct, dtype=np.float64)
    if mask.shape != correct.shape:
        raise ConfigError(f"mask {mask.shape} and correctness {correct.shape} differ in shape.")
    n_in, n_out = mask.sum(0).astype(np.float64), (~mask).sum(0).astype(np.float64)
    if (n_in == 0).any() or (n_out == 0).any():
        raise ConfigError("Memorization needs every sample IN for some models and OUT for others.")
    k_in, k_out = (correct * mask).sum(0), (correct * ~mask).sum(0)
    p_in, p_out = k_in / n_in, k_out / n_out
    s_in, s_out = (k_in + 1) / (n_in + 2), (k_out + 1) / (n_out + 2)
    se = np.sqrt(s_in * (1 - s_in) / n_in + s_out * (1 - s_out) / n_out)
    return {"mem": (p_in - p_out).astype(np.float32), "se": se.astype(np.float32), "p_in": p_in.astype(np.float32),
            "p_out": p_out.astype(np.float32), "n_in": n_in.astype(np.float32), "n_out": n_out.astype(np.float32)}


MEM_GROUPS = ("low", "mid", "high")


def resolution(n_shadow: int) -> float:
    """The step of the memorization estimate: each sample is IN for S/2 shadow models and OUT for S/2, so p_in and
    p_out (and mem) move in steps of 2/S (1/8 with 16 models, 1/32 with 64)."""
    return 2.0 / int(n_shadow)


def resolution_text(n_shadow: int) -> str:
    """'resolution 1/8 (16 shadow models)': shown next to the score wherever it is used."""
    return f"resolution 1/{int(n_shadow) // 2} ({int(n_shadow)} shadow models)"


def memorization_groups(values: np.ndarray, sizes: dict[str, int], rng: np.random.Generator,
                        mid_value: float | None = 0.5) -> dict[str, np.ndarray]:
    """Zhao et al.'s data-set-level memorization groups (their public code, ``main_forget.py``: the memorization of
    the *whole training set* is sorted once): ``high`` = the samples with the highest memorization, ``low`` = the
    lowest, ``mid`` = those closest to 0.5 (for a proxy score their code uses the median: ``mid_value=None``).
    ``sizes`` gives each group's size. The groups are made disjoint here (high, then low, then mid from what is
    left; their code relies on the groups not meeting, which holds on CIFAR-10). Ties — most samples have
    memorization exactly 0 with few shadow models — are broken at random (``rng``)."""
    v = np.asarray(values, dtype=np.float64)
    jitter = rng.random(len(v)) * 1e-9  # random order among equal values, distinct values keep their order
    taken = np.zeros(len(v), dtype=bool)
    out: dict[str, np.ndarray] = {}
    centre = float(np.median(v)) if mid_value is None else float(mid_value)
    for name, key in (("high", -(v + jitter)), ("low", v + jitter), ("mid", np.abs(v - centre) + jitter)):
        k = int(sizes.get(name, 0))
        if k <= 0:
            out[name] = np.empty(0, dtype=np.int64)
            continue
        order = np.argsort(np.where(taken, np.inf, key), kind="stable")[:k]
        if taken[order].any():
            raise ConfigError(f"The memorization groups need {sum(sizes.values())} distinct samples; the training "
                              f"set has {len(v)}.")
        taken[order] = True
        out[name] = np.sort(order.astype(np.int64))
    return {g: out.get(g, np.empty(0, dtype=np.int64)) for g in MEM_GROUPS}


def mix_sizes(m: int) -> dict[str, int]:
    """Zhao et al.'s "mix" forget set of m samples: a third from each group (low gets the remainder first)."""
    base, rem = divmod(int(m), 3)
    return {g: base + (1 if i < rem else 0) for i, g in enumerate(MEM_GROUPS)}


@contextlib.contextmanager
def _with_store(inp: ScoreInput):
    """``inp`` with a store: its own, or a temporary one (the shadow models then live only for this call)."""
    if inp.store is not None:
        yield inp
        return
    from ..store import Store

    with tempfile.TemporaryDirectory(prefix="forgetset-mem-") as d:
        yield replace(inp, store=Store(d))


def mem_cost(params: dict, n: int, recipe, m: int | None) -> float:
    """Upper bound: LiRA's shadow training (free when the bank is stored: then one evaluation pass per model)."""
    return lira_cost(params, n, recipe, m)


@register_score("memorization", label="Memorization (Feldman & Zhang)", hard_end="high", defaults=MEM_DEFAULTS,
                expensive=True, cost=mem_cost,
                description="mem = P[correct | sample in training] − P[correct | not in training] (Feldman & Zhang "
                            "2020), estimated from LiRA's shadow models (each holds a random half); standard error in "
                            "the 'se' array. Free once the LiRA bank exists (reuses its shadow models). High = "
                            "memorized = harder to unlearn for most methods (Zhao et al. 2024). Resolution 2/S with "
                            "S shadow models (1/8 with the default 16: most samples are exactly 0); n_shadow = 64 "
                            "or more for research-grade estimates.")
def memorization_score(inp: ScoreInput) -> ScoreResult:
    p = {**MEM_DEFAULTS, **inp.params}
    try:
        p = {k: int(p[k]) for k in MEM_DEFAULTS}
    except (TypeError, ValueError) as err:
        raise ConfigError(f"Memorization: n_shadow, epochs and model_batch must be integers ({err}).") from err
    with _with_store(inp) as sinp:
        mask, pred, info = shadow_predictions(sinp, p)
    y = inp.ds.y_train.cpu().numpy()
    est = memorization_from(mask, pred == y[None, :])
    extras = {**info, "params": p, "mean_mem": float(est["mem"].mean()), "mean_se": float(est["se"].mean()),
              "resolution": resolution(p["n_shadow"]), "resolution_text": resolution_text(p["n_shadow"]),
              "share_exactly_zero": float((est["mem"] == 0).mean()),
              "bank": "LiRA shadow models (complementary random halves)",
              "reference": "Feldman & Zhang 2020, Eq. 1"}
    arrays = {"se": est["se"], "p_in": est["p_in"], "p_out": est["p_out"], "n_in": est["n_in"], "n_out": est["n_out"]}
    return ScoreResult(est["mem"], extras=extras, arrays=arrays)
