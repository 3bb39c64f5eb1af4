"""The BLO worst-case score (Fan, Liu, Hero, Liu — Challenging Forgets, Sec. 4): projection, upper loop on planted
problems, convergence rule, class-wise sums, trace / cost accounting, parameter validation."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from _synthetic import blob_arrays
from scipy.optimize import minimize

from unlearn_core.data import _from_numpy
from unlearn_core.errors import ConfigError
from unlearn_core.scores.base import ScoreInput, get_score
from unlearn_core.scores.blo import (
    BLO_DEFAULTS,
    EVAL_PASS_COST,
    LowerLevel,
    blo_objective,
    blo_score,
    blo_weights,
    class_losses,
    precise_loss,
    project_capped_simplex,
    sort_verdict,
    upper_loop,
    validate_params,
)
from unlearn_core.training import TrainConfig, make_generator, train_model

TRACE_FIELDS = {"iteration", "objective", "overlap_prev", "overlap_start", "overlap_lowloss", "overlap_response",
                "seconds", "sample_passes"}


# ------------------------------------------------------------------------------------------------ projection
def brute_force(a: np.ndarray, m: float) -> np.ndarray:
    """argmin ||w − a||² s.t. 0 ≤ w ≤ 1, Σw = m, by a generic constrained solver."""
    res = minimize(lambda w: ((w - a) ** 2).sum(), x0=np.full(len(a), m / len(a)), jac=lambda w: 2 * (w - a),
                   bounds=[(0, 1)] * len(a), constraints=[{"type": "eq", "fun": lambda w: w.sum() - m}],
                   method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
    return res.x


@pytest.mark.parametrize("seed", range(8))
def test_projection_matches_brute_force_and_constraints(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    a = rng.normal(scale=rng.uniform(0.1, 3.0), size=n)
    m = float(rng.integers(1, n))
    w = project_capped_simplex(torch.tensor(a), m).double().numpy()
    assert w.sum() == pytest.approx(m, abs=1e-5)
    assert w.min() >= 0 and w.max() <= 1
    np.testing.assert_allclose(w, brute_force(a, m), atol=1e-4)


def test_projection_is_identity_inside_the_set_ignores_shifts_and_handles_large_inputs():
    w0 = torch.tensor([0.2, 0.5, 0.3, 1.0])
    torch.testing.assert_close(project_capped_simplex(w0, 2.0), w0, atol=1e-6, rtol=0)
    a = torch.randn(50, generator=make_generator(0))
    torch.testing.assert_close(project_capped_simplex(a + 7.3, 5), project_capped_simplex(a, 5), atol=1e-5, rtol=0)
    big = torch.randn(100_000, generator=make_generator(1)) * 5
    w = project_capped_simplex(big, 1234)
    assert float(w.sum()) == pytest.approx(1234, abs=1e-2)
    assert float(w.min()) >= 0 and float(w.max()) <= 1


def test_projection_rejects_impossible_budget():
    with pytest.raises(ConfigError):
        project_capped_simplex(torch.zeros(3), 4)


# ------------------------------------------------------------------------------------------------ planted problems
def planted_lower(n: int, m: int, seed: int, exclusion: float = 0.3, noise: float = 0.05):
    """A stub lower level with a known worst set: m planted samples keep a near-zero loss; everyone else has a loss
    in [0.5, 1.5]. Being in the forget set raises a loss by ``exclusion``·w (the sample is no longer trained on),
    and every call adds fresh noise (a different lower-level run). Returns (planted mask, lower, call counter)."""
    g = make_generator(seed)
    planted = torch.zeros(n, dtype=torch.bool)
    planted[torch.randperm(n, generator=g)[:m]] = True
    base = 0.5 + torch.rand(n, generator=g)
    base[planted] = 0.05 * torch.rand(m, generator=g)
    calls = [0]

    def lower(w: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        return base + exclusion * w + noise * torch.rand(n, generator=g)

    return planted, lower, calls


def random_start(n: int, m: int, seed: int) -> torch.Tensor:
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=make_generator(seed + 1000))[:m]] = True
    return mask


def top_mask(w: torch.Tensor, m: int) -> torch.Tensor:
    mask = torch.zeros(w.numel(), dtype=torch.bool)
    mask[torch.topk(w, m).indices] = True
    return mask


# The earlier design (projected rank steps on the soft relaxation), kept as an option: a random binary start only
# leaves its corner with a first step > 1 and a cumulative step that keeps growing.
RANDOM_START = {"upper": "pgd", "lower_weights": "soft", "init": "random", "alpha": 2.0, "decay": 1.0, "max_cost": 0}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("params", [RANDOM_START, {}], ids=["pgd_random_start", "defaults"])
def test_blo_recovers_the_planted_worst_set_far_from_its_start(seed, params):
    n, m = 400, 40
    planted, lower, _ = planted_lower(n, m, seed)
    start = random_start(n, m, seed)
    w, _, trace, _ = upper_loop(lower, n, m, params, start, lowloss_mask=planted)
    top = top_mask(w, m)
    assert float((top & planted).sum()) / m >= 0.95  # recovers the planted worst set ...
    assert float((top & start).sum()) / m <= 0.25  # ... and leaves its random start (chance: 0.1)
    assert trace[-1]["overlap_lowloss"] >= 0.95 and trace[-1]["overlap_start"] <= 0.25


def test_paper_literal_update_stays_at_its_random_start():
    """Documents a failure of the paper's literal step: raw losses with α = 1e-3 cannot move a binary w."""
    n, m = 400, 40
    _, lower, _ = planted_lower(n, m, 0)
    start = random_start(n, m, 0)
    w, _, _, _ = upper_loop(lower, n, m, {"upper": "pgd", "lower_weights": "soft", "init": "random",
                                          "step_scale": "none", "max_iters": 20}, start)
    assert float((top_mask(w, m) & start).sum()) / m >= 0.9


# ------------------------------------------------------------------------------------------------ search vs sort
def memorized_vs_prototypical(n: int, m: int, seed: int):
    """A planted problem where the sort is wrong. ``memorized`` (m samples, e.g. atypical or mislabeled points the
    model memorized) have θ_o's lowest losses (~1e-4) but are forgotten once they are (almost) fully unlearned:
    their loss jumps by 4 when their removal weight passes ~0.75. ``prototypical`` (m samples, e.g. near-duplicates
    of a class prototype) have the next-lowest losses (0.005-0.01) and stay there when unlearned. Typical samples
    (0.02-1.5) rise with their removal weight. The worst case (lowest loss after unlearning) is the prototypical
    group; θ_o's lowest-loss set is the memorized one. Returns (memorized, prototypical, lowest-loss mask, lower)."""
    g = make_generator(seed)
    perm = torch.randperm(n, generator=g)
    memorized, prototypical = perm[:m], perm[m:2 * m]
    base = torch.exp(torch.empty(n).uniform_(-3.9, 0.4, generator=g)).double()
    base[memorized] = 1e-4 * (1 + torch.rand(m, generator=g).double())
    base[prototypical] = 0.005 + 0.005 * torch.rand(m, generator=g).double()
    kind = torch.zeros(n, dtype=torch.long)
    kind[memorized], kind[prototypical] = 1, 2

    def lower(w: torch.Tensor) -> torch.Tensor:
        w = w.double()
        rise = torch.where(kind == 1, 4.0 * torch.sigmoid((w - 0.75) / 0.05), w)
        return base + torch.where(kind == 2, torch.zeros_like(w), rise)

    lowloss = torch.zeros(n, dtype=torch.bool)
    lowloss[torch.topk(-base, m).indices] = True
    return memorized, prototypical, lowloss, lower


@pytest.mark.parametrize("seed", range(3))
def test_blo_leaves_memorized_lowest_loss_samples_for_the_ones_that_stay_easy(seed):
    """A search, not a sort: θ_o's m lowest-loss samples are memorized (their loss rises once unlearned); BLO must
    end on the group whose loss stays low after unlearning. (The earlier upper loop ends on the memorized set.)"""
    n, m = 400, 40
    memorized, prototypical, lowloss, lower = memorized_vs_prototypical(n, m, seed)
    assert torch.equal(lowloss.nonzero().flatten().sort().values, memorized.sort().values)  # precondition
    w, _, trace, reason = upper_loop(lower, n, m, {}, random_start(n, m, seed), lowloss_mask=lowloss)
    top = top_mask(w, m)
    assert float(top[prototypical].float().mean()) >= 0.95
    assert float(top[memorized].float().mean()) <= 0.05
    assert trace[-1]["overlap_lowloss"] <= 0.05


@pytest.mark.parametrize("params", [{}, {"upper": "pgd"}], ids=["fw", "pgd"])
def test_a_lower_level_with_a_different_ranking_moves_the_set(params):
    """After iteration 1 the lower level returns the reversed ranking, whatever w is: the final set must follow it
    (the earlier upper loop stayed on the first ranking and reported "converged" after 3 iterations)."""
    n, m = 400, 40
    first = 0.5 + torch.rand(n, generator=make_generator(11)).double()
    calls = [0]

    def lower(w: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        return first if calls[0] == 1 else 2.0 - first

    first_set, reversed_set = top_mask(-first, m), top_mask(first, m)
    w, _, trace, reason = upper_loop(lower, n, m, params, random_start(n, m, 11), lowloss_mask=first_set)
    top = top_mask(w, m)
    assert float((top & first_set).sum()) / m <= 0.05
    assert float((top & reversed_set).sum()) / m >= 0.95
    assert reason == "fixed_point" and trace[-1]["overlap_response"] >= 0.95


def test_pure_noise_is_not_called_a_fixed_point():
    n, m = 200, 20
    g = make_generator(5)
    lower = lambda w: torch.rand(n, generator=g)  # a lower level that is pure noise: no set is its own response
    _, _, trace, reason = upper_loop(lower, n, m, {"max_iters": 12}, random_start(n, m, 5))
    assert reason == "max_iters" and len(trace) == 12


def test_fixed_point_rule_stops_early_and_reports_it():
    n, m = 400, 40
    _, lower, calls = planted_lower(n, m, 3)
    p = {"max_iters": 30, "tol_overlap": 0.99, "patience": 2}
    _, _, trace, reason = upper_loop(lower, n, m, p, random_start(n, m, 3))
    assert reason == "fixed_point" and len(trace) < 30 and calls[0] == len(trace)  # iteration 1 runs the lower level
    assert trace[0]["overlap_response"] is None  # the uniform start defines no set
    assert all(t["overlap_response"] >= 0.99 or t["gap"] <= 0.01 for t in trace[-2:])


def test_cost_cap_is_a_reason_of_its_own():
    n, m = 200, 20
    g = make_generator(6)
    spent = [0.0]

    def lower(w):
        spent[0] += 10.0
        return torch.rand(n, generator=g)

    _, _, trace, reason = upper_loop(lower, n, m, {"max_iters": 50}, random_start(n, m, 6), cost=lambda: spent[0],
                                     iteration_cost=10.0, budget=45.0)
    assert reason == "max_cost" and len(trace) == 4 and spent[0] <= 45.0


# ------------------------------------------------------------------------------------------------ class-wise
def test_class_losses_sum_and_mean():
    y = torch.tensor([0, 0, 1, 2, 2, 2])
    losses = torch.tensor([1.0, 3.0, 5.0, 1.0, 1.0, 1.0])
    torch.testing.assert_close(class_losses(losses, y, 4, "sum"), torch.tensor([4.0, 5.0, 3.0, 0.0]))
    torch.testing.assert_close(class_losses(losses, y, 4, "mean"), torch.tensor([2.0, 5.0, 1.0, 0.0]))


@pytest.mark.parametrize("how, expected", [("sum", 2), ("mean", 0)])
def test_class_wise_upper_loop_uses_sums_or_means(how, expected):
    """Class 0: 100 very easy samples; class 2: 10 slightly harder ones. Per-class SUM makes the small class the
    cheapest to forget (science.md); the MEAN picks the class of the easiest samples."""
    sizes, per_sample = [100, 100, 10], [0.01, 1.0, 0.05]
    y = torch.cat([torch.full((s,), c) for c, s in enumerate(sizes)])
    base = torch.cat([torch.full((s,), v) for s, v in zip(sizes, per_sample)])

    def lower(w_class):
        return class_losses(base * (1 + 0.1 * w_class[y]), y, 3, how)

    w, _, _, reason = upper_loop(lower, 3, 1, {"class_loss": how}, torch.tensor([0, 1, 0]).bool())
    assert int(torch.argmax(w)) == expected and reason == "fixed_point"


# ------------------------------------------------------------------------------------------------ real lower level
def easy_blobs(n_hard: int = 270, n_easy: int = 30, seed: int = 0, n_classes: int = 2):
    """Blobs where ``n_easy`` planted samples are far on their class's side (near-zero loss even when excluded
    from training) and the rest overlap (weak signal). Returns (data set, planted easy indices)."""
    rng, xtr, ytr, xte, yte = blob_arrays(n_hard + n_easy, 100, seed)
    proto = np.zeros((2, 8, 8))
    proto[0, :, :4] = 1
    proto[1, :, 4:] = 1
    hard = rng.normal(0, 40, (n_hard, 8, 8)) + proto[ytr[:n_hard]] * 25 + 100
    xtr[:n_hard] = np.clip(hard, 0, 255).astype(np.uint8)
    easy = proto[ytr[n_hard:]] * 200 + 30 + rng.normal(0, 5, (n_easy, 8, 8))
    xtr[n_hard:] = np.clip(easy, 0, 255).astype(np.uint8)
    return _from_numpy("easy_blobs", xtr, ytr, xte, yte, ["left", "right"]), np.arange(n_hard, n_hard + n_easy)


RECIPE = TrainConfig(epochs=15, batch_size=32, lr=0.05)


@pytest.fixture(scope="module")
def planted_model():
    ds, easy = easy_blobs()
    model = train_model("mlp", ds, torch.arange(ds.n_train), RECIPE, 0)
    return ds, easy, model


def test_real_lower_level_finds_the_planted_easy_samples(planted_model):
    ds, easy, model = planted_model
    m = len(easy)
    res = blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=0), m, {})  # the defaults
    assert len(np.intersect1d(np.argsort(-res.values)[:m], easy)) / m >= 0.9
    assert res.extras["stop_reason"] in ("fixed_point", "max_cost", "max_iters")
    assert res.extras["trace"][0]["overlap_response"] is None


def test_blo_objective_ranks_the_planted_easy_set_below_a_random_one(planted_model):
    ds, easy, model = planted_model
    rnd = np.random.default_rng(0).choice(ds.n_train, len(easy), replace=False)
    out = blo_objective(ScoreInput(model, "mlp", ds, RECIPE, seed=0), {"easy": easy, "random": rnd})
    assert out["easy"]["objective"] < out["random"]["objective"]
    with pytest.raises(ConfigError):
        blo_objective(ScoreInput(model, "mlp", ds, RECIPE, seed=0), {"bad": [ds.n_train]})


def test_lower_level_can_be_an_unlearning_method_and_is_part_of_the_key(planted_model):
    """``lower_level``: a registered method (at its paper budget) as θ_u(S). GA ascends on S, so the sets it leaves
    easy differ from those the built-in fine-tuning leaves easy; the choice is in the score's params (its key)."""
    from unlearn_core.config import config_key

    ds, easy, model = planted_model
    m = len(easy)
    p = {"max_iters": 3, "max_cost": 0, "patience": 10}
    ft = blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=0), m, p)
    ga = blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=0), m, {**p, "lower_level": "ga"})
    top = lambda r: set(np.argsort(-r.values)[:m].tolist())
    assert ga.extras["params"]["lower_level"] == "ga" and ft.extras["params"]["lower_level"] == "ft"
    assert top(ga) != top(ft) and not np.allclose(ga.arrays["final_loss"], ft.arrays["final_loss"])
    assert ga.extras["iterations"] == 3 and ga.extras["cost_sample_passes"] > EVAL_PASS_COST * ds.n_train
    spec = get_score("blo")
    assert config_key(spec.resolve_params({"lower_level": "ga"})) != config_key(spec.resolve_params({}))
    # the same method and seed twice: the same result (common random numbers, a function of the set only)
    again = blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=0), m, {**p, "lower_level": "ga"})
    assert np.array_equal(again.values, ga.values)


def test_the_builtin_lower_level_keeps_the_keys_of_results_cached_before_the_option():
    """``lower_level`` came after BLO results were cached: at its built-in value it is left out of the resolved
    parameters (hence of the score's and every worst-case run's key), so an old cache is still served."""
    spec = get_score("blo")
    assert "lower_level" not in spec.resolve_params({})
    assert spec.resolve_params({"lower_level": "ft"}) == spec.resolve_params({})
    assert spec.resolve_params({"lower_level": "ga"})["lower_level"] == "ga"


def test_lower_level_is_validated():
    with pytest.raises(ConfigError, match="lower_level 'nope'.*Unknown unlearning method"):
        validate_params({"lower_level": "nope"})
    with pytest.raises(ConfigError, match="granularity: sample"):
        validate_params({"lower_level": "rl", "granularity": "class"})
    with pytest.raises(ConfigError, match="lower_level"):
        validate_params({"lower_level": 3})
    assert validate_params({"lower_level": "rl"})["lower_level"] == "rl"


def test_sort_verdict_in_plain_words():
    assert sort_verdict(0.95).startswith("on these data the worst case is almost exactly the lowest-loss set")
    assert sort_verdict(0.5) is None and sort_verdict(None) is None


def test_trace_fields_cost_accounting_and_json(planted_model):
    ds, _, model = planted_model
    n, bs, K = ds.n_train, 30, 0.5  # 300 samples, batches of 30: ceil(0.5·300/30) = 5 full batches per iteration
    p = {"K": K, "batch_size": bs, "max_iters": 4, "tol_overlap": 1.0, "tol_gap": 0.0, "patience": 10,
         "max_cost": 0}  # every iteration runs the lower level
    res = blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=1), 30, p)
    trace, ex = res.extras["trace"], res.extras
    json.dumps(res.extras, allow_nan=False)  # strict JSON: no NaN anywhere
    assert len(trace) == ex["iterations"] == 4 and ex["converged"] is False and ex["stop_reason"] == "max_iters"
    assert all(TRACE_FIELDS <= set(t) for t in trace)
    assert [t["iteration"] for t in trace] == [1, 2, 3, 4]
    per_iter = 5 * bs + EVAL_PASS_COST * n
    theta_o_pass = EVAL_PASS_COST * n
    expected = [theta_o_pass + per_iter * (i + 1) for i in range(4)]
    assert [t["sample_passes"] for t in trace] == pytest.approx(expected)
    assert ex["cost_sample_passes"] == pytest.approx(expected[-1])
    assert ex["cost_vs_training"] == pytest.approx(expected[-1] / (RECIPE.epochs * n))
    assert all(t["seconds"] >= 0 for t in trace) and all(0 <= t["overlap_start"] <= 1 for t in trace)
    assert float(np.sum(res.values)) == pytest.approx(30, abs=1e-3)


def test_cost_cap_stops_before_the_budget_is_exceeded(planted_model):
    ds, _, model = planted_model
    p = {"K": 0.5, "batch_size": 30, "max_cost": 0.02, "tol_overlap": 1.0, "tol_gap": 0.0, "patience": 100}
    res = blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=2), 30, p)
    # 90 sample passes: θ_o's loss pass (100) already exceeds it; one iteration always runs
    assert res.extras["stop_reason"] == "max_cost" and res.extras["iterations"] == 1
    p["max_cost"] = 0.2  # 900 passes: θ_o pass 100 + iterations of 150 + 100 -> 3 iterations (850), a 4th is not started
    res = blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=2), 30, p)
    assert res.extras["stop_reason"] == "max_cost" and res.extras["iterations"] == 3
    assert res.extras["cost_sample_passes"] == pytest.approx(EVAL_PASS_COST * ds.n_train + 3 * (150 + 100))
    assert res.extras["cost_vs_training"] <= 0.2


def three_classes(seed: int, sizes=(600, 150, 100), noise=(40, 40, 90)):
    """Left-, right- and top-bright 8x8 blobs with unequal class sizes and noise levels."""
    rng = np.random.default_rng(seed)
    protos = np.zeros((3, 8, 8))
    protos[0, :, :4], protos[1, :, 4:], protos[2, :4, :] = 1, 1, 1

    def draw(counts):
        y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
        x = protos[y] * 150 + 50 + rng.normal(0, 1, (len(y), 8, 8)) * np.array(noise)[y][:, None, None]
        return np.clip(x, 0, 255).astype(np.uint8), y

    (xtr, ytr), (xte, yte) = draw(sizes), draw((40, 40, 40))
    return _from_numpy("three", xtr, ytr, xte, yte, ["left", "right", "top"])


def test_class_wise_blo_on_real_data_uses_class_loss_sums_or_means():
    """On this (seeded) data θ_o's lowest per-class loss SUM (the small class 2) is not its lowest MEAN (the big class
    0). The class-wise BLO aggregates by the requested statistic and ends on the class whose aggregate is lowest
    *after that class is unlearned* by its own lower level (checked by unlearning each class in turn)."""
    ds = three_classes(2)
    model = train_model("mlp", ds, torch.arange(ds.n_train), RECIPE, 0)
    per_sample = precise_loss(model, ds)
    sums, means = (class_losses(per_sample, ds.y_train, 3, how) for how in ("sum", "mean"))
    assert int(torch.argmin(sums)) == 2 and int(torch.argmin(means)) == 0  # the precondition of the test
    for how in ("sum", "mean"):
        params = {"granularity": "class", "n_classes": 1, "class_loss": how}
        inp = ScoreInput(model, "mlp", ds, RECIPE, seed=0, params=params)
        res = blo_score(inp)
        assert res.values.shape == (3,) and res.extras["granularity"] == "class"
        np.testing.assert_allclose(res.arrays["theta_o_loss"], (sums if how == "sum" else means).numpy(), rtol=1e-5)
        assert TRACE_FIELDS <= set(res.extras["trace"][0])
        after = []
        for c in range(3):  # the class's aggregate loss once it is unlearned (same lower level, same seed)
            lower = LowerLevel(inp, validate_params(params), inp.seed + 7919, by_class=True)
            after.append(float(lower(torch.eye(3)[c])[c]))
        assert int(np.argmax(res.values)) == int(np.argmin(after))


# ------------------------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize("bad", [
    {"max_iters": 0}, {"max_iters": -3}, {"max_iters": 2.5}, {"max_iters": True}, {"upper_iters": 0},
    {"K": 0}, {"K": -1}, {"K": float("nan")}, {"K": "3"}, {"beta": 0}, {"beta": -1e-3}, {"alpha": 0},
    {"alpha": -1}, {"gamma": -1}, {"batch_size": -1}, {"batch_size": 8.5}, {"patience": 0},
    {"tol_overlap": 0}, {"tol_overlap": 1.5}, {"n_classes": 0}, {"warm_start": 1}, {"warm_start": "yes"},
    {"init": "zeros"}, {"step_scale": "log"}, {"lower": "ga"}, {"granularity": "pixel"}, {"class_loss": "max"},
    {"decay": -0.5}, {"upper": "sgd"}, {"optimizer": "adam"}, {"lower_weights": "hard"}, {"tol_gap": -0.1},
    {"tol_objective": 2},
])
def test_bad_parameters_raise_config_error(bad):
    with pytest.raises(ConfigError):
        validate_params(bad)


def test_registered_defaults_resolve_and_unknown_keys_are_refused():
    spec = get_score("blo")
    assert spec.resolve_params({}) == {k: v for k, v in BLO_DEFAULTS.items() if k != "lower_level"}  # key-neutral
    assert validate_params(spec.resolve_params({"upper_iters": 8, "K": 3}))["upper_iters"] == 8
    with pytest.raises(ConfigError):
        spec.resolve_params({"upper_iter": 3})
    with pytest.raises(ConfigError):
        validate_params({"no_such_key": 1})
    json.dumps(BLO_DEFAULTS, allow_nan=False)


def test_forget_set_size_is_checked(planted_model):
    ds, _, model = planted_model
    for m in (0, ds.n_train, 3.5):
        with pytest.raises(ConfigError):
            blo_weights(ScoreInput(model, "mlp", ds, RECIPE, seed=0), m, {})
    assert math.isfinite(RECIPE.lr)
