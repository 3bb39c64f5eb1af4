"""Per-example forgetting quality from model banks: many unlearned vs many retrained models, per example.

Inputs are (N, S) arrays: a per-example statistic of S examples under N models of a bank. The statistic is the
logit-scaled confidence (Triantafillou et al.) which equals the margin of KLoM (Georgiev et al.):

    φ(x) = log p_y − log(1 − p_y) = z_y − logsumexp_{j≠y} z_j            (stable, from the logits z)

ε per example (Triantafillou et al., "Are we making progress in unlearning? Findings from the first NeurIPS
unlearning competition", 2024; public code google-deepmind/unlearning_evaluation)
    Two samples of φ: under N unlearned and N retrained models. "Positive" is the bank with the larger median.
    Every test of two families is tried: single threshold (predict positive when φ ≥ t) and double threshold
    (predict the peakier bank — the one with the smaller range — when l ≤ φ ≤ r, with r − l within ±2 of that
    bank's range, as the reference code's grid). For each test with rates FPR, FNR:
        ε = max(log(1 − δ − FPR) − log FNR,  log(1 − δ − FNR) − log FPR),  clipped at 0, δ = 1e-5;
    a test with FPR = FNR = 0 (perfect separation) gives ε = ∞; a test with exactly one of them 0 is discarded
    (too few samples to see a rate that small). ε(x) = max over tests, capped at ``EPSILON_CAP`` = 50. An
    unlearned bank whose range is < 1% of the other's ("peaky") gets the cap, as in the reference. Tests are
    evaluated exactly at the sample points (the reference uses a 0.01-spaced grid: the same up to that spacing).
    With N models a finite ε is at most ≈ log(N − 1): the resolution of the test.

Points and F
    Buckets of width 0.5 from 0 up to ⌈log(N − 1)⌉: ε in [0, 0.5) scores 1, [0.5, 1) ½, [1, 1.5) ¼, ...; beyond
    the last bucket 0. F = mean points over the forget set. Final score = F × (RA_u / RA_r) × (TA_u / TA_r), mean
    accuracies over each bank's models. Standard error of F: sample std of the points / √S (over examples, the
    models held fixed).

The small-N estimator (``estimator="gauss"``, the default)
    The threshold test maximises over ~2N noisy empirical rates, so two banks of *the same* distribution already
    give ε ≈ 1.6 by chance at every N ≤ 64 (measured in docs/forget_quality.md against two independent Retrain
    banks, benchmarks/fq_bias.py). The Gaussian fit replaces the empirical rates by those of a per-example Gaussian
    fit of each bank, with the two parameters that separate the banks shrunk to the edge of their 95% intervals
    nearer "no difference" (z = 1.96):
        Δμ_c = sign(Δμ̂)·max(0, |Δμ̂| − z·√(s_u²/N_u + s_r²/N_r))
        Δℓ_c = sign(Δℓ̂)·max(0, |Δℓ̂| − z·√(1/(2(N_u − 1)) + 1/(2(N_r − 1))))      (ℓ = log σ; Var ℓ̂ ≈ 1/(2(N − 1)))
    The unlearned Gaussian is N(μ_r + Δμ_c, (s_r e^{Δℓ_c})²), the retrained one N(μ_r, s_r²); ε is computed from
    the same two test families with Gaussian rates, and — to stay on the same scale as the threshold test —
    rates below 1/N count as 0 (the resolution of N models). Points and F as above. Its null bias is ≤ 0.06; it is
    biased *down* for real differences smaller than the noise of N models.

KLoM (Georgiev et al., "Attribute-to-Delete: Machine Unlearning via Datamodel Matching", 2024; public code
data-unlearning-bench)
    Per example, the margins under N unlearned and N oracle (retrained) models are clipped to ±100 and binned in
    20 equal bins over their joint range; KLoM = KL(unlearned ‖ oracle) = Σ p log(p / max(q, 1e-5)) over bins
    with p > 0. Reported: the 95th percentile of KLoM over each split (forget, a retain sample, test), with a
    bootstrap 95% interval over examples. (The last bin includes its right edge; the reference's digitize drops
    values equal to the maximum.)

These are the numeric kernels. The measures built on them (F, score, KLoM P95 per split, U-LiRA accuracy, each with
its standard error or interval) are registered metrics of kind ``bank`` (:mod:`unlearn_core.metrics.bank_quality`),
computed together by :func:`unlearn_core.metrics.bank_evaluation.compare_banks`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import ndtr

DELTA = 1e-5
EPSILON_CAP = 50.0
BUCKET_WIDTH = 0.5
DOUBLE_THRESHOLD_BUFFER = 2.0  # the reference's interval widths: peaky range ± 2
PEAKY_RATIO = 0.01
KLOM_BINS = 20
KLOM_CLIP = 100.0
KLOM_EPS = 1e-5
ESTIMATORS = ("threshold", "gauss")
DEFAULT_ESTIMATOR = "gauss"
ULIRA_MIN_MODELS = 8  # below this a per-example Gaussian fit from N − 1 models is too noisy to report


# ---------------------------------------------------------------------------------------------- statistic
def margins(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """φ = z_y − logsumexp_{j≠y} z_j = log p_y − log(1 − p_y), computed from the logits (stays finite)."""
    logits = logits.float()
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf"))
    return z_y - torch.logsumexp(others, dim=1)


# ---------------------------------------------------------------------------------------------- ε
def _eps_of_rates(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> float:
    """max over tests of the (ε, δ) bound of one test's rates (module docstring); NaN if every test is discarded."""
    fpr, fnr = np.asarray(fpr, float), np.asarray(fnr, float)
    both = (fpr == 0) & (fnr == 0)
    if both.any():
        return math.inf
    keep = (fpr > 0) & (fnr > 0)
    if not keep.any():
        return math.nan
    f, n = fpr[keep], fnr[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        e1 = np.log(1 - delta - f) - np.log(n)
        e2 = np.log(1 - delta - n) - np.log(f)
    e = np.fmax(e1, e2)
    return float(np.clip(np.nanmax(e), 0, None)) if np.isfinite(e).any() else math.nan


def _peaky(u: np.ndarray, r: np.ndarray) -> float | None:
    """The reference's guard: a bank whose range is < 1% of the other's gets the cap (None = not peaky)."""
    du, dr = float(u.max() - u.min()), float(r.max() - r.min())
    big, small = max(du, dr), min(du, dr)
    if big == 0:
        return 0.0 if u[0] == r[0] else EPSILON_CAP
    return EPSILON_CAP if small / big < PEAKY_RATIO else None


def epsilon_threshold_one(u: np.ndarray, r: np.ndarray, delta: float = DELTA) -> float:
    """ε of one example from samples ``u`` (unlearned) and ``r`` (retrained): best single / double threshold test."""
    u, r = np.asarray(u, np.float64), np.asarray(r, np.float64)
    p = _peaky(u, r)
    if p is not None:
        return p
    pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
    vals = np.unique(np.concatenate([pos, neg]))
    # single threshold: predict positive when φ >= t, t at every sample value and above all of them
    t = np.append(vals, np.inf)
    fpr_s = 1.0 - np.searchsorted(np.sort(neg), t, side="left") / neg.size
    fnr_s = np.searchsorted(np.sort(pos), t, side="left") / pos.size
    # double threshold: predict the peakier bank inside [l, r]; covered sets = runs vals[i..j] whose achievable
    # widths [v_j − v_i, v_{j+1} − v_{i−1}) meet the reference's [w − 2, w + 2]
    peak, other = (pos, neg) if np.ptp(pos) < np.ptp(neg) else (neg, pos)
    w = float(np.ptp(peak))
    m = vals.size
    cp = np.concatenate([[0], np.cumsum(_counts(vals, peak))])
    co = np.concatenate([[0], np.cumsum(_counts(vals, other))])
    i, j = np.triu_indices(m)
    lo_w = vals[j] - vals[i]
    ext = np.concatenate([[-np.inf], vals, [np.inf]])
    hi_w = ext[j + 2] - ext[i]
    ok = (lo_w <= w + DOUBLE_THRESHOLD_BUFFER) & (hi_w > w - DOUBLE_THRESHOLD_BUFFER)
    i, j = i[ok], j[ok]
    tpr_d = (cp[j + 1] - cp[i]) / peak.size
    fpr_d = (co[j + 1] - co[i]) / other.size
    e = _eps_of_rates(np.concatenate([fpr_s, fpr_d]), np.concatenate([fnr_s, 1.0 - tpr_d]), delta)
    if math.isnan(e):
        return 0.0  # no test had both rates resolvable: no evidence of a difference
    return float(min(e, EPSILON_CAP))


def _counts(vals: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """How many entries of ``sample`` equal each of the sorted unique ``vals``."""
    s = np.sort(sample)
    return np.searchsorted(s, vals, side="right") - np.searchsorted(s, vals, side="left")


def _gauss_rates_eps(mu_u: float, sd_u: float, mu_r: float, sd_r: float, n: int, delta: float,
                     grid: int = 160) -> float:
    """ε of two Gaussians over the single- and double-threshold families, rates below 1/n counted as 0."""
    if sd_u == sd_r and mu_u == mu_r:
        return 0.0
    (mp, sp), (mn, sn) = ((mu_r, sd_r), (mu_u, sd_u)) if mu_r > mu_u else ((mu_u, sd_u), (mu_r, sd_r))
    lo = min(mp - 8 * sp, mn - 8 * sn)
    hi = max(mp + 8 * sp, mn + 8 * sn)
    t = np.linspace(lo, hi, grid)
    floor = 1.0 / n

    def snap(x):
        return np.where(x < floor, 0.0, x)

    # Φ through scipy.special.ndtr directly: the same values as scipy.stats.norm.cdf / .sf (which compute
    # ndtr((t − μ)/σ) and ndtr(−(t − μ)/σ)) without its per-call argument handling (profiled: most of the time)
    fpr_s = snap(ndtr(-((t - mn) / sn)))
    fnr_s = snap(ndtr((t - mp) / sp))
    (mk, sk), (mo, so) = ((mp, sp), (mn, sn)) if sp < sn else ((mn, sn), (mp, sp))
    i, j = _triu(grid)
    ck, co = ndtr((t - mk) / sk), ndtr((t - mo) / so)  # Φ at each grid point, indexed below (not recomputed)
    tpr_d = ck[j] - ck[i]
    fpr_d = snap(co[j] - co[i])
    fnr_d = snap(1.0 - tpr_d)
    e = _eps_of_rates(np.concatenate([fpr_s, fpr_d]), np.concatenate([fnr_s, fnr_d]), delta)
    return 0.0 if math.isnan(e) else float(min(e, EPSILON_CAP))


SD_FLOOR = 1e-6
_TRIU: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _triu(grid: int) -> tuple[np.ndarray, np.ndarray]:
    """np.triu_indices(grid, 1), built once per grid size."""
    if grid not in _TRIU:
        _TRIU[grid] = np.triu_indices(grid, 1)
    return _TRIU[grid]


def epsilon_gauss_one(u: np.ndarray, r: np.ndarray, delta: float = DELTA, z: float = 1.96) -> float:
    """ε of one example from the bias-corrected per-example Gaussian fit (module docstring)."""
    u, r = np.asarray(u, np.float64), np.asarray(r, np.float64)
    p = _peaky(u, r)
    if p is not None:
        return p
    nu, nr = u.size, r.size
    mu_u, mu_r = u.mean(), r.mean()
    su, sr = max(u.std(ddof=1), SD_FLOOR), max(r.std(ddof=1), SD_FLOOR)
    d = mu_u - mu_r
    d_c = math.copysign(max(0.0, abs(d) - z * math.sqrt(su ** 2 / nu + sr ** 2 / nr)), d)
    lr = math.log(su / sr)
    lr_c = math.copysign(max(0.0, abs(lr) - z * math.sqrt(0.5 / (nu - 1) + 0.5 / (nr - 1))), lr)
    return _gauss_rates_eps(mu_r + d_c, sr * math.exp(lr_c), mu_r, sr, min(nu, nr), delta)


def detectable_shift(n_models: int, eps: float = BUCKET_WIDTH, z: float = 1.96) -> float:
    """The smallest per-example shift of the mean, in units of the retrained models' sd (equal spreads), for which
    the Gaussian-fit estimator at N models per bank reports ε ≥ ``eps`` (by default: the example loses points).

    It is the shrinkage z·√(2/N) plus the shift d* whose ε (from the exact Gaussian rates, floored at 1/N) reaches
    ``eps``; d* is found by bisection. What the estimator cannot see at N: a true shift below this counts as
    forgotten. E.g. about 1.3σ at N = 8, 0.7σ at N = 32 (docs/forget_quality.md, "What N the estimator needs")."""
    if n_models < 4:
        raise ValueError("the ε tests need at least 4 models per bank")
    lo, hi = 0.0, 20.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if _gauss_rates_eps(mid, 1.0, 0.0, 1.0, n_models, DELTA) >= eps else (mid, hi)
    return float(z * math.sqrt(2.0 / n_models) + hi)


def standardized_shifts(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """(S,) |mean_u − mean_r| / sd_r per example (sd with ddof = 1, floored): the size of what unlearning left, in
    units of the retrained models' seed noise. From N models it is itself noisy (sd ≈ √(2/N) when there is no
    shift), so read its distribution over a set, not single values."""
    u, r = np.asarray(unlearned, np.float64), np.asarray(retrained, np.float64)
    return np.abs(u.mean(0) - r.mean(0)) / np.maximum(r.std(0, ddof=1), SD_FLOOR)


def spread_ratios(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """(S,) sd_u / sd_r per example (ddof = 1, floored): the other thing the Gaussian fit tells apart. N unlearned
    runs from one θ_o can agree far more closely than N retrainings (ratio ≪ 1); the fit detects a ratio outside
    exp(±z/√(N − 1)) (about 0.48–2.1 at N = 8) even where the means agree."""
    u, r = np.asarray(unlearned, np.float64), np.asarray(retrained, np.float64)
    return np.maximum(u.std(0, ddof=1), SD_FLOOR) / np.maximum(r.std(0, ddof=1), SD_FLOOR)


def detectable_spread_ratio(n_models: int, z: float = 1.96) -> float:
    """The spread ratio sd_u / sd_r below which the fit's shrunk Δlog σ is non-zero at N models per bank:
    exp(−z·√(2 · 1/(2(N − 1)))) = exp(−z/√(N − 1)), from Var log σ̂ ≈ 1/(2(N − 1)) per bank."""
    if n_models < 4:
        raise ValueError("the ε tests need at least 4 models per bank")
    return float(math.exp(-z / math.sqrt(n_models - 1)))


def epsilons(unlearned: np.ndarray, retrained: np.ndarray, estimator: str = DEFAULT_ESTIMATOR,
             delta: float = DELTA) -> np.ndarray:
    """(S,) ε per example from (N_u, S) and (N_r, S) statistics."""
    u, r = np.asarray(unlearned, np.float64), np.asarray(retrained, np.float64)
    if u.ndim != 2 or r.ndim != 2 or u.shape[1] != r.shape[1]:
        raise ValueError(f"banks must be (models, examples) with the same examples, got {u.shape} and {r.shape}")
    if min(u.shape[0], r.shape[0]) < 4:
        raise ValueError("the ε tests need at least 4 models per bank")
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r} (use {', '.join(ESTIMATORS)})")
    one = epsilon_threshold_one if estimator == "threshold" else epsilon_gauss_one
    return np.array([one(u[:, s], r[:, s], delta) for s in range(u.shape[1])])


def max_epsilon(n_models: int) -> float:
    """⌈log(N − 1)⌉: the end of the last bucket that scores points (the reference's resolution bound)."""
    return float(math.ceil(math.log(max(n_models - 1, 2))))


def points(eps: np.ndarray, n_models: int) -> np.ndarray:
    """Points per example: 2^−k for ε in [k/2, (k+1)/2), 0 from ⌈log(N − 1)⌉ on."""
    eps = np.asarray(eps, np.float64)
    k = np.floor(eps / BUCKET_WIDTH)
    pts = np.power(0.5, k)
    return np.where(eps < max_epsilon(n_models), pts, 0.0)


def forget_quality(eps: np.ndarray, n_models: int) -> tuple[float, float]:
    """(F, standard error over examples)."""
    pts = points(eps, n_models)
    se = float(pts.std(ddof=1) / math.sqrt(pts.size)) if pts.size > 1 else math.nan
    return float(pts.mean()), se


# ---------------------------------------------------------------------------------------------- KLoM
def klom_one(u: np.ndarray, r: np.ndarray, bins: int = KLOM_BINS, clip: float = KLOM_CLIP) -> float:
    """KL(unlearned ‖ oracle) of 20-bin histograms over the joint clipped range (module docstring)."""
    u = np.clip(np.asarray(u, np.float64), -clip, clip)
    r = np.clip(np.asarray(r, np.float64), -clip, clip)
    lo, hi = min(u.min(), r.min()), max(u.max(), r.max())
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    p = np.histogram(u, edges)[0] / u.size
    q = np.histogram(r, edges)[0] / r.size
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / np.maximum(q[m], KLOM_EPS))))


def klom(unlearned: np.ndarray, retrained: np.ndarray, bins: int = KLOM_BINS, clip: float = KLOM_CLIP) -> np.ndarray:
    """(S,) KLoM per example from (N_u, S) and (N_r, S) margins: :func:`klom_one` on every column at once (the same
    edges, np.linspace per column, and the same bin rule as np.histogram: [e_k, e_k+1), the last bin closed)."""
    u = np.clip(np.asarray(unlearned, np.float64), -clip, clip)
    r = np.clip(np.asarray(retrained, np.float64), -clip, clip)
    s = u.shape[1]
    if s == 0:
        return np.zeros(0)
    lo = np.minimum(u.min(0), r.min(0))
    hi = np.maximum(u.max(0), r.max(0))
    hi = np.where(hi <= lo, lo + 1.0, hi)
    edges = np.linspace(lo, hi, bins + 1, axis=1)  # (S, bins + 1)

    def hist(x: np.ndarray) -> np.ndarray:  # (N, S) -> (S, bins) fractions
        k = (x.T[:, :, None] >= edges[:, None, 1:bins]).sum(2)  # bin of each value: inner edges at or below it
        counts = np.zeros((s, bins))
        np.add.at(counts, (np.repeat(np.arange(s), x.shape[0]), k.ravel()), 1)
        return counts / x.shape[0]

    p, q = hist(u), hist(r)
    out = np.empty(s)
    for c in range(s):  # summed per example exactly as klom_one (only the p > 0 bins, in order)
        m = p[c] > 0
        out[c] = float(np.sum(p[c][m] * np.log(p[c][m] / np.maximum(q[c][m], KLOM_EPS))))
    return out


def p95_interval(values: np.ndarray, seed: int = 0, n_boot: int = 200) -> tuple[float, float, float]:
    """(95th percentile, bootstrap 2.5% and 97.5% quantiles of it over examples)."""
    v = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    boots = np.percentile(v[rng.integers(0, v.size, (n_boot, v.size))], 95, axis=1)
    return float(np.percentile(v, 95)), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def ulira_accuracy(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """U-LiRA (Hayes et al.) per example: (N, S) logit-scaled confidences (= margins) under each bank -> (S,)
    leave-one-out accuracy of the Gaussian likelihood-ratio test "unlearned or retrained?" (0.5 = indistinguishable).

    Each held-out model is judged by Gaussians fit to the *other* models of its own bank and all models of the
    other bank, as the attack would be run against a model it did not fit on; NaN where N < ULIRA_MIN_MODELS."""
    u, r = np.asarray(unlearned, np.float64), np.asarray(retrained, np.float64)
    n = min(len(u), len(r))
    if n < ULIRA_MIN_MODELS:
        return np.full(u.shape[1], np.nan)
    u, r = u[:n], r[:n]

    def fit(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return a.mean(0), np.maximum(a.std(0, ddof=1), SD_FLOOR)

    def loo(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (N, S) mean and sd without row i, vectorised
        tot, sq = a.sum(0), (a ** 2).sum(0)
        mu = (tot - a) / (n - 1)
        var = (sq - a ** 2 - (n - 1) * mu ** 2) / (n - 2)
        return mu, np.sqrt(np.maximum(var, SD_FLOOR ** 2))

    def logpdf(x, mu, sd):
        return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)

    (mu_u, sd_u), (mu_r, sd_r) = fit(u), fit(r)
    (lu_mu, lu_sd), (lr_mu, lr_sd) = loo(u), loo(r)
    right_u = logpdf(u, lu_mu, lu_sd) > logpdf(u, mu_r, sd_r)  # an unlearned model called unlearned
    right_r = logpdf(r, lr_mu, lr_sd) > logpdf(r, mu_u, sd_u)  # a retrained model called retrained
    return 0.5 * (right_u.mean(0) + right_r.mean(0))
