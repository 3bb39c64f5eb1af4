"""Privacy metrics that need more than one model evaluation: relearn time (Chen et al., Forgetting Sequence) and the F-score / epsilon of
Akbari et al., Machine Unlearning §2.1 (Eq. 2; the NeurIPS 2023 unlearning-competition metric).

Relearn time (Chen et al., Forgetting Sequence, "Evaluation Metric")
    Fine-tune a copy of the unlearned model on D_f (cross-entropy, SGD) and count the optimizer steps until its
    accuracy on D_f recovers to the original model's. Few steps = the model kept knowledge of D_f. Capped at
    ``max_steps``; when never reached the cap is returned with ``reached=False``.

F-score / epsilon (Akbari et al., Machine Unlearning §2.1)
    For each forget sample, a scalar output (default: cross-entropy w.r.t. the true label, as Akbari et al., Machine Unlearning §4) of K_u
    unlearned models and K_r retrained models (different seeds) form two empirical distributions. Every threshold
    attack (predict "unlearned" when the output is above, or below, a threshold placed at each observed value)
    gives an FPR/FNR pair (positives = unlearned models), and
        ε = sup_attacks max( log(1 − δ − FPR) − log(FNR),  log(1 − δ − FNR) − log(FPR) )        (Eq. 2).
    As in the competition's scoring code, an attack with FPR = FNR = 0 (perfect separation) gives ε = ∞ and one
    with exactly one of them 0 is discarded (its bound is infinite only because of the finite number of models).
    Per-sample score f(ε) = 2 / 2^b with b the index of ε's bucket (width ``bin_width``, 0.5; b = 1 for
    ε < 0.5, ..., capped at ``n_bins``); forget quality F = mean over D_f of f(ε) in [0, 1] (Akbari et al., Machine Unlearning writes a sum;
    the mean makes sets of different sizes comparable). Final score = F × g with the utility factor
    g = (RA_u / RA_r) · (TA_u / TA_r) (mean accuracies of the unlearned and retrained models).
    Reliability: with K models per side the smallest non-zero rate is 1/K, so identical distributions produce
    spurious separations when K is small; Akbari et al., Machine Unlearning uses K = 32, the competition 512. Below ``min_models`` a
    warning is issued and ``reliable=False``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .data import ImageDataset
from .device import autocast
from .errors import ConfigError
from .training import accuracy, as_index_tensor, clone_model, get_batch, predict_logits, make_generator


# ---------------------------------------------------------------------------------------------- relearn time
@dataclass
class RelearnResult:
    steps: int  # optimizer steps until forget accuracy >= target (max_steps when not reached)
    reached: bool
    target_accuracy: float  # the original model's accuracy on D_f (minus tolerance)
    start_accuracy: float  # the unlearned model's accuracy on D_f before relearning
    final_accuracy: float
    max_steps: int
    curve: list[float] = field(default_factory=list)  # forget accuracy after each step (until stop)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("steps", "reached", "target_accuracy", "start_accuracy",
                                              "final_accuracy", "max_steps", "curve")}


def relearn_time(unlearned_model: torch.nn.Module, original_model: torch.nn.Module, ds: ImageDataset, forget_idx,
                 lr: float = 0.01, batch_size: int = 64, momentum: float = 0.9, max_steps: int = 1000,
                 tolerance: float = 0.0, check_every: int = 10, seed: int = 0) -> RelearnResult:
    """Steps of fine-tuning on D_f until D_f accuracy ≥ the original's − ``tolerance`` (Chen et al., Forgetting Sequence relearn time).

    The unlearned model is copied, never modified. Forget accuracy is evaluated after every step on the device and
    compared on the host only every ``check_every`` steps (one sync per chunk); the reported step is still the first
    step at which the target was met. 0 means the unlearned model already matched the original on D_f.
    """
    device = ds.device
    f_idx = as_index_tensor(forget_idx, device)
    if f_idx.numel() == 0:
        raise ConfigError("Relearn time needs a non-empty forget set.")
    if max_steps < 1 or lr <= 0 or batch_size < 1 or check_every < 1:
        raise ConfigError("Relearn time needs max_steps >= 1, lr > 0, batch_size >= 1 and check_every >= 1.")
    target = accuracy(original_model, ds, "train", f_idx) - float(tolerance)
    model = clone_model(unlearned_model)
    start = accuracy(model, ds, "train", f_idx)
    if start >= target:
        return RelearnResult(0, True, target, start, start, max_steps, [])
    _, y_all = ds.split("train")
    y_f = y_all[f_idx]
    gen = make_generator(seed)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=momentum)
    pending: list[torch.Tensor] = []
    curve: list[float] = []
    step = 0
    while step < max_steps:
        perm = torch.randperm(f_idx.numel(), generator=gen).to(device)
        for s in range(0, f_idx.numel(), batch_size):
            xb, yb = get_batch(ds, f_idx[perm[s:s + batch_size]])
            # Train mode, except for a batch of one sample, where BatchNorm cannot compute batch statistics.
            model.train(xb.shape[0] > 1)
            with autocast(device):
                loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            # Forget accuracy after this step, kept on the device (no per-step host sync).
            pending.append((predict_logits(model, ds, "train", f_idx).argmax(1) == y_f).float().mean())
            if len(pending) == check_every or step == max_steps:
                accs = torch.stack(pending).tolist()  # one host transfer per chunk of steps
                first = next((i for i, a in enumerate(accs) if a >= target), None)
                done_before = step - len(accs)
                if first is not None:
                    curve.extend(accs[:first + 1])
                    return RelearnResult(done_before + first + 1, True, target, start, accs[first], max_steps, curve)
                curve.extend(accs)
                pending = []
            if step >= max_steps:
                break
    return RelearnResult(max_steps, False, target, start, curve[-1] if curve else start, max_steps, curve)


# ---------------------------------------------------------------------------------------------- F-score / epsilon
STATISTICS = ("loss", "scaled_logit", "confidence")


def output_statistic(logits: torch.Tensor, y: torch.Tensor, statistic: str = "loss") -> torch.Tensor:
    """Scalar output per sample: cross-entropy (default, Akbari et al., Machine Unlearning §4), log(p_y/(1−p_y)), or p_y."""
    logits = logits.float()
    if statistic == "loss":
        return F.cross_entropy(logits, y, reduction="none")
    if statistic == "scaled_logit":
        z_y = logits.gather(1, y[:, None]).squeeze(1)
        return z_y - torch.logsumexp(logits.scatter(1, y[:, None], float("-inf")), dim=1)
    if statistic == "confidence":
        return torch.softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
    raise ConfigError(f"Unknown output statistic '{statistic}' (use {', '.join(STATISTICS)}).")


def threshold_attack_rates(u: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FPR and FNR of every single-threshold attack, per sample, positives = unlearned.

    ``u``: (K_u, n) outputs of the unlearned models, ``r``: (K_r, n) of the retrained ones. Thresholds are all
    observed values of the sample (both directions: "unlearned if above" and "unlearned if at or below").
    Returns (fpr, fnr), each (2·(K_u + K_r), n). Vectorised with batched searchsorted over samples.
    """
    u, r = u.double(), r.double()
    thr = torch.cat([u, r], 0).T.contiguous()  # (n, T)
    u_sorted = torch.sort(u.T.contiguous(), dim=1).values  # (n, K_u)
    r_sorted = torch.sort(r.T.contiguous(), dim=1).values
    # Fraction of values <= threshold.
    u_le = torch.searchsorted(u_sorted, thr, right=True).double() / u.shape[0]
    r_le = torch.searchsorted(r_sorted, thr, right=True).double() / r.shape[0]
    # "Unlearned if > t": TPR = 1 − u_le, FPR = 1 − r_le.  "Unlearned if <= t": TPR = u_le, FPR = r_le.
    fpr = torch.cat([1.0 - r_le, r_le], 1).T
    fnr = torch.cat([u_le, 1.0 - u_le], 1).T
    return fpr, fnr


def epsilon_from_rates(fpr: torch.Tensor, fnr: torch.Tensor, delta: float) -> torch.Tensor:
    """Per-sample ε = sup over attacks (dim 0) of Eq. 2, with the competition's handling of zero rates."""
    both_zero = (fpr == 0) & (fnr == 0)
    one_zero = (fpr == 0) ^ (fnr == 0)
    # log of a negative number (a rate above 1 − δ) is NaN in torch, silently.
    e1 = torch.log(1.0 - delta - fpr) - torch.log(fnr)
    e2 = torch.log(1.0 - delta - fnr) - torch.log(fpr)
    e = torch.fmax(e1, e2)  # fmax ignores a NaN (log of a negative number) when the other term is defined
    e = torch.where(torch.isnan(e), torch.full_like(e, math.inf), e)  # both undefined: no finite bound
    e = torch.where(one_zero, torch.full_like(e, -math.inf), e)  # discarded attacks
    e = torch.where(both_zero, torch.full_like(e, math.inf), e)
    eps = e.max(0).values
    return eps.clamp_min(0.0)  # no attack at all (or only weak ones): ε = 0


def epsilon_bucket_score(eps: torch.Tensor, bin_width: float = 0.5, n_bins: int = 13) -> torch.Tensor:
    """f(ε) = 2 / 2^b, b = 1 + floor(ε / bin_width) capped at n_bins (1 for ε < bin_width, ≈ 0 for ε = ∞)."""
    b = torch.floor(eps / bin_width).clamp(max=n_bins - 1) + 1
    b = torch.where(torch.isinf(eps), torch.full_like(b, float(n_bins)), b)
    return 2.0 / torch.pow(2.0, b)


@dataclass
class FScoreResult:
    score: float  # F × utility
    forget_quality: float  # F = mean over D_f of f(ε)
    utility: float
    epsilons: np.ndarray  # (n_f,) per forget sample
    sample_scores: np.ndarray  # (n_f,) f(ε)
    n_unlearned: int
    n_retrained: int
    reliable: bool
    warning: str | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        finite = self.epsilons[np.isfinite(self.epsilons)]
        return {"score": self.score, "forget_quality": self.forget_quality, "utility": self.utility,
                "epsilon_mean_finite": float(finite.mean()) if finite.size else float("nan"),
                "epsilon_median": float(np.median(self.epsilons)),
                "epsilon_inf_fraction": float(np.isinf(self.epsilons).mean()),
                "n_unlearned": self.n_unlearned, "n_retrained": self.n_retrained, "reliable": self.reliable,
                "warning": self.warning, **self.details}


def forget_fscore(unlearned_outputs, retrained_outputs, delta: float = 0.01, utility: float = 1.0,
                  min_models: int = 32, bin_width: float = 0.5, n_bins: int = 13) -> FScoreResult:
    """Seed 002 §2.1 F-score from per-model scalar outputs on D_f: (K_u, n_f) unlearned and (K_r, n_f) retrained.

    ``utility`` is the factor g multiplied in (see :func:`utility_factor`). Warns (and sets ``reliable=False``)
    when either side has fewer than ``min_models`` models.
    """
    u = torch.as_tensor(np.asarray(unlearned_outputs) if not isinstance(unlearned_outputs, torch.Tensor)
                        else unlearned_outputs).double()
    r = torch.as_tensor(np.asarray(retrained_outputs) if not isinstance(retrained_outputs, torch.Tensor)
                        else retrained_outputs).double().to(u.device)
    if u.ndim != 2 or r.ndim != 2 or u.shape[1] != r.shape[1]:
        raise ConfigError(f"F-score needs (models, forget samples) outputs with the same number of samples; got "
                          f"{tuple(u.shape)} and {tuple(r.shape)}.")
    if u.shape[0] < 2 or r.shape[0] < 2:
        raise ConfigError("F-score needs at least 2 unlearned and 2 retrained models (Akbari et al., Machine Unlearning uses 32).")
    if u.shape[1] == 0:
        raise ConfigError("F-score needs a non-empty forget set.")
    if not (0 <= delta < 1):
        raise ConfigError(f"delta must be in [0, 1), got {delta}.")
    k = min(u.shape[0], r.shape[0])
    warning = None
    if k < min_models:
        warning = (f"F-score from {u.shape[0]} unlearned and {r.shape[0]} retrained models: fewer than {min_models} "
                   f"per side, so ε is dominated by sampling noise (the smallest non-zero rate is 1/{k}); Akbari et al., Machine Unlearning "
                   f"uses 32 models per side, the NeurIPS 2023 competition 512.")
        warnings.warn(warning, stacklevel=2)
    fpr, fnr = threshold_attack_rates(u, r)
    eps = epsilon_from_rates(fpr, fnr, delta)
    per_sample = epsilon_bucket_score(eps, bin_width, n_bins)
    fq = float(per_sample.mean().item())
    return FScoreResult(fq * utility, fq, float(utility), eps.cpu().numpy(), per_sample.cpu().numpy(),
                        int(u.shape[0]), int(r.shape[0]), warning is None, warning,
                        {"delta": delta, "bin_width": bin_width, "n_bins": n_bins, "min_models": min_models})


def utility_factor(ra_u: float, ta_u: float, ra_r: float, ta_r: float) -> float:
    """g = (RA_u / RA_r) · (TA_u / TA_r): the competition's utility factor (accuracies in the same units)."""
    if ra_r <= 0 or ta_r <= 0:
        raise ConfigError("Retrained accuracies must be positive for the utility factor.")
    return float((ra_u / ra_r) * (ta_u / ta_r))


@torch.no_grad()
def model_outputs(models: Sequence[torch.nn.Module], ds: ImageDataset, idx, statistic: str = "loss",
                  split: str = "train") -> torch.Tensor:
    """(K, n) scalar outputs of each model on samples ``idx`` of ``split`` (stays on the device)."""
    idx_t = as_index_tensor(idx, ds.device)
    _, y = ds.split(split)
    y_i = y[idx_t]
    return torch.stack([output_statistic(predict_logits(m, ds, split, idx_t), y_i, statistic) for m in models])


def fscore_from_models(unlearned: Sequence[torch.nn.Module], retrained: Sequence[torch.nn.Module], ds: ImageDataset,
                       forget_idx, retain_idx=None, statistic: str = "loss", delta: float = 0.01,
                       min_models: int = 32, bin_width: float = 0.5, n_bins: int = 13) -> FScoreResult:
    """F-score of a set of unlearned models against a set of retrained ones (different seeds).

    Outputs on D_f with ``statistic``; utility factor from the mean retain (``retain_idx``; default: the training
    samples outside D_f) and test accuracies of each set.
    """
    device = ds.device
    f_idx = as_index_tensor(forget_idx, device)
    if retain_idx is None:
        keep = torch.ones(ds.n_train, dtype=torch.bool, device=device)
        keep[f_idx] = False
        r_idx = torch.nonzero(keep).squeeze(1)
    else:
        r_idx = as_index_tensor(retain_idx, device)
    out_u = model_outputs(unlearned, ds, f_idx, statistic)
    out_r = model_outputs(retrained, ds, f_idx, statistic)

    def mean_acc(models, split, idx=None) -> float:
        return float(np.mean([accuracy(m, ds, split, idx) for m in models]))

    ra_u, ta_u = mean_acc(unlearned, "train", r_idx), mean_acc(unlearned, "test")
    ra_r, ta_r = mean_acc(retrained, "train", r_idx), mean_acc(retrained, "test")
    g = utility_factor(ra_u, ta_u, ra_r, ta_r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re-issued below with the caller's stack level
        res = forget_fscore(out_u, out_r, delta, g, min_models, bin_width, n_bins)
    if res.warning:
        warnings.warn(res.warning, stacklevel=2)
    res.details.update({"statistic": statistic, "ra_unlearned": ra_u, "ta_unlearned": ta_u,
                        "ra_retrained": ra_r, "ta_retrained": ta_r})
    return res
