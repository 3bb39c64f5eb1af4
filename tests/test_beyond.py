"""Beyond the papers (issue 15): memorization from the LiRA bank, learning-event proxies, the entanglement score,
RUM, the tuning protocol and the "why is it hard?" data. Small data, few epochs, one thread."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from _synthetic import blob_arrays
from unlearn_core.data import _from_numpy, load_dataset
from unlearn_core.errors import ConfigError
from unlearn_core.methods import get_method, method_names
from unlearn_core.methods.base import UnlearnInput, UnlearnMethod
from unlearn_core.scores import ScoreInput, get_score
from unlearn_core.store import Store
from unlearn_core.training import (TrainConfig, make_optimizer, make_scheduler, get_batch, make_generator,
                                   new_model, shuffled_batches, train_loop, train_model)

CFG = TrainConfig(epochs=20, batch_size=32, lr=0.05)
MEM_CFG = TrainConfig(epochs=30, batch_size=16, lr=0.1, weight_decay=0.0, schedule="constant")  # fits the outliers


def blobs(n_train=160, n_test=60, n_outliers=8, seed=0):
    """Two Gaussian blobs; ``n_outliers`` training points carry the other class's label (only memorisable)."""
    rng, xtr, ytr, xte, yte = blob_arrays(n_train, n_test, seed)
    out = rng.choice(n_train, n_outliers, replace=False)
    ytr[out] = 1 - ytr[out]
    return _from_numpy("blobs", xtr, ytr, xte, yte, ["left", "right"]), out


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    ds, outliers = blobs()
    original = new_model("mlp", ds, 0, ds.device).eval()  # memorization reads the shadow bank, not θ_o
    return SimpleNamespace(ds=ds, outliers=outliers, original=original, store=Store(tmp_path_factory.mktemp("mem")))


# ------------------------------------------------------------------------------------------------ memorization
def test_memorization_formula_and_standard_error():
    from unlearn_core.scores.lira import shadow_mask
    from unlearn_core.scores.memorization import memorization_from

    for s in (4, 16):
        mask = shadow_mask(50, s, seed=1)
        fitted = memorization_from(mask, mask)  # right exactly when trained on it: memorized
        assert np.allclose(fitted["mem"], 1.0)
        typical = memorization_from(mask, np.ones_like(mask))  # always right: not memorized
        assert np.allclose(typical["mem"], 0.0) and np.allclose(typical["p_in"], 1.0)
        assert np.all(typical["se"] > 0)  # smoothed: finitely many models never give certainty
    se4 = memorization_from(shadow_mask(50, 4, 1), np.ones((4, 50), bool))["se"]
    se16 = memorization_from(shadow_mask(50, 16, 1), np.ones((16, 50), bool))["se"]
    se64 = memorization_from(shadow_mask(50, 64, 1), np.ones((64, 50), bool))["se"]
    assert se64.mean() < se16.mean() < se4.mean()  # shrinks with more models


def test_memorization_planted_outliers_and_shared_bank(planted):
    ds, store = planted.ds, planted.store
    spec = get_score("memorization")
    assert spec.hard_end == "high" and "Free once the LiRA bank exists" in spec.description
    inp = ScoreInput(planted.original, "mlp", ds, MEM_CFG, params={"n_shadow": 4}, store=store)
    res = spec.fn(inp)
    mem, se = res.values, res.arrays["se"]
    is_out = np.zeros(ds.n_train, bool)
    is_out[planted.outliers] = True
    assert mem.shape == (ds.n_train,) and np.all((mem >= -1) & (mem <= 1))
    assert mem[is_out].mean() > 0.7  # mislabeled: right only when trained on → mem ≈ 1
    assert abs(np.median(mem[~is_out])) < 1e-6 and abs(mem[~is_out].mean()) < 0.1  # typical: mem ≈ 0
    assert se.shape == mem.shape and np.all(se > 0)
    assert res.extras["n_trained"] == 4
    # The memorization bank *is* LiRA's: LiRA finds every shadow model, and a second call recomputes nothing.
    lira = get_score("lira_asr").fn(ScoreInput(planted.original, "mlp", ds, MEM_CFG, params={"n_shadow": 4},
                                               store=store))
    assert lira.extras["n_trained"] == 0 and lira.extras["n_loaded"] == 4
    again = spec.fn(inp)
    assert again.extras["n_trained"] == 0 and again.extras["n_predicted"] == 0
    np.testing.assert_array_equal(again.values, mem)


# ------------------------------------------------------------------------------------------------ learning events
def test_learning_events_equal_explicit_per_step_evaluation(planted):
    """The recorder sees the training forward pass itself: its means equal an explicit evaluation of each batch
    just before its optimizer step, and recording changes no weight."""
    from unlearn_core.scores.learning_events import EVENTS, EventRecorder

    ds = planted.ds
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.05)
    idx = torch.arange(ds.n_train)
    rec = EventRecorder(ds.n_train)
    a = train_loop(new_model("mlp", ds, 3, ds.device), ds, idx, cfg, 3, on_outputs=rec)
    b = train_loop(new_model("mlp", ds, 3, ds.device), ds, idx, cfg, 3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

    # Explicit replica of the loop, evaluating each batch (same model, training mode) before its step.
    model = new_model("mlp", ds, 3, ds.device)
    opt = make_optimizer(model.parameters(), cfg)
    sched = make_scheduler(opt, cfg, math.ceil(ds.n_train / cfg.batch_size) * cfg.epochs)
    gen = make_generator(3)
    sums = {e: np.zeros(ds.n_train) for e in EVENTS}
    model.train()
    for _ in range(cfg.epochs):
        for ib in shuffled_batches(idx, cfg.batch_size, gen):
            xb, yb = get_batch(ds, ib, generator=gen)
            with torch.no_grad():
                p = torch.softmax(model(xb), 1)
            sums["confidence"][ib.numpy()] += p.gather(1, yb[:, None]).squeeze(1).numpy()
            sums["max_confidence"][ib.numpy()] += p.max(1).values.numpy()
            sums["entropy"][ib.numpy()] += (-(p * p.log()).sum(1)).numpy()
            sums["accuracy"][ib.numpy()] += (p.argmax(1) == yb).float().numpy()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    got = rec.arrays()
    for e in EVENTS:
        np.testing.assert_allclose(got[e], sums[e] / cfg.epochs, rtol=1e-5, atol=1e-6)
    assert np.all(got["count"] == cfg.epochs)
    assert np.all((got["confidence"] >= 0) & (got["confidence"] <= 1))
    assert np.all((got["entropy"] >= 0) & (got["entropy"] <= math.log(2) + 1e-6))
    # The mislabeled points are the least confident on their (wrong) label.
    assert got["confidence"][planted.outliers].mean() < np.delete(got["confidence"], planted.outliers).mean()
    with pytest.raises(ConfigError):
        train_loop(new_model("mlp", ds, 3, ds.device), ds, idx, cfg, 3, on_outputs=rec,
                   loss_fn=lambda m, x, y, i: torch.nn.functional.cross_entropy(m(x), y))


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from unlearn_core.pipeline import Pipeline

    return Pipeline(Store(tmp_path_factory.mktemp("beyond")), dataset="digits", model="mlp", device="cpu",
                    train={"epochs": 6}, blo={"upper_iters": 3, "K": 1})


def test_proxies_are_recorded_with_the_original(pipe):
    from unlearn_core.scores.learning_events import KIND

    pipe.original(0)
    runs = [r for r in pipe.store.list_runs(KIND, "done") if r["config"]["seed"] == 0]
    assert len(runs) == 1 and runs[0]["config"]["train"]["epochs"] == 6
    res = pipe.score("le_confidence", 0)
    assert res.extras["source"] == "recorded while training θ_o" and res.extras["replica_trained_now"] is False
    assert res.extras["epochs"] == list(range(6))
    for name, end in (("le_max_confidence", "low"), ("le_entropy", "high"), ("le_accuracy", "low")):
        assert get_score(name).hard_end == end
        assert pipe.score(name, 0).values.shape == (pipe.ds.n_train,)
    # A θ_o trained without recording gets a replica run: same recipe and seed → the same weights on this device.
    pipe.store.delete_run(runs[0]["key"])
    spec = get_score("le_accuracy")
    out = spec.fn(ScoreInput(pipe.original(0), "mlp", pipe.ds, pipe.train_cfg, seed=0, store=pipe.store))
    assert out.extras["replica_trained_now"] and out.extras["matches_original"]
    np.testing.assert_allclose(out.arrays["confidence"], res.values, rtol=1e-6)


# ------------------------------------------------------------------------------------------------ entanglement
def test_entanglement_score_definition_and_order():
    from unlearn_core.analysis.entanglement import entanglement_score

    rng = np.random.default_rng(0)
    retain = rng.normal(0, 1, (400, 8))
    tight = rng.normal(0, 0.1, (40, 8)) + np.r_[4.0, np.zeros(7)]  # one tight cluster, off the retain cloud
    spread = rng.normal(0, 1, (40, 8))  # drawn like the retain set: fully entangled
    es = {}
    for name, f in (("tight", tight), ("spread", spread)):
        z = np.vstack([retain, f])
        mask = np.r_[np.zeros(400, bool), np.ones(40, bool)]
        es[name] = entanglement_score(z, mask)
    assert 10 * es["tight"]["es"] < es["spread"]["es"]
    # By hand on the tight set: (intra_r + intra_f) / (||μ_r − μ_f||² / 4).
    mu_r, mu_f = retain.mean(0), tight.mean(0)
    intra = ((retain - mu_r) ** 2).sum(1).mean() + ((tight - mu_f) ** 2).sum(1).mean()
    assert es["tight"]["es"] == pytest.approx(intra / (((mu_r - mu_f) ** 2).sum() / 4))
    with pytest.raises(ConfigError):
        entanglement_score(retain, np.zeros(400, bool))


def test_entanglement_cached_per_forget_set_and_read_functions(pipe):
    from unlearn_core.analysis.entanglement import (entanglement, entanglement_for_results, entanglement_frame,
                                                    random_reference)

    cls = pipe.forget_set("class:3", None, 0)
    rnd = pipe.forget_set("random", 0.1, 0)
    assert entanglement(pipe, rnd, compute_if_missing=False) is None
    e_rnd = entanglement(pipe, rnd)
    e_cls = entanglement(pipe, cls)
    assert not e_rnd["cache_hit"] and entanglement(pipe, rnd)["cache_hit"]
    assert e_cls["es"] < e_rnd["es"]  # a class is a cluster of θ_o's embedding; a random set is spread out
    assert entanglement(pipe, ("random", 0.1, 0), compute_if_missing=False)["es"] == e_rnd["es"]
    frame = entanglement_frame(pipe, seed=0)
    assert set(frame["selector"]) >= {"random", "class:3"} and frame["computed"].all()
    ref = random_reference(pipe, rnd.size, 0, n_sets=3)
    assert len(ref) == 3 and np.isfinite(ref["es"]).all()
    rows = entanglement_for_results(pipe, __import__("pandas").DataFrame(
        {"selector": ["random", "worst"], "ratio": [0.1, 0.1], "seed": [0, 0]}))
    assert rows["ES"].iloc[0] == e_rnd["es"] and np.isnan(rows["ES"].iloc[1])  # worst not built: NaN, not computed


# ------------------------------------------------------------------------------------------------ RUM
class _Spy(UnlearnMethod):
    name = "spy"
    label = "Spy"
    # budget fixed10: the preset's own epochs (4), not the papers' fraction of a recipe (unlearn_core/budget.py)
    presets = {"small": {"epochs": 4, "budget": "fixed10"}, "image": {"epochs": 4, "budget": "fixed10"}}

    def __init__(self):
        self.calls = []

    def unlearn(self, inp, params):
        self.calls.append((inp.forget_idx.clone(), inp.retain_idx.clone(), inp.original, dict(params)))
        model = inp.copy_original()
        with torch.no_grad():
            model.head.bias.add_(0.01)
        return model


@pytest.fixture(scope="module")
def world():
    ds = load_dataset("digits")
    cfg = TrainConfig(epochs=8, batch_size=128, lr=0.05)
    original = train_model("mlp", ds, torch.arange(ds.n_train), cfg, seed=0)
    perm = torch.randperm(ds.n_train, generator=torch.Generator().manual_seed(0))
    return SimpleNamespace(ds=ds, cfg=cfg, original=original, f=perm[:90].sort().values, r=perm[90:].sort().values)


def test_rum_registered_like_rsu_and_validates(world):
    from unlearn_core.methods.rum import RUM

    for prefix in ("rum", "rum_reverse", "rum_oneshot"):
        m = get_method(f"{prefix}:ft")
        assert isinstance(m, RUM) and m.metadata()["wraps"] == "ft"
    assert isinstance(get_method("rum:salun"), RUM) and "rum:ft" not in method_names()
    for bad in ("rum:rum:ft", "rum:retrain"):
        with pytest.raises(ConfigError):
            get_method(bad)
    m = get_method("rum:ga")
    p = m.resolve_params(world.ds, {"rum_methods": "none,,ft", "lr": 0.01})
    assert p["rum_methods"] == ["none", "ga", "ft"] and p["lr"] == 0.01
    assert p["rum_group_params"][2] == get_method("ft").resolve_params(world.ds, None)  # another method: resolved
    assert m.resolve_params(world.ds, p) == p  # idempotent (a stored run's params give the same key)
    for bad in ({"rum_methods": ["ft", "ft"]}, {"rum_methods": "none,nope,ft"}, {"rum_groups": 0},
                {"rum_score": "nope"}, {"rum_retain": "x"}, {"rum_group_params": [{"nope": 1}, {}, {}]},
                {"rum_methods": "retrain,,"}):
        with pytest.raises(ConfigError):
            m.resolve_params(world.ds, bad)
    inp = UnlearnInput(world.original, "mlp", world.ds, world.f, world.r, world.cfg)
    with pytest.raises(ConfigError, match="store"):  # memorization without the pipeline's store is refused
        m.unlearn(inp, m.resolve_params(world.ds, {"epochs": 1}))


def test_rum_groups_in_order_per_group_methods_and_ablations(world):
    from unlearn_core.methods.rum import RUM
    from unlearn_core.training import per_sample_loss

    loss = per_sample_loss(world.original, world.ds, "train")
    inp = UnlearnInput(world.original, "mlp", world.ds, world.f, world.r, world.cfg)
    plans = {}
    for prefix in ("rum", "rum_reverse", "rum_oneshot"):
        spy = _Spy()
        w = RUM(prefix, spy)
        w.unlearn(inp, w.resolve_params(world.ds, {"rum_score": "loss"}))
        plans[prefix] = [set(c[0].tolist()) for c in spy.calls]
        for t in range(1, len(spy.calls)):
            assert spy.calls[t][2] is not world.original  # each group starts from the previous group's model
        assert all(torch.equal(c[1], world.r) for c in spy.calls)  # retain = D \ D_f ("final")
        assert all(c[3]["epochs"] == 4 for c in spy.calls)  # every group runs the method in full
    fwd, rev = plans["rum"], plans["rum_reverse"]
    assert len(fwd) == 3 and fwd == rev[::-1] and set().union(*fwd) == set(world.f.tolist())
    assert plans["rum_oneshot"] == [set(world.f.tolist())]
    # Loss has hard_end "low" (Chen et al.): easy = high loss comes first.
    g = [loss[torch.tensor(sorted(s))] for s in fwd]
    assert g[0].min() >= g[1].max() and g[1].min() >= g[2].max()

    spy = _Spy()
    w = RUM("rum", spy)
    w.unlearn(inp, w.resolve_params(world.ds, {"rum_score": "loss", "rum_methods": ["none", "", ""],
                                               "rum_group_params": [{}, {"epochs": 1}, {}],
                                               "rum_retain": "sequential"}))
    assert [set(c[0].tolist()) for c in spy.calls] == fwd[1:]  # the easiest group was left alone
    assert [c[3]["epochs"] for c in spy.calls] == [1, 4]  # per-group overrides
    assert set(spy.calls[0][1].tolist()) == set(world.r.tolist()) | fwd[2]  # later groups still retained


def test_rum_ablations_differ_and_oneshot_is_the_plain_method(world):
    inp = UnlearnInput(world.original, "mlp", world.ds, world.f, world.r, world.cfg)
    models = {}
    for name in ("ga", "rum:ga", "rum_reverse:ga", "rum_oneshot:ga"):
        m = get_method(name)
        models[name] = m.unlearn(inp, m.resolve_params(world.ds, {"epochs": 2, "lr": 0.01, "rum_score": "loss"}
                                                       if name != "ga" else {"epochs": 2, "lr": 0.01}))
    same = lambda a, b: all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert same(models["ga"], models["rum_oneshot:ga"])
    assert not same(models["rum:ga"], models["rum_reverse:ga"]) and not same(models["rum:ga"], models["ga"])


def test_rum_by_memorization_through_the_pipeline(pipe):
    from unlearn_core.cost import method_passes

    params = {"epochs": 1, "rum_methods": ["none", "", ""], "rum_score_params": {"n_shadow": 4}}
    row = pipe.run("rum:ft", "random", 0.1, 0, params, keep_model=False)
    assert np.isfinite([row["UA"], row["RA"], row["TA"]]).all()
    run = pipe.find_run("rum:ft", "random", 0.1, 0, params)
    assert run["config"]["params"]["rum_score"] == "memorization"
    assert run["config"]["params"]["rum_score_params"]["n_shadow"] == 4
    p = get_method("rum:ft").resolve_params(pipe.ds, params)
    assert method_passes("rum:ft", p, 144, 1293, pipe.train_cfg) == pytest.approx(2 * 1293)  # 2 groups × 1 epoch


# ------------------------------------------------------------------------------------------------ tuning
def test_tuning_picks_the_smallest_avg_gap_stores_it_and_applies_it(pipe, capsys):
    from unlearn_core.results import aggregate, results_frame
    from unlearn_core.tuning import (TuneSpec, annotate_tuned, candidates_frame, estimate_tuning, find_tunings,
                                     load_tuning, tune)

    ts = TuneSpec(setup=pipe.setup, method="ga", grid={"lr": [0.001, 0.05], "epochs": [2]}, seeds=[0, 1],
                  apply_to=["worst"])
    est = estimate_tuning(ts, pipe.store)
    assert est.seconds > 0 and est.n_candidates == 3  # 2 grid points + the preset (5 epochs)
    res = tune(ts, pipe.store)
    cands = candidates_frame(res.record)
    assert len(cands) == 3 and cands["is_preset"].sum() == 1
    best = cands.loc[cands["avg_gap"].idxmin()]
    assert res.chosen["candidate"] == int(best["candidate"]) and bool(best["chosen"])
    # The objective is results.aggregate's avg_gap over the stored runs.
    df = results_frame(pipe.store, pipe.setup_key)
    agg = aggregate(df[(df["selector"] == "random") & (df["seed"].isin([0, 1]))])
    chosen_json = json.dumps(res.chosen["params"], sort_keys=True)
    assert agg.loc[(agg["method"] == "ga") & (agg["params"] == chosen_json), "avg_gap"].iloc[0] == \
        pytest.approx(res.chosen["avg_gap"])
    # Stored and retrievable; the applied runs carry the tuned values in their params (hence their keys).
    found = find_tunings(pipe.store, pipe.setup_key, "ga")
    assert len(found) == 1 and found.iloc[0]["chosen_params"] == chosen_json
    assert load_tuning(pipe.store, res.key)["chosen"] == res.chosen
    for seed in (0, 1):
        run = pipe.find_run("ga", "worst", 0.1, seed, res.chosen["params"])
        assert run is not None and run["config"]["params"] == res.chosen["params"]
    assert set(res.applied["variant"]) >= {"retrain", "tuned"} or "tuned (= preset)" in set(res.applied["variant"])
    labelled = annotate_tuned(results_frame(pipe.store, pipe.setup_key), pipe.store)
    tuned_rows = labelled[(labelled["method"] == "ga") & (labelled["params"] == chosen_json)]
    assert tuned_rows["tuned_on"].str.startswith("tuned on random 10%").all()
    assert (labelled.loc[labelled["params"] != chosen_json, "tuned_on"] == "").all()
    again = tune(ts, pipe.store)
    assert again.cache_hit and again.chosen == res.chosen

    from unlearn_core.cli import main

    rc = main(["tune", "--method", "ga", "--grid", '{"lr": [0.001, 0.05], "epochs": [2]}', "--seeds", "0,1",
               "--epochs", "6", "--blo", '{"upper_iters": 3, "K": 1}', "--model", "mlp",
               "--cache-dir", str(pipe.store.root), "--quiet"])
    out = capsys.readouterr()
    assert rc == 0 and "chosen:" in out.out and "from the cache" in out.out and "estimate:" in out.err
    with pytest.raises(ConfigError):
        TuneSpec(setup=pipe.setup, method="retrain").validate()
    with pytest.raises(ConfigError):
        TuneSpec(setup=pipe.setup, method="ga", grid={"nope": [1]}).validate(pipe.ds)


def test_job_kinds_registered():
    from unlearn_core.jobs import JOB_KINDS

    assert {"tune", "view_entanglement", "view_why_hard"} <= set(JOB_KINDS)
    JOB_KINDS["tune"].check({"method": "ft", "grid": {"lr": [0.01]}})
    with pytest.raises(ConfigError):
        JOB_KINDS["tune"].check({"method": "ft", "grid": {"lr": []}})
    assert "Tune ft" in JOB_KINDS["tune"].describe({"method": "ft"})


# ------------------------------------------------------------------------------------------------ why hard
def test_why_hard_frames_and_correlation_matrix(pipe):
    from unlearn_core.analysis.hardness import hardness_correlation, why_hard

    for name in ("loss", "lira_asr", "le_confidence", "le_entropy"):
        pipe.score(name, 0, params={"n_shadow": 4} if name == "lira_asr" else None)
    pipe.score("memorization", 0, params={"n_shadow": 4})
    assert why_hard(pipe, ("easiest", 0.1, 0)) is None  # not stored: read-only view returns None
    fs = pipe.forget_set("random", 0.1, 0)
    w = why_hard(pipe, ("random", 0.1, 0))
    if {"entanglement", "entanglement_reference"} & set(w.missing):  # read-only: listed; a job computes it
        from unlearn_core.analysis.entanglement import entanglement, random_reference

        entanglement(pipe, fs)
        random_reference(pipe, fs.size, 0, n_sets=5)
        w = why_hard(pipe, ("random", 0.1, 0))
    assert {"memorization", "loss", "lira_asr", "le_confidence"} <= set(w.summary["quantity"])
    assert "blo" in set(w.summary["quantity"]) | set(w.missing)  # listed either way (computed by the tuning test)
    assert set(w.distributions["group"]) == {"forget set", "training set"}
    assert (w.distributions.query("quantity == 'loss' and group == 'forget set'").shape[0] == w.size)
    assert w.composition["set_count"].sum() == w.size and w.composition["train_count"].sum() == pipe.ds.n_train
    assert list(w.entanglement["group"]).count("this set") == 1 and len(w.entanglement) == 6
    assert w.summary["set_mean_percentile"].between(0, 100).all()
    c = hardness_correlation(pipe, [0], ("memorization", "le_confidence", "le_entropy", "loss", "lira_asr"))
    m = c.mean
    assert np.allclose(m.to_numpy(), m.to_numpy().T, equal_nan=True) and np.allclose(np.diag(m), 1)
    assert m.loc["le_confidence", "le_entropy"] < -0.5  # confident over training = low entropy
    assert m.loc["le_confidence", "loss"] < 0
    assert c.std.isna().all().all() and set(c.long().columns) == {"a", "b", "rho_mean", "rho_std", "n"}


def test_memorization_groups_are_data_set_level_as_in_zhao_et_als_code():
    """high = the most memorized samples of the whole training set, low = the least, mid = closest to 0.5; a
    mem:mix forget set takes a third of each, and RUM's data-set-level grouping recovers exactly those groups,
    where splitting the forget set into terciles would not (a low-memorization forget set stays one group)."""
    from unlearn_core.methods.rum import dataset_groups, rum_groups
    from unlearn_core.scores.memorization import memorization_groups, mix_sizes, resolution_text

    rng = np.random.default_rng(0)
    mem = rng.uniform(-0.2, 1.0, 600)  # distinct values: the groups are unambiguous
    g = memorization_groups(mem, {"low": 20, "mid": 20, "high": 20}, np.random.default_rng(1))
    assert set(g["high"]) == set(np.argsort(-mem)[:20]) and set(g["low"]) == set(np.argsort(mem)[:20])
    assert np.abs(mem[g["mid"]] - 0.5).max() <= np.sort(np.abs(np.delete(mem, np.r_[g["low"], g["high"]]) - 0.5))[19]
    seed = 7
    f_groups = memorization_groups(mem, mix_sizes(61), np.random.default_rng(seed + 104729))
    assert [len(f_groups[k]) for k in ("low", "mid", "high")] == [21, 20, 20]
    forget = np.sort(np.concatenate(list(f_groups.values())))
    got = dataset_groups(mem, forget, 3, seed, memorization=True)
    assert [set(x) for x in got] == [set(f_groups[k]) for k in ("low", "mid", "high")]
    # a forget set made only of low-memorization samples: one data-set-level group, but three terciles
    low_only = np.sort(memorization_groups(mem, {"low": 30}, np.random.default_rng(3))["low"])
    assert [len(x) for x in dataset_groups(mem, low_only, 3, seed, memorization=True)] == [30, 0, 0]
    assert [len(x) for x in rum_groups(mem[low_only], low_only, 3)] == [10, 10, 10]
    assert resolution_text(16) == "resolution 1/8 (16 shadow models)"
    assert resolution_text(64) == "resolution 1/32 (64 shadow models)"


def test_mem_selector_and_rum_shadow_bank_option(world):
    from unlearn_core.selectors import parse_selector, select_forget_set, selector_label
    from unlearn_core.scores.memorization import memorization_groups, mix_sizes

    spec = parse_selector("mem:mix:64")
    assert spec.needs_scores() == [("memorization", False)] and spec.score_params() == {"n_shadow": 64}
    assert selector_label("mem:mix") == "memorization mix (low + mid + high)"
    for bad in ("mem:medium", "mem:mix:7", "mem:mix:x"):
        with pytest.raises(ConfigError):
            parse_selector(bad)
    values = np.random.default_rng(5).uniform(0, 1, world.ds.n_train)
    fs = select_forget_set("mem:mix", world.ds, 0.1, 3, lambda name, r, p: values)
    want = memorization_groups(values, mix_sizes(fs.size), np.random.default_rng(3 + 104729))
    assert set(fs.forget_idx) == set(np.concatenate(list(want.values())))
    assert fs.info["mem_groups"]["high"]["min"] >= fs.info["mem_groups"]["mid"]["max"]
    m = get_method("rum:ft")
    p = m.resolve_params(world.ds, {"rum_n_shadow": 64})
    assert p["rum_score_params"]["n_shadow"] == 64 and p["rum_grouping"] == "dataset"
    for bad in ({"rum_n_shadow": 7}, {"rum_n_shadow": 64, "rum_score": "loss"}, {"rum_grouping": "x"}):
        with pytest.raises(ConfigError):
            m.resolve_params(world.ds, bad)
