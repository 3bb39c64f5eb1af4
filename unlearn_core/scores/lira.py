"""LiRA membership scores (Carlini et al. 2022, "Membership inference attacks from first principles";
Chen et al., Forgetting Sequence Eq. 1 for the per-sample attack success rate).

Shadow models
    S shadow models (``n_shadow``, default 16, even) are trained with the original model's recipe
    (``inp.train_cfg``, ``inp.model_name``; ``epochs`` > 0 shortens it) on random halves of D. The halves come in
    complementary pairs (model 2k gets a random half, model 2k+1 the rest), so every sample is IN for exactly S/2
    models and OUT for S/2: both Gaussians always have data, even leave-one-model-out. The in/out mask is an
    (S, N) bool array, a deterministic function of (seed, N, S).

Statistic
    φ = log(p_y / (1 − p_y)) = z_y − logsumexp_{j≠y} z_j, computed directly from the logits z (no softmax, so it
    stays finite for confident predictions). ``statistic="hinge"`` gives z_y − max_{j≠y} z_j instead (the
    "logit gap" Chen et al., Forgetting Sequence describes). With ``queries`` = flip, φ is also taken on the horizontally flipped image
    and the per-query log-likelihood ratios are averaged (Carlini et al. §VI-A).

Attack on a target model f with statistic φ_f(x) (per sample x)
    online:  Λ = log N(φ_f; μ_in, σ_in²) − log N(φ_f; μ_out, σ_out²)      (IN and OUT Gaussians of x)
    offline: Λ = log Φ((φ_f − μ_out) / σ_out)                              (one-sided test, OUT only)
    With few shadow models the per-sample variances are noisy; ``fix_variance`` ("auto": when S < 64) uses one
    global σ (median of the per-sample σ's), as Carlini et al. recommend for small S.

Per-sample ASR (Chen et al., Forgetting Sequence Eq. 1)
    ASR(x) = fraction of shadow models f_t for which the attack, with Gaussians fitted on the other S − 1
    models (leave-one-model-out), predicts x's membership in f_t correctly. Online predicts IN when Λ > 0 (the
    Bayes decision: the prior of IN is exactly 1/2 by construction); offline has no natural cut-off, so one global
    threshold is calibrated to the best balanced accuracy over all (target, sample) pairs (one scalar fitted on
    the shadows, whose memberships the attacker knows).

Attack quality
    θ_o is trained on all of D (every sample a member), so ROC AUC and TPR at 0.1% / 1% FPR are measured
    leave-one-model-out with each shadow model as the target (members vs non-members), mean ± std over
    targets, for both variants, in ``ScoreResult.extras``.

Scores
    ``lira_asr``: per-sample ASR. ``lira_score``: the membership score Λ of θ_o itself (Gaussians fitted on all S
    shadows). Seed 001 (Tables 1-2, Fig. 5): high-ASR samples are EASIER to forget, so both have hard_end="low".

Efficiency and resuming
    Shadow models are trained several at once as a vmapped "model ensemble" (:func:`train_ensemble`:
    ``torch.func.stack_module_state`` + ``vmap(functional_call)``; every model keeps its own data order, and
    the optimizer acts element-wise on the stacked parameters, so each model follows exactly the recipe of
    ``training.train_loop``). BatchNorm works under vmap (running statistics are stacked buffers).
    Whether to stack them is measured per model and device (``ensemble.auto_model_batch``): otherwise they are
    trained one at a time with ``training.train_model``. ``model_batch`` overrides (1 = one at a time).
    Each shadow model is stored (a run of kind ``lira_shadow`` in the store, with its statistics as a
    ``lira_stats`` run) as soon as its group finishes, keyed by the shadow-training configuration only, so
    ``lira_asr`` and ``lira_score`` (and runs that differ only in attack options) share the same shadow models.
    A re-run trains only the missing ones; ``extras["n_trained"]`` is the count trained in this call.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..data import ImageDataset
from ..errors import ConfigError
from ..io import config_key
from ..ensemble import auto_model_batch, train_ensemble
from ..training import TrainConfig, get_batch, new_model, train_model, wants_augmentation, with_overrides
from .base import ScoreInput, ScoreResult, register_score, to_numpy

LIRA_PARAM_RULES = {"n_shadow": {"min": 4, "max": 4096, "hint": "shadow models (even)"},
                    "variant": {"choices": ["online", "offline"]}}
LIRA_DEFAULTS: dict[str, Any] = {
    "n_shadow": 16,  # even, >= 4; 16 is a usable minimum, 64+ research grade
    "epochs": 0,  # shadow training epochs; 0 = the original recipe's
    "variant": "online",  # online (IN + OUT Gaussians) | offline (OUT only)
    "queries": "auto",  # auto (flip too when the recipe augments with flips) | flip | none
    "fix_variance": "auto",  # auto (global σ when n_shadow < 64) | true | false
    "statistic": "scaled_logit",  # scaled_logit (log p/(1-p)) | hinge (z_y - max other logit)
    "model_batch": 0,  # shadow models trained at once with vmap; 0 = auto, 1 = one at a time
}

SD_FLOOR = 1e-3  # σ floor: a sample whose statistic never varies would otherwise give an infinite ratio
FPR_POINTS = (0.001, 0.01)


# ---------------------------------------------------------------------------------------------- statistics
def membership_statistic(logits: torch.Tensor, y: torch.Tensor, statistic: str = "scaled_logit") -> torch.Tensor:
    """φ per row: log(p_y / (1 − p_y)) = z_y − logsumexp_{j≠y} z_j (stable), or the hinge z_y − max_{j≠y} z_j."""
    logits = logits.float()
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf"))
    if statistic == "scaled_logit":
        return z_y - torch.logsumexp(others, dim=1)
    if statistic == "hinge":
        return z_y - others.max(dim=1).values
    raise ConfigError(f"Unknown LiRA statistic '{statistic}' (use scaled_logit or hinge).")


@torch.no_grad()
def query_statistics(model: torch.nn.Module, ds: ImageDataset, queries: Sequence[str], statistic: str,
                     split: str = "train", batch_size: int = 2048) -> torch.Tensor:
    """(n, Q) statistics of every sample of ``split`` under each query ("id" or "flip"); stays on the device."""
    x, _ = ds.split(split)
    idx = torch.arange(x.shape[0], device=x.device)
    was_training = model.training
    model.eval()
    out = []
    for s in range(0, idx.numel(), batch_size):
        xb, yb = get_batch(ds, idx[s:s + batch_size], split=split)
        cols = []
        for q in queries:
            xq = xb.flip(3) if q == "flip" else xb
            # float32 on purpose (no bf16 autocast): bf16 logits resolve ~0.06 at |z| ~ 10, the same order as the
            # IN/OUT differences LiRA measures; inference is cheap next to shadow training.
            logits = model(xq)
            cols.append(membership_statistic(logits, yb, statistic))
        out.append(torch.stack(cols, dim=1))
    model.train(was_training)
    return torch.cat(out)


def shadow_mask(n: int, n_shadow: int, seed: int) -> np.ndarray:
    """(S, N) bool in/out mask in complementary pairs: every sample is IN for exactly S/2 models."""
    if n_shadow < 4 or n_shadow % 2:
        raise ConfigError(f"LiRA needs an even number of shadow models, at least 4 (got {n_shadow}); 16 is a usable "
                          f"minimum, 64+ research grade.")
    if n < 2:
        raise ConfigError("LiRA needs at least 2 training samples.")
    rng = np.random.default_rng([int(seed), 0x4C495241])
    mask = np.zeros((n_shadow, n), dtype=bool)
    half = n // 2
    for k in range(0, n_shadow, 2):
        perm = rng.permutation(n)
        mask[k, perm[:half]] = True
        mask[k + 1, perm[half:]] = True
    return mask


# ---------------------------------------------------------------------------------------------- shadow models
@dataclass
class ShadowSet:
    mask: torch.Tensor  # (S, N) bool, on the data's device
    stats: torch.Tensor  # (S, N, Q) float32 statistics of every training sample under every shadow model
    queries: tuple[str, ...]
    n_trained: int  # trained in this call
    n_loaded: int  # reused from checkpoints
    train_seconds: float
    model_batch: int
    key: str


def _parse_params(p: dict) -> dict:
    q = dict(p)
    try:
        q["n_shadow"] = int(q["n_shadow"])
        q["epochs"] = int(q["epochs"])
        q["model_batch"] = int(q["model_batch"])
    except (TypeError, ValueError) as err:
        raise ConfigError(f"LiRA: n_shadow, epochs and model_batch must be integers ({err}).") from err
    if q["epochs"] < 0 or q["model_batch"] < 0:
        raise ConfigError("LiRA: epochs and model_batch must be >= 0 (0 = automatic).")
    if q["variant"] not in ("online", "offline"):
        raise ConfigError(f"Unknown LiRA variant '{q['variant']}' (use online or offline).")
    if q["queries"] not in ("auto", "flip", "none"):
        raise ConfigError(f"Unknown LiRA queries '{q['queries']}' (use auto, flip or none).")
    if q["statistic"] not in ("scaled_logit", "hinge"):
        raise ConfigError(f"Unknown LiRA statistic '{q['statistic']}' (use scaled_logit or hinge).")
    fv = q["fix_variance"]
    if isinstance(fv, str):
        fv = fv.strip().lower()
        if fv == "auto":
            fv = q["n_shadow"] < 64
        elif fv in ("true", "1", "yes"):
            fv = True
        elif fv in ("false", "0", "no"):
            fv = False
        else:
            raise ConfigError(f"LiRA fix_variance must be auto, true or false (got '{q['fix_variance']}').")
    q["fix_variance"] = bool(fv)
    return q


def _queries(ds: ImageDataset, cfg: TrainConfig, mode: str) -> tuple[str, ...]:
    if mode == "flip" or (mode == "auto" and wants_augmentation(ds, cfg.augment)):
        return ("id", "flip")
    return ("id",)


def _row_sha(row: np.ndarray) -> str:
    return hashlib.sha256(np.packbits(row).tobytes()).hexdigest()[:16]


def ensure_shadows(inp: ScoreInput, p: dict) -> ShadowSet:
    """Load the stored shadow models' statistics, train the missing models (in vmapped groups) and return them.

    Each shadow model is a run of its own in the store (kind ``lira_shadow``, keyed by the data, model, recipe,
    seed and its exact IN mask), and its query statistics another (``lira_stats``); so an interrupted bank
    resumes where it stopped and every LiRA score over the same shadows reuses them.
    """
    ds = inp.ds
    device = ds.device
    n, s_count = ds.n_train, p["n_shadow"]
    cfg = with_overrides(inp.train_cfg, epochs=p["epochs"] or None).validate()
    queries = _queries(ds, inp.train_cfg, p["queries"])
    mask_np = shadow_mask(n, s_count, inp.seed)
    bank = {"dataset": ds.fingerprint(), "model": inp.model_name, "train_cfg": cfg.to_dict(), "n_shadow": s_count,
            "seed": inp.seed}
    key = config_key({"kind": "lira_shadows", **bank})
    store = inp.store
    stats = torch.empty(s_count, n, len(queries), device=device)
    missing: list[int] = []
    model_cfgs, stat_cfgs = {}, {}
    for m in range(s_count):
        model_cfgs[m] = {"kind": "lira_shadow", **bank, "shadow": m, "mask_sha": _row_sha(mask_np[m])}
        stat_cfgs[m] = {"kind": "lira_stats", "shadow": config_key(model_cfgs[m]), "statistic": p["statistic"],
                        "queries": list(queries)}
        st = _load_shadow_stats(inp, model_cfgs[m], stat_cfgs[m], queries, p["statistic"]) if store else None
        if st is None:
            missing.append(m)
        else:
            stats[m] = st
    n_loaded = s_count - len(missing)
    batch = p["model_batch"] or auto_model_batch(inp.model_name, ds, max(len(missing), 1), cfg)
    groups = [missing[i:i + batch] for i in range(0, len(missing), batch)]
    t0 = time.perf_counter()
    done = 0
    for group in groups:
        sub = inp.ctx.sub(done / max(len(missing), 1), (done + len(group)) / max(len(missing), 1))
        seeds = [shadow_seed(inp.seed, m) for m in group]
        idx_sets = [torch.from_numpy(np.flatnonzero(mask_np[m])) for m in group]
        what = f"LiRA shadow models {group[0] + 1}-{group[-1] + 1}/{s_count}"
        if len(group) == 1 and batch == 1:
            models = [train_model(inp.model_name, ds, idx_sets[0], cfg, seeds[0], ctx=sub, what=what)]
        else:
            models = train_ensemble(inp.model_name, ds, idx_sets, cfg, seeds, ctx=sub, what=what)
        for m, model in zip(group, models):
            st = query_statistics(model, ds, queries, p["statistic"])
            stats[m] = st
            if store is not None:  # weights first: statistics are only ever derived from a stored model
                store.put("lira_shadow", model_cfgs[m], model, fmt="model", meta={"model": inp.model_name})
                store.put("lira_stats", stat_cfgs[m], {"stats": st}, fmt="arrays")
        done += len(group)
        # Reported after the group is stored: a cancel here loses no finished model.
        inp.ctx.progress(done / max(len(missing), 1), f"LiRA: {n_loaded + done}/{s_count} shadow models ready")
    return ShadowSet(torch.from_numpy(mask_np).to(device), stats, queries, len(missing), n_loaded,
                     time.perf_counter() - t0, batch, key)


def _load_shadow_stats(inp: ScoreInput, model_cfg: dict, stat_cfg: dict, queries: tuple[str, ...],
                       statistic: str) -> torch.Tensor | None:
    """Statistics (N, Q) of a stored shadow model (computed from its weights if only those are stored)."""
    ds, store = inp.ds, inp.store
    got = store.lookup("lira_stats", stat_cfg, "arrays")
    if got is not None and tuple(got[0]["stats"].shape) == (ds.n_train, len(queries)):
        return torch.from_numpy(got[0]["stats"]).to(ds.device).float()
    weights = store.lookup("lira_shadow", model_cfg, "model")
    if weights is None:
        return None
    model = new_model(inp.model_name, ds, 0, ds.device)
    try:
        model.load_state_dict(weights[0])
    except RuntimeError as err:
        inp.ctx.log(f"LiRA: a stored shadow model does not fit ({err}); retraining it.")
        return None
    st = query_statistics(model, ds, queries, statistic)
    store.put("lira_stats", stat_cfg, {"stats": st}, fmt="arrays")
    return st


def shadow_seed(seed: int, m: int) -> int:
    return 10_000 * (int(seed) + 1) + m


# ---------------------------------------------------------------------------------------------- the attack
def _gauss_logpdf(x: torch.Tensor, mu: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((x - mu) / sd) ** 2 - torch.log(sd) - 0.5 * math.log(2 * math.pi)


def _fit(total: torch.Tensor, total_sq: torch.Tensor, count: torch.Tensor, fix_variance: bool
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and σ from sums; σ is per sample, or (fix_variance) the median over samples (dim −2)."""
    c = count.clamp_min(1.0)
    mu = total / c
    sd = (total_sq / c - mu * mu).clamp_min(0.0).sqrt()
    if fix_variance:
        sd = sd.median(dim=-2, keepdim=True).values.expand_as(sd)
    return mu, sd.clamp_min(SD_FLOOR)


def _attack(x: torch.Tensor, mu_in: torch.Tensor, sd_in: torch.Tensor, mu_out: torch.Tensor, sd_out: torch.Tensor,
            variant: str) -> torch.Tensor:
    """Membership score per sample, averaged over queries (last dim). Higher = more likely a member."""
    if variant == "online":
        llr = _gauss_logpdf(x, mu_in, sd_in) - _gauss_logpdf(x, mu_out, sd_out)
    else:
        llr = torch.special.log_ndtr((x - mu_out) / sd_out)
    return llr.mean(-1)


def loo_scores(stats: torch.Tensor, mask: torch.Tensor, variant: str, fix_variance: bool) -> torch.Tensor:
    """(S, N) score of sample n under shadow t, Gaussians fitted on the other S − 1 shadows (vectorised)."""
    x = stats.double()
    m_in = mask.double()[:, :, None]
    m_out = 1.0 - m_in
    sums = {}
    for name, w in (("in", m_in), ("out", m_out)):
        tot, sq, cnt = (x * w).sum(0), (x * x * w).sum(0), w.sum(0)
        # Leave target t out: subtract its own contribution.
        sums[name] = _fit(tot[None] - x * w, sq[None] - x * x * w, cnt[None] - w, fix_variance)
    return _attack(x, *sums["in"], *sums["out"], variant).float()


def full_fit_scores(target_stats: torch.Tensor, stats: torch.Tensor, mask: torch.Tensor, variant: str,
                    fix_variance: bool) -> torch.Tensor:
    """(N,) score of a target model (e.g. θ_o) with Gaussians fitted on all shadows."""
    x = stats.double()
    m_in = mask.double()[:, :, None]
    fits = [_fit((x * w).sum(0), (x * x * w).sum(0), w.sum(0), fix_variance) for w in (m_in, 1.0 - m_in)]
    return _attack(target_stats.double(), *fits[0], *fits[1], variant).float()


def calibrate_threshold(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Global threshold with the best accuracy over all (target, sample) pairs (predict IN when score > τ)."""
    s = scores.reshape(-1).float()
    lab = labels.reshape(-1).float()
    order = torch.argsort(s)
    s, lab = s[order], lab[order]
    # Cut before position i: positions < i predicted OUT, >= i IN.
    out_below = torch.cat([torch.zeros(1, device=s.device), torch.cumsum(1.0 - lab, 0)])
    in_above = lab.sum() - torch.cat([torch.zeros(1, device=s.device), torch.cumsum(lab, 0)])
    i = int(torch.argmax(out_below + in_above).item())
    if i == 0:
        return float(s[0].item()) - 1.0
    if i == s.numel():
        return float(s[-1].item()) + 1.0
    return float((s[i - 1] + s[i]).item() / 2)


def attack_quality(scores: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """ROC AUC and TPR at 0.1% / 1% FPR with each shadow as the target; mean ± std over targets."""
    from sklearn.metrics import roc_auc_score, roc_curve

    aucs, tprs = [], {f: [] for f in FPR_POINTS}
    for t in range(scores.shape[0]):
        y = mask[t].astype(int)
        if y.min() == y.max():
            continue
        aucs.append(float(roc_auc_score(y, scores[t])))
        fpr, tpr, _ = roc_curve(y, scores[t])
        for f in FPR_POINTS:
            ok = fpr <= f
            tprs[f].append(float(tpr[ok].max()) if ok.any() else 0.0)
    out: dict[str, Any] = {"auc_mean": float(np.mean(aucs)), "auc_std": float(np.std(aucs)), "auc_per_target": aucs}
    for f in FPR_POINTS:
        out[f"tpr_at_{f * 100:g}pct_fpr_mean"] = float(np.mean(tprs[f]))
        out[f"tpr_at_{f * 100:g}pct_fpr_std"] = float(np.std(tprs[f]))
    out["n_non_members_per_target"] = int((~mask[0]).sum())
    return out


@dataclass
class LiraOutcome:
    asr: np.ndarray  # (N,)
    original_score: np.ndarray  # (N,)
    extras: dict[str, Any]
    arrays: dict[str, np.ndarray]


def run_lira(inp: ScoreInput) -> LiraOutcome:
    """Shadow models (resumable) -> leave-one-model-out attack -> per-sample ASR, θ_o scores, attack quality."""
    p = _parse_params({**LIRA_DEFAULTS, **inp.params})
    t0 = time.perf_counter()
    sh = ensure_shadows(inp, p)
    mask = sh.mask
    quality = {}
    chosen = None
    for variant in ("online", "offline"):
        sc = loo_scores(sh.stats, mask, variant, p["fix_variance"])
        quality[variant] = attack_quality(to_numpy(sc), mask.cpu().numpy())
        if variant == p["variant"]:
            chosen = sc
    thr = 0.0 if p["variant"] == "online" else calibrate_threshold(chosen, mask)
    correct = ((chosen > thr) == mask).float()
    asr = correct.mean(0)
    target = query_statistics(inp.original, inp.ds, sh.queries, p["statistic"])
    orig = full_fit_scores(target, sh.stats, mask, p["variant"], p["fix_variance"])
    mean_in = (sh.stats.mean(-1) * mask).sum(0) / mask.sum(0).clamp_min(1)
    mean_out = (sh.stats.mean(-1) * ~mask).sum(0) / (~mask).sum(0).clamp_min(1)
    extras = {
        "params": p, "n_shadow": p["n_shadow"], "n_trained": sh.n_trained, "n_loaded": sh.n_loaded,
        "model_batch": sh.model_batch, "training": "one at a time" if sh.model_batch == 1 else "vmap ensemble",
        "shadow_train_seconds": sh.train_seconds, "total_seconds": time.perf_counter() - t0,
        "queries": list(sh.queries), "threshold": thr, "shadow_key": sh.key,
        "attack_quality": quality[p["variant"]], "attack_quality_online": quality["online"],
        "attack_quality_offline": quality["offline"],
        "attack_accuracy_loo": float(correct.mean().item()),
        "original_flagged_member_fraction": float((orig > thr).float().mean().item()),
        "mean_asr": float(asr.mean().item()),
    }
    arrays = {"original_score": to_numpy(orig), "asr": to_numpy(asr), "stat_mean_in": to_numpy(mean_in),
              "stat_mean_out": to_numpy(mean_out), "stat_original": to_numpy(target.mean(-1))}
    return LiraOutcome(to_numpy(asr), to_numpy(orig), extras, arrays)


def lira_cost(params: dict, n: int, recipe, m: int | None) -> float:
    """Sample passes: n_shadow models trained on half the data each, plus their query statistics (upper bound:
    shadow models already stored are free)."""
    epochs = int(params.get("epochs") or 0) or recipe.epochs
    return int(params["n_shadow"]) * (epochs * n / 2 + 2 * n / 3)


@register_score("lira_asr", label="LiRA ASR", hard_end="low", defaults=LIRA_DEFAULTS, expensive=True, cost=lira_cost,
                param_rules=LIRA_PARAM_RULES,
                description="Per-sample attack success rate of LiRA over shadow models (Chen et al., Eq. 1; Carlini et "
                            "al. 2022), leave-one-model-out. High ASR = privacy-exposed, and EASIER to forget "
                            "(Chen et al.). Trains n_shadow shadow models (checkpointed, resumable).")
def lira_asr_score(inp: ScoreInput) -> ScoreResult:
    out = run_lira(inp)
    return ScoreResult(out.asr, extras=out.extras, arrays=out.arrays)


@register_score("lira_score", label="LiRA score of θ_o", hard_end="low", defaults=LIRA_DEFAULTS, expensive=True,
                cost=lira_cost, param_rules=LIRA_PARAM_RULES,
                description="LiRA membership score (log-likelihood ratio, online; log one-sided p, offline) of the "
                            "original model on each sample, from the same shadow models as lira_asr. High = "
                            "memorised / exposed, easier to forget (Chen et al.).")
def lira_original_score(inp: ScoreInput) -> ScoreResult:
    out = run_lira(inp)
    return ScoreResult(out.original_score, extras=out.extras, arrays=out.arrays)
