"""Tests of the unlearning-method registry (unlearn_core/methods/).

One small MLP is trained on the real digits data once per module; every method runs on it with short schedules
(the ``FAST`` overrides). Per-method tests check what makes the method that method; the parametrised tests run
every registered method (``method_names()``) on a random and a class-wise forget set.
"""
from __future__ import annotations

import copy
import threading
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F


from unlearn_core.context import RunContext  # noqa: E402
from unlearn_core.data import ImageDataset, load_dataset  # noqa: E402
from unlearn_core.errors import CancelledError, ConfigError, DivergenceError  # noqa: E402
from unlearn_core.models import Classifier, build_model  # noqa: E402
from unlearn_core.methods import METHODS, UnlearnInput, get_method, method_names  # noqa: E402
from unlearn_core.methods.base import UnlearnMethod  # noqa: E402
from unlearn_core.training import TrainConfig, accuracy, predict_logits, train_model  # noqa: E402

# Short schedules so the whole file stays fast; keys are base-method names (RSU variants use their inner's).
FAST: dict[str, dict] = {
    "ft": {"epochs": 2}, "ga": {"epochs": 2}, "rl": {"epochs": 2}, "l1_sparse": {"epochs": 2},
    "eu_k": {"epochs": 3}, "cf_k": {"epochs": 2}, "scrub": {"epochs": 2, "msteps": 1},
    "be": {"epochs": 3}, "bs": {"epochs": 3}, "salun": {"epochs": 2}, "bad_t": {"epochs": 1},
    "fisher": {"max_samples": 128}, "influence": {"hessian_samples": 64},
    "soft_relabel": {"epochs": 2}, "grad_surgery": {"ascent_epochs": 2, "epochs": 2}, "act_prune": {"epochs": 2},
    # DAU: 3 epochs of the digits MLP's ~11 retain batches keep α on for the paper's 30 class-wise iterations.
    "dau": {"epochs": 3, "attacker_pretrain_steps": 10, "noise_draws": 2, "attacker_layers": 1},
}


def fast(name: str) -> dict:
    return dict(FAST.get(name.split(":")[-1], {}))


def state_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def world(digits_mlp):
    ds, cfg, original = digits_mlp.ds, digits_mlp.cfg, digits_mlp.original
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(ds.n_train, generator=g)
    f, r = perm[:72].sort().values, perm[72:].sort().values
    cls = 3
    cf = torch.nonzero(ds.y_train == cls).squeeze(1)
    cr = torch.nonzero(ds.y_train != cls).squeeze(1)
    return SimpleNamespace(ds=ds, cfg=cfg, original=original, f=f, r=r, cls=cls, cf=cf, cr=cr,
                           original_state=state_of(original))


def make_input(w, forget="random", **kw) -> UnlearnInput:
    if forget == "random":
        return UnlearnInput(w.original, "mlp", w.ds, w.f, w.r, w.cfg, seed=0, **kw)
    return UnlearnInput(w.original, "mlp", w.ds, w.cf, w.cr, w.cfg, seed=0, forget_classes=[w.cls], **kw)


def run_method(w, name, forget="random", overrides=None, **kw):
    m = get_method(name)
    params = m.resolve_params(w.ds, {**fast(name), **(overrides or {})})
    return m.unlearn(make_input(w, forget, **kw), params)


@pytest.fixture(scope="module")
def runs(world):
    """Memoised (method, forget kind) -> unlearned model, shared by the parametrised tests."""
    cache: dict = {}

    def get(name: str, forget: str):
        if (name, forget) not in cache:
            cache[(name, forget)] = run_method(world, name, forget)
        return cache[(name, forget)]

    return get


# ------------------------------------------------------------------------------- every registered method
ALL = method_names()


def test_registry_lists_every_paper_method():
    expected = {"retrain", "ft", "ga", "rl", "eu_k", "cf_k", "scrub", "l1_sparse", "be", "bs", "salun", "bad_t",
                "fisher", "influence", "soft_relabel", "grad_surgery", "act_prune", "dau",
                "rsu:ga", "rsu:rl", "rsu:bad_t", "rsu_reverse:ga", "rsu_reverse:rl", "rsu_reverse:bad_t"}
    assert expected <= set(ALL)
    assert all(n in METHODS for n in ALL)


@pytest.mark.parametrize("name", ALL)
def test_metadata_and_presets(name):
    m = get_method(name)
    meta = m.metadata()
    assert meta["name"] == name and meta["label"] and meta["description"]
    for key in ("relabeling", "reinit", "partial_update", "lambda", "lowers_forget_accuracy", "presets"):
        assert key in meta
    assert set(m.presets) >= {"small", "image"}, "presets for both families"
    assert set(m.presets["small"]) == set(m.presets["image"]), "same knobs in both families"
    if not meta["lowers_forget_accuracy"]:
        assert meta["why_not_lower"]
    with pytest.raises(ConfigError):
        m.resolve_params(load_dataset("digits"), {"no_such_knob": 1})


def test_image_family_gets_image_preset():
    x = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    y = torch.arange(4) % 2
    ds = ImageDataset("fake32", x, y, x, y, ["a", "b"])
    for name in ("salun", "influence", "dau"):
        m = get_method(name)
        budget = {"budget": "fixed10"} if "epochs" in m.presets["image"] else {}
        assert m.resolve_params(ds, budget) == {**m.presets["image"], **budget}


@pytest.mark.parametrize("name", ALL)
def test_finite_outputs_same_shape_original_untouched(world, runs, name):
    model = runs(name, "random")
    assert isinstance(model, Classifier)
    assert model is not world.original
    for split in ("train", "test"):
        logits = predict_logits(model, world.ds, split)
        assert logits.shape == (world.ds.split(split)[0].shape[0], world.ds.num_classes)
        assert torch.isfinite(logits).all()
    assert model.head.out_features == world.ds.num_classes
    own = model.state_dict()
    assert set(own) == set(world.original_state)
    assert all(own[k].shape == v.shape for k, v in world.original_state.items())
    # θ_o is never modified.
    cur = world.original.state_dict()
    assert all(torch.equal(cur[k], v) for k, v in world.original_state.items())
    # The returned model is fully trainable again (relearn-time needs that) and carries no hooks.
    assert all(p.requires_grad for p in model.parameters())
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in model.modules())


@pytest.mark.parametrize("name", ALL)
def test_lowers_forget_accuracy_on_class_forgetting(world, runs, name):
    m = get_method(name)
    if not m.metadata()["lowers_forget_accuracy"]:
        assert m.metadata()["why_not_lower"]
        return
    before = accuracy(world.original, world.ds, "train", world.cf)
    after = accuracy(runs(name, "class"), world.ds, "train", world.cf)
    assert after < before, f"{name}: forget accuracy {after:.3f} not below the original's {before:.3f}"


@pytest.mark.parametrize("name", ALL)
def test_cancellation_honoured(world, name):
    ev = threading.Event()
    ev.set()
    with pytest.raises(CancelledError):
        run_method(world, name, "random", ctx=RunContext(cancel_event=ev))


@pytest.mark.parametrize("name", ["ga", "scrub", "fisher", "influence", "grad_surgery", "dau", "rsu:ga"])
def test_progress_is_monotone_and_completes(world, name):
    seen = []
    run_method(world, name, "random", ctx=RunContext(on_progress=lambda f, msg: seen.append(f)))
    assert seen and all(0.0 <= f <= 1.0 for f in seen)
    assert all(b >= a - 1e-9 for a, b in zip(seen, seen[1:])) and seen[-1] > 0.99


# ------------------------------------------------------------------------------------ per-method checks
def test_salun_masked_out_weights_stay_exactly_at_original(world):
    from unlearn_core.methods.salun import saliency_masks

    frac = 0.3
    model = run_method(world, "salun", overrides={"sparsity": frac})  # recipe weight decay 5e-4 applies
    masks = saliency_masks(copy.deepcopy(world.original), world.ds, world.f, frac)
    n_total = n_masked_in = n_changed = 0
    for (name, p), m in zip(model.named_parameters(), masks):
        o = world.original_state[name]
        out = m == 0
        assert torch.equal(p.detach()[out], o[out]), f"{name}: a masked-out weight moved"
        n_changed += int((p.detach() != o).sum())
        n_masked_in += int(m.sum())
        n_total += m.numel()
    assert abs(n_masked_in / n_total - frac) < 0.01
    assert n_changed > 0.5 * n_masked_in  # the masked weights did train


@pytest.mark.parametrize("name,k", [("eu_k", 1), ("eu_k", 2), ("cf_k", 1), ("cf_k", 2)])
def test_eu_cf_change_only_last_k_groups(world, name, k):
    model = run_method(world, name, overrides={"k": k})
    groups = model.layer_groups()
    orig_groups = world.original.layer_groups()
    for i, (g, go) in enumerate(zip(groups, orig_groups)):
        same = all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), go.state_dict().values()))
        if i < len(groups) - k:
            assert same, f"{name}: frozen group {i} changed"
        else:
            assert not same, f"{name}: trainable group {i} did not change"


def test_eu_k_keeps_frozen_batchnorm_statistics_on_a_cnn(world):
    cnn = train_model("cnn", world.ds, torch.arange(world.ds.n_train), TrainConfig(epochs=1, batch_size=128), seed=0)
    before = state_of(cnn)
    inp = UnlearnInput(cnn, "cnn", world.ds, world.f, world.r, world.cfg, seed=0)
    m = get_method("eu_k")
    out = m.unlearn(inp, m.resolve_params(world.ds, {"k": 2, "epochs": 1}))
    groups, ref = out.layer_groups(), cnn.layer_groups()
    # Group 0 is a conv-BN block; its running statistics and weights are exactly θ_o's.
    for (ka, a), (kb, b) in zip(groups[0].state_dict().items(), ref[0].state_dict().items()):
        assert torch.equal(a, b), ka
    assert all(torch.equal(v, before[k]) for k, v in cnn.state_dict().items())


def true_class_prob(model, ds, idx) -> float:
    p = F.softmax(predict_logits(model, ds, "train", idx), 1)
    return p.gather(1, ds.y_train[idx][:, None]).mean().item()


def test_be_drops_the_shadow_neuron(world):
    model = run_method(world, "be", overrides={"epochs": 10})
    assert isinstance(model.head, torch.nn.Linear)
    assert tuple(model.head.weight.shape) == tuple(world.original.head.weight.shape)
    assert tuple(model.head.bias.shape) == tuple(world.original.head.bias.shape)
    assert model(torch.zeros(2, *world.ds.input_shape)).shape == (2, world.ds.num_classes)
    # Forget samples were pushed out of their class (into the dropped shadow class) more than retain samples.
    drop_f = true_class_prob(world.original, world.ds, world.f) - true_class_prob(model, world.ds, world.f)
    drop_r = true_class_prob(world.original, world.ds, world.r) - true_class_prob(model, world.ds, world.r)
    assert drop_f > drop_r and drop_f > 0


def test_bs_relabels_to_fgsm_neighbour_class(world):
    from unlearn_core.methods.bs import fgsm_neighbour_labels

    y = world.ds.y_train[world.f]
    excl = fgsm_neighbour_labels(copy.deepcopy(world.original), world.ds, world.f, 0.1, exclude_true_class=True)
    assert excl.shape == y.shape and not (excl == y).any()
    lab = fgsm_neighbour_labels(copy.deepcopy(world.original), world.ds, world.f, 0.1)  # reference: argmax, y allowed
    assert (lab != y).any() and torch.equal(lab[lab != y], excl[lab != y])
    model = run_method(world, "bs", overrides={"epochs": 10})
    pred = predict_logits(model, world.ds, "train", world.f).argmax(1)
    pred0 = predict_logits(world.original, world.ds, "train", world.f).argmax(1)
    assert (pred == lab).float().mean() > (pred0 == lab).float().mean()


def test_bad_teacher_moves_student_towards_incompetent_teacher(world):
    from unlearn_core.methods._building_blocks import kl_to_teacher
    from unlearn_core.methods.bad_t import incompetent_teacher

    model = run_method(world, "bad_t")
    bad = incompetent_teacher(make_input(world))
    t = predict_logits(bad, world.ds, "train", world.f)
    kl_after = kl_to_teacher(predict_logits(model, world.ds, "train", world.f), t)
    kl_before = kl_to_teacher(predict_logits(world.original, world.ds, "train", world.f), t)
    assert kl_after < kl_before


def test_act_prune_leaves_no_hooks_and_pruned_units_are_zero(world):
    from unlearn_core.methods.act_prune import find_sites

    model = run_method(world, "act_prune")
    for mod in model.modules():
        assert not mod._forward_hooks and not mod._forward_pre_hooks and not mod._backward_hooks
    for mod in world.original.modules():
        assert not mod._forward_hooks and not mod._forward_pre_hooks
    sites = find_sites(model, torch.zeros(2, *world.ds.input_shape))
    assert len(sites) == 2  # the MLP's two hidden ReLUs, produced by Linear layers
    zero_rows = []
    for prod, _ in sites:
        rows = (prod.weight.abs().sum(1) == 0) & (prod.bias == 0)
        zero_rows.append(int(rows.sum()))
    assert zero_rows[0] >= 1 and zero_rows[1] > zero_rows[0]  # q = 0.99 early, 0.90 deep


def test_act_prune_sites_on_conv_nets():
    from unlearn_core.methods.act_prune import find_sites

    cnn = build_model("cnn", (1, 8, 8), 10)
    sites = find_sites(cnn, torch.zeros(2, 1, 8, 8))
    kinds = [type(p).__name__ for p, _ in sites]
    assert kinds == ["BatchNorm2d", "BatchNorm2d", "Linear"]
    res = build_model("resnet18", (3, 8, 8), 10)
    sites = find_sites(res, torch.zeros(2, 3, 8, 8))
    names = {id(m): n for n, m in res.named_modules()}
    found = [names[id(p)] for p, _ in sites]
    # Stem BN + each BasicBlock's bn1; never bn2 (its output gets `+= identity` before the ReLU).
    assert len(found) == 9 and not any(n.endswith("bn2") for n in found)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in res.modules())


def test_fisher_per_sample_grads_and_classwise_head(world):
    from unlearn_core.methods._building_blocks import per_sample_grads
    from unlearn_core.training import get_batch

    model = copy.deepcopy(world.original).eval()
    xb, yb = get_batch(world.ds, world.r[:4])
    g = per_sample_grads(model, xb, yb)
    for i in range(4):
        model.zero_grad()
        F.cross_entropy(model(xb[i:i + 1]), yb[i:i + 1]).backward()
        for n, p in model.named_parameters():
            assert torch.allclose(g[n][i], p.grad, atol=1e-5, rtol=1e-4)
    out = run_method(world, "fisher", "class")
    row = out.head.weight[world.cls].detach()
    assert row.abs().max() < 0.1 < world.original.head.weight[world.cls].abs().max()


def test_influence_woodbury_matches_dense_inverse():
    from unlearn_core.methods.influence import woodbury_inverse_fisher_vp

    torch.manual_seed(0)
    G, v, lam = torch.randn(7, 40), torch.randn(40), 0.3
    dense = torch.linalg.solve(lam * torch.eye(40) + G.T @ G / 7, v)
    assert torch.allclose(woodbury_inverse_fisher_vp(G, v, lam), dense, atol=1e-4)


def test_influence_step_raises_forget_loss_more_than_retain_loss(world):
    from unlearn_core.training import per_sample_loss

    model = run_method(world, "influence")
    df = per_sample_loss(model, world.ds, "train", world.f).mean() - \
        per_sample_loss(world.original, world.ds, "train", world.f).mean()
    dr = per_sample_loss(model, world.ds, "train", world.r).mean() - \
        per_sample_loss(world.original, world.ds, "train", world.r).mean()
    assert df > dr and df > 0


def test_soft_relabel_targets():
    from unlearn_core.methods.soft_relabel import soft_targets

    torch.manual_seed(0)
    z = torch.randn(10, 5)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 3])
    is_f = torch.tensor([True, False, False, False, True, False, False, False, False, False])
    t, ok = soft_targets(z, y, is_f, 4, 0.1, exclude_same_class=True)
    assert ok.all() and torch.allclose(t.sum(1), torch.ones(2))
    assert t[0, 0] == 0 and t[1, 1] == 0  # never the forget sample's own class
    t2, _ = soft_targets(z, y, is_f, 4, 0.1, exclude_same_class=False)
    assert t2[0, 0] > 0  # same-class retain samples may vote when allowed


def test_grad_surgery_direction_is_orthogonal_to_retain_gradient():
    from unlearn_core.methods.grad_surgery import orthogonal_ascent_direction

    torch.manual_seed(0)
    gf = [torch.randn(3, 4), torch.randn(5)]
    gr = [torch.randn(3, 4), torch.randn(5)]
    d = orthogonal_ascent_direction(gf, gr)
    assert abs(sum((a * b).sum() for a, b in zip(d, gr)).item()) < 1e-5


def test_dau_pieces(world):
    from unlearn_core.methods.dau import MembershipAttacker, barlow_twins_loss, validation_indices

    v1 = validation_indices(world.ds, 0.5, 0)
    assert torch.equal(v1, validation_indices(world.ds, 0.5, 0))
    assert v1.numel() == round(0.5 * world.ds.x_test.shape[0]) and v1.max() < world.ds.x_test.shape[0]
    assert get_method("dau").metadata()["uses_test_data"]
    torch.manual_seed(0)
    z = torch.randn(64, 8)
    assert barlow_twins_loss(z, z, 5e-3) < barlow_twins_loss(z, torch.randn(64, 8), 5e-3)
    a = MembershipAttacker(10, dim=16, layers=1)
    assert a(torch.rand(5, 21)).shape == (5,)


# ------------------------------------------------------------------------------------------------- RSU
class _Spy(UnlearnMethod):
    name = "spy"
    label = "Spy"
    # budget fixed10: the preset's own epochs (4), not the papers' fraction of a recipe (unlearn_core/budget.py)
    presets = {"small": {"epochs": 4, "budget": "fixed10"}, "image": {"epochs": 4, "budget": "fixed10"}}

    def __init__(self):
        self.calls = []

    def unlearn(self, inp, params):
        self.calls.append((inp.forget_idx.clone(), inp.original, dict(params)))
        model = inp.copy_original()
        with torch.no_grad():
            model.head.bias.add_(0.01)
        return model


def test_rsu_orders_are_opposite(world):
    from unlearn_core.methods.rsu import RSU
    from unlearn_core.training import per_sample_loss

    loss = per_sample_loss(world.original, world.ds, "train")
    plans = {}
    for prefix in ("rsu", "rsu_reverse", "rsu_oneshot"):
        spy = _Spy()
        w = RSU(prefix, spy)
        params = w.resolve_params(world.ds, {"rsu_stages": 3})
        out = w.unlearn(make_input(world), params)
        assert isinstance(out, Classifier)
        # Each stage starts from the previous stage's model.
        for t in range(1, len(spy.calls)):
            assert spy.calls[t][1] is not world.original
        new, seen = [], set()
        for idx, _, p in spy.calls:
            cur = set(idx.tolist())
            assert seen <= cur  # nested stages D_1 ⊂ D_2 ⊂ ...
            new.append(cur - seen)
            seen = cur
        assert seen == set(world.f.tolist())
        plans[prefix] = (new, [p.get("epochs") for _, _, p in spy.calls])
    fwd, fwd_ep = plans["rsu"]
    rev, _ = plans["rsu_reverse"]
    assert len(fwd) == 3 and fwd == rev[::-1]
    assert fwd_ep == [2, 2, 2]  # rsu_stages = 3 forced: 4 epochs split across 3 stages (rounded up)
    assert len(plans["rsu_oneshot"][0]) == 1 and plans["rsu_oneshot"][1] == [4]
    # hard_to_easy starts with the lowest-loss (hardest) samples.
    first = torch.tensor(sorted(fwd[0]))
    rest = torch.tensor(sorted(fwd[1] | fwd[2]))
    assert loss[first].max() <= loss[rest].min()


def test_rsu_names_and_oneshot_equals_plain(world):
    assert "rsu:salun" not in method_names()
    dyn = get_method("rsu:salun")
    assert dyn.metadata()["wraps"] == "salun" and dyn.metadata()["order"] == "hard_to_easy"
    with pytest.raises(ConfigError):
        get_method("rsu:rsu:ga")
    with pytest.raises(ConfigError):
        get_method("nope:ga")
    a = run_method(world, "rsu_oneshot:ga")
    b = run_method(world, "ga")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_bool_hyperparameters_parse_strings(world):
    m = get_method("soft_relabel")
    assert m.resolve_params(world.ds, {"exclude_same_class": "false"})["exclude_same_class"] is False
    with pytest.raises(ConfigError):
        m.resolve_params(world.ds, {"exclude_same_class": "maybe"})


# ------------------------------------------------------------------------------------------ divergence
@pytest.mark.parametrize("name,overrides", [
    ("ga", {"lr": 1e5, "epochs": 3}),
    ("fisher", {"alpha": 1e38}),
    ("influence", {"scale": 1e300}),
])
def test_nan_raises_divergence_error(world, name, overrides):
    with pytest.raises(DivergenceError):
        run_method(world, name, overrides=overrides)


def test_dau_validation_samples_are_left_out_of_evaluation(tmp_path):
    """DAU tunes on half of the test split (D_v); TA and MIA must be measured on the other half only."""
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.methods import get_method
    from unlearn_core.store import Store

    pipe = Pipeline(Store(tmp_path), dataset="digits", model="mlp", device="cpu", train={"epochs": 3})
    dau = get_method("dau")
    params = dau.resolve_params(pipe.ds, {})
    used = dau.test_indices_used(pipe.ds, params, 0)
    assert used is not None and 0 < len(used) < pipe.ds.x_test.shape[0]
    assert get_method("rsu:dau").test_indices_used(pipe.ds, get_method("rsu:dau").resolve_params(pipe.ds, {}), 0) \
        .tolist() == used.tolist()
    assert get_method("ft").test_indices_used(pipe.ds, {}, 0) is None
