"""Methods checked against their reference implementations (docs/methods.md lists the references).

Each test pins one behaviour the reference code has (or an option that restores this project's earlier one):
BS's FGSM in pixel units, RL/SalUn's label draws, IU's retain gradient, the Fisher estimator's scale, RSU's θ_o
anchor, activation pruning's mask, float32 per-sample quantities under autocast, DAU's class-wise robustness, ...
The small digits MLP of test_methods.py is reused (its module-scoped fixtures are imported).
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_methods import make_input, run_method, state_of, world  # noqa: E402,F401

from unlearn_core.data import ImageDataset  # noqa: E402
from unlearn_core.methods import get_method  # noqa: E402
from unlearn_core.models import build_model  # noqa: E402
from unlearn_core.training import get_batch  # noqa: E402


def rgb_dataset(n: int = 32, seed: int = 0) -> ImageDataset:
    """A tiny 3-channel data set whose channels have clearly different mean / std (so pixel <-> standardised
    conversions are per channel)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 8, 8), generator=g, dtype=torch.int64)
    x[:, 1] = x[:, 1] // 4  # dark channel
    x[:, 2] = 128 + x[:, 2] // 8  # low-contrast channel
    x = x.to(torch.uint8)
    y = torch.arange(n) % 3
    return ImageDataset("rgb8", x, y, x.clone(), y.clone(), ["a", "b", "c"])


# ------------------------------------------------------------------------------------------------------ BS
def test_pixel_space_round_trip():
    from unlearn_core.methods._building_blocks import from_pixels, to_pixels

    ds = rgb_dataset()
    xb, _ = get_batch(ds, torch.arange(8))
    assert torch.allclose(to_pixels(ds, xb), ds.x_train[:8].float() / 255, atol=1e-5)
    assert torch.allclose(from_pixels(ds, to_pixels(ds, xb)), xb, atol=1e-4)


@pytest.mark.parametrize("discretize", [False, True])
def test_bs_fgsm_bound_is_in_pixel_units_and_images_stay_in_range(discretize):
    from unlearn_core.methods._building_blocks import to_pixels
    from unlearn_core.methods.bs import fgsm_neighbours

    ds = rgb_dataset()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model("cnn", ds.input_shape, ds.num_classes).eval()
    idx = torch.arange(ds.n_train)
    xb, yb = get_batch(ds, idx)
    bound = 0.1
    x_adv = fgsm_neighbours(model, ds, xb, yb, bound, discretize=discretize)
    pix, adv = ds.x_train.float() / 255, to_pixels(ds, x_adv)
    delta = (adv - pix).abs()
    assert adv.min() >= -1e-6 and adv.max() <= 1 + 1e-6  # valid images
    if discretize:  # the reference's re-quantisation: on the 1/255 grid, within half a grey level of the bound
        assert torch.allclose(adv * 255, torch.round(adv * 255), atol=1e-3)
        assert delta.max() <= bound + 0.5 / 255 + 1e-5 and delta.max() >= bound - 0.5 / 255 - 1e-5
    else:
        assert abs(delta.max().item() - bound) < 1e-5  # the bound, in [0, 1] pixel units
        inside = (pix >= bound) & (pix <= 1 - bound)  # pixels the [0, 1] clamp cannot have cut
        assert torch.allclose(delta[inside], torch.full_like(delta[inside], bound), atol=1e-5)
    # In standardised units the step differs per channel (bound / std_c): not a fixed 0.1 there.
    step_std = (x_adv - xb).abs().flatten(2).amax(2).amax(0)
    assert step_std.max() / step_std.min() > 1.5


def test_bs_labels_are_argmax_of_the_attacker_on_the_neighbour(world):
    from unlearn_core.methods.bs import fgsm_neighbour_labels, fgsm_neighbours

    model = copy.deepcopy(world.original).eval()
    xb, yb = get_batch(world.ds, world.f)
    expect = model(fgsm_neighbours(model, world.ds, xb, yb, 0.1)).argmax(1)
    assert torch.equal(fgsm_neighbour_labels(model, world.ds, world.f, 0.1), expect)
    assert (expect == yb).any(), "the reference allows the true class (FGSM does not always cross the boundary)"


# ------------------------------------------------------------------------------------------------ RL / SalUn
def test_rl_labels_redrawn_each_epoch_true_class_allowed():
    from unlearn_core.methods._building_blocks import ForgetRelabeler

    n, k = 2000, 10
    y = torch.arange(n) % k
    forget = torch.arange(0, n, 2)
    ib = torch.arange(n)
    rel = ForgetRelabeler(y, forget, k, torch.Generator().manual_seed(0))  # defaults = reference
    e1, e2 = rel(y, ib), rel(y, ib)
    assert torch.equal(e1[1::2], y[1::2]) and torch.equal(e2[1::2], y[1::2])  # retain samples untouched
    assert (e1[::2] != e2[::2]).float().mean() > 0.8  # a new draw each epoch (visit)
    same = (e1[::2] == y[::2]).float().mean().item()
    assert 0.05 < same < 0.15  # the true class is one of the K equally likely labels
    old = ForgetRelabeler(y, forget, k, torch.Generator().manual_seed(0), redraw=False, exclude_true=True)
    o1, o2 = old(y, ib), old(y, ib)
    assert torch.equal(o1, o2) and not (o1[::2] == y[::2]).any()  # the earlier behaviour: fixed and wrong


@pytest.mark.parametrize("name", ["rl", "salun"])
def test_rl_and_salun_default_to_the_reference_draws(world, name):
    p = get_method(name).resolve_params(world.ds, None)
    assert p["redraw_labels"] is True and p["exclude_true_class"] is False
    a = run_method(world, name)
    b = run_method(world, name, overrides={"redraw_labels": False, "exclude_true_class": True})
    assert any(not torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


# ------------------------------------------------------------------------------------------------------- RSU
def test_rsu_passes_the_true_original_as_teacher_to_every_stage(world):
    """Bad-T inside RSU: every stage distils from θ_o (not from the previous stage's model) while starting from
    the previous stage's model."""
    from unlearn_core.methods.bad_t import BadTeacher
    from unlearn_core.methods.rsu import RSU

    seen = []

    class SpyBadT(BadTeacher):
        name = "spy_bad_t"

        def unlearn(self, inp, params):
            seen.append((state_of(inp.frozen_original()), inp.original, inp.theta_o))
            out = super().unlearn(inp, params)
            seen[-1] += (out,)
            return out

    w = RSU("rsu", SpyBadT())
    w.unlearn(make_input(world), w.resolve_params(world.ds, {"rsu_stages": 3, "epochs": 1}))
    assert len(seen) == 3
    for t, (teacher, start, theta_o, out) in enumerate(seen):
        assert theta_o is world.original
        assert all(torch.equal(teacher[k], v) for k, v in world.original_state.items()), f"stage {t}: teacher is not θ_o"
        if t == 0:
            assert start is world.original
        else:
            assert start is seen[t - 1][3], f"stage {t} does not start from stage {t - 1}'s model"
    # The wrapped method alone (no wrapper) sees the same model as start and teacher.
    inp = make_input(world)
    assert inp.theta_o is inp.original and inp.anchor is None


# ------------------------------------------------------------------------------------------------------- IU
def _mean_grad(model, ds, idx):
    model.zero_grad()
    xb, yb = get_batch(ds, idx)
    F.cross_entropy(model(xb), yb).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("kind", ["reference", "newton", "forget"])
def test_influence_step_uses_the_retain_gradient(world, kind):
    """With no Hessian samples H⁻¹ = I/λ, so θ_u − θ_o = scale·v/λ exactly; v as the reference Wfisher.py:
    (n_f/N)(ḡ_f − ḡ_r). θ_o is moved off its optimum first, so the retain gradient matters."""
    start = copy.deepcopy(world.original)
    with torch.no_grad():
        start.head.bias.add_(0.5)  # clearly non-stationary
    inp = make_input(world)
    inp.original = start
    m = get_method("influence")
    scale, lam = 0.01, 0.5
    out = m.unlearn(inp, m.resolve_params(world.ds, {"gradient": kind, "hessian_samples": 0, "scale": scale,
                                                      "damping": lam}))
    delta = torch.cat([(p.detach() - q.detach()).reshape(-1) for p, q in zip(out.parameters(), start.parameters())])
    ref = copy.deepcopy(start).eval()
    g_f, g_r = _mean_grad(ref, world.ds, world.f), _mean_grad(ref, world.ds, world.r)
    n_f, n_r = world.f.numel(), world.r.numel()
    v = {"reference": (g_f - g_r) * n_f / (n_f + n_r), "newton": -g_r, "forget": g_f * n_f / n_r}[kind]
    assert torch.allclose(delta, scale * v / lam, atol=1e-6, rtol=1e-3)
    if kind == "reference":  # not the forget-only form once θ_o is not stationary
        assert not torch.allclose(delta, scale * g_f * n_f / n_r / lam, atol=1e-6, rtol=1e-2)


# --------------------------------------------------------------------------------------------------- Fisher
def test_fisher_reference_estimator_is_squared_batch_mean_gradients(world):
    """The reference's hessian(): per batch and class c, (∇ mean_b CE(x, c))² weighted by mean_b p(c|x), summed
    over classes and averaged over batches — not per-sample squares."""
    from unlearn_core.methods.fisher import diagonal_fisher

    model = copy.deepcopy(world.original).eval()
    idx = world.r[:50]  # batches of 32 and 18
    got = diagonal_fisher(model, world.ds, idx, 32, "reference")
    expect = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for ib in (idx[:32], idx[32:]):
        xb, _ = get_batch(world.ds, ib)
        for c in range(world.ds.num_classes):
            model.zero_grad()
            out = model(xb)
            F.cross_entropy(out, torch.full((len(ib),), c)).backward()
            w = F.softmax(out.detach(), 1)[:, c].mean()
            for n, p in model.named_parameters():
                expect[n] += w * p.grad ** 2
    for n in expect:
        assert torch.allclose(got[n], expect[n] / 2, rtol=1e-4, atol=1e-10), n
    per_sample = diagonal_fisher(model, world.ds, idx, 32, "true")
    assert not torch.allclose(per_sample["head.weight"], got["head.weight"], rtol=0.1)


def test_fisher_noise_variance_is_alpha_over_fisher(world):
    from unlearn_core.methods.fisher import noise_variance

    model = copy.deepcopy(world.original)
    fisher = {n: torch.rand(p.shape, generator=torch.Generator().manual_seed(1)) + 0.5
              for n, p in model.named_parameters()}  # 1/F in [0.67, 2]: below both caps
    v1 = noise_variance(model, fisher, 1e-3, 1e3, 1e2)
    v2 = noise_variance(model, fisher, 2e-3, 1e3, 1e2)
    for n, p in model.named_parameters():
        assert torch.allclose(v2[n], 2 * v1[n])  # ∝ α
    b = "body.1.0.bias"  # 1-D: ×10, elementwise α / F
    assert torch.allclose(v1[b], 10 * 1e-3 / (fisher[b] + 1e-8))
    wn = "body.2.0.weight"  # matrix: the mean of α / F over each row's inputs (reference: var.mean(dim=1))
    assert torch.allclose(v1[wn], (1e-3 / (fisher[wn] + 1e-8)).mean(1, keepdim=True).expand_as(v1[wn]))
    fisher[b] = fisher[b] * 4  # 4× the Fisher -> a quarter of the variance
    assert torch.allclose(noise_variance(model, fisher, 1e-3, 1e3, 1e2)[b], v1[b] / 4, rtol=1e-5)


def test_fisher_larger_alpha_more_noise(world):
    """Same noise draws, 4α -> every weight moves exactly twice as far (std ∝ sqrt(α))."""
    a = run_method(world, "fisher", overrides={"alpha": 1e-6})
    b = run_method(world, "fisher", overrides={"alpha": 4e-6})
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        o = world.original_state[n]
        assert torch.allclose(q.detach() - o, 2 * (p.detach() - o), atol=1e-6, rtol=1e-4), n


# ------------------------------------------------------------------------------------------- gradient surgery
REFERENCE_SURGERY = {  # sachit3022/unlearning, unl_algorithms/surgery.py (CIFAR-10, ResNet-18)
    "ascent_epochs": 3, "ascent_lr": 0.09, "ascent_momentum": 0.95, "ascent_batch_size": 2048, "ascent_clip": 0.0,
    "epochs": 4, "lr": 2e-3, "batch_size": 1024, "optimizer": "adamw", "schedule": "exponential", "lr_decay": 0.5,
    "weight_decay": 5e-4, "l1": 1e-3, "l1_reduction": "mean", "l2": 0.0}


def test_grad_surgery_image_preset_is_the_reference():
    m = get_method("grad_surgery")
    assert m.presets["image"] == REFERENCE_SURGERY
    assert "surgery.py" in m.preset_notes


def test_grad_surgery_reference_descent(world, monkeypatch):
    """AdamW with decoupled weight decay, lr halved after every epoch, l1 = Σ over tensors of mean |θ|."""
    import unlearn_core.methods.grad_surgery as gs

    seen = []
    real = gs.train_loop

    def spy(model, ds, idx, cfg, seed, optimizer=None, **kw):
        g = optimizer.param_groups[0]
        seen.append((type(optimizer).__name__, round(g["lr"], 10), g["weight_decay"], cfg.epochs))
        return real(model, ds, idx, cfg, seed, optimizer=optimizer, **kw)

    monkeypatch.setattr(gs, "train_loop", spy)
    over = {**REFERENCE_SURGERY, "ascent_epochs": 1, "ascent_batch_size": 64, "batch_size": 256, "epochs": 3}
    run_method(world, "grad_surgery", overrides=over)
    assert seen == [("AdamW", 2e-3, 5e-4, 1), ("AdamW", 1e-3, 5e-4, 1), ("AdamW", 5e-4, 5e-4, 1)]
    model = copy.deepcopy(world.original)
    pen = gs.elastic_net(model, 1e-3, 0.0, "mean")
    assert torch.allclose(pen, 1e-3 * sum(p.abs().mean() for p in model.parameters()))


# --------------------------------------------------------------------------------------- activation pruning
def test_act_prune_union_mask_is_the_or_of_per_batch_masks(world):
    from unlearn_core.methods.act_prune import find_sites, prune_masks, site_quantiles

    model = copy.deepcopy(world.original).eval()
    sites = find_sites(model, get_batch(world.ds, world.f[:4])[0])
    qs = site_quantiles(len(sites), 0.99, 0.90)
    bs = 16
    union = prune_masks(model, sites, world.ds, world.f, qs, "union", bs)
    per_batch = [prune_masks(model, sites, world.ds, world.f[s:s + bs], qs, "mean")
                 for s in range(0, world.f.numel(), bs)]
    for i in range(len(sites)):
        expect = torch.stack([b[i] for b in per_batch]).any(0)
        assert torch.equal(union[i], expect)
        assert union[i].sum() > max(int(b[i].sum()) for b in per_batch)  # batches disagree: the union is larger
    # One batch holding all of D_f: union == mean.
    mean = prune_masks(model, sites, world.ds, world.f, qs, "mean")
    one = prune_masks(model, sites, world.ds, world.f, qs, "union", world.f.numel())
    assert all(torch.equal(a, b) for a, b in zip(mean, one))


def test_act_prune_union_option_prunes_the_union(world):
    from unlearn_core.methods.act_prune import find_sites

    model = run_method(world, "act_prune", overrides={"mask": "union", "prune_batch_size": 16})
    base = run_method(world, "act_prune")

    def zero_units(m):
        return [int(((p.weight.abs().sum(1) == 0) & (p.bias == 0)).sum())
                for p, _ in find_sites(m, torch.zeros(2, *world.ds.input_shape))]
    assert all(u > b for u, b in zip(zero_units(model), zero_units(base)))


# ------------------------------------------------------------------------------------ float32 under autocast
def _same(a, b, path="") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            _same(u, v, f"{path}[{i}]")
    else:
        assert a.dtype == b.dtype and torch.equal(a, b), f"{path}: differs under autocast"


def test_per_sample_quantities_are_float32_under_bf16_autocast(world):
    """Saliency, Fisher, influence gradients, FGSM neighbours/labels, activation means, RSU losses, teacher logits
    and DAU attacker inputs are bit-identical whether or not the caller runs under (CPU) bf16 autocast."""
    from unlearn_core.methods._building_blocks import fp32_features, fp32_logits, per_sample_grads
    from unlearn_core.methods.act_prune import find_sites, mean_site_activations
    from unlearn_core.methods.bs import fgsm_neighbour_labels, fgsm_neighbours
    from unlearn_core.methods.dau import attacker_features
    from unlearn_core.methods.fisher import diagonal_fisher
    from unlearn_core.methods.influence import influence_vector
    from unlearn_core.methods.rsu import difficulty_scores
    from unlearn_core.methods.salun import saliency_masks

    ds = world.ds
    model = copy.deepcopy(world.original).eval()
    xb, yb = get_batch(ds, world.f)
    sites = find_sites(model, xb[:4])

    def compute():
        gen = torch.Generator().manual_seed(3)
        return {
            "fgsm": fgsm_neighbours(model, ds, xb, yb, 0.1),
            "bs_labels": fgsm_neighbour_labels(model, ds, world.f, 0.1),
            "saliency": saliency_masks(model, ds, world.f, 0.5),
            "fisher_reference": diagonal_fisher(model, ds, world.r[:64], 32, "reference"),
            "fisher_true": diagonal_fisher(model, ds, world.r[:16], 8, "true"),
            "influence": influence_vector(model, ds, world.f, world.r, list(model.parameters())),
            "per_sample_grads": per_sample_grads(model, xb[:8], yb[:8]),
            "activations": mean_site_activations(model, sites, ds, world.f),
            "rsu_loss": difficulty_scores(make_input(world), "loss"),
            "teacher": fp32_logits(model, xb), "features": fp32_features(model, xb),
            "dau": attacker_features(model, xb, yb, ds.num_classes, 3, 1.0, gen),
        }

    ref = compute()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(xb).dtype == torch.bfloat16  # autocast is really on
        got = compute()
    _same(ref, got)


@pytest.fixture()
def bf16_training(monkeypatch):
    """Run every training forward/backward under CPU bf16 autocast, as train_loop does on CUDA."""
    import unlearn_core.training as tr

    monkeypatch.setattr(tr, "autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16))


def _not_bf16(t: torch.Tensor) -> bool:
    """True when ``t`` was not computed in bf16 (some value is not representable in bf16)."""
    return bool((t.float().to(torch.bfloat16).float() != t.float()).any())


@pytest.mark.parametrize("name", ["bad_t", "scrub"])
def test_teacher_targets_are_float32_when_training_under_autocast(world, bf16_training, monkeypatch, name):
    import importlib

    mod = importlib.import_module(f"unlearn_core.methods.{name}")
    seen = []
    real = mod.kl_to_teacher

    def spy(student, teacher, *a, **k):
        seen.append((student.dtype, teacher))
        return real(student, teacher, *a, **k)

    monkeypatch.setattr(mod, "kl_to_teacher", spy)
    run_method(world, name, overrides={"epochs": 1})
    assert seen and all(s == torch.bfloat16 for s, _ in seen)  # the training forward did run in bf16
    assert all(t.dtype == torch.float32 and _not_bf16(t) for _, t in seen)


def test_soft_relabel_targets_from_float32_features_under_autocast(world, bf16_training, monkeypatch):
    import unlearn_core.methods.soft_relabel as sr

    seen = []
    real = sr.soft_targets

    def spy(z, *a, **k):
        seen.append(z)
        return real(z, *a, **k)

    monkeypatch.setattr(sr, "soft_targets", spy)
    run_method(world, "soft_relabel", overrides={"epochs": 1})
    assert seen and all(z.dtype == torch.float32 and _not_bf16(z) for z in seen)


# ------------------------------------------------------------------------------------------------------- DAU
def test_dau_class_forgetting_is_robust_across_seeds(world):
    """Class-wise DAU forgets the class for every seed (attacker initialisation, batches, noise), not a lucky one:
    forget accuracy well below θ_o's. (Eq. 1 as written, 'minimax', saturates and missed for some seeds.)"""
    from unlearn_core.training import accuracy

    m = get_method("dau")
    assert m.resolve_params(world.ds, None)["defender_objective"] == "nonsaturating"
    params = m.resolve_params(world.ds, {"epochs": 3, "attacker_pretrain_steps": 10, "noise_draws": 2,
                                         "attacker_layers": 1})
    before = accuracy(world.original, world.ds, "train", world.cf)
    for seed in range(5):
        inp = make_input(world, "class")
        inp.seed = seed
        after = accuracy(m.unlearn(inp, params), world.ds, "train", world.cf)
        assert after < 0.5 * before, f"seed {seed}: forget accuracy {after:.3f} vs θ_o's {before:.3f}"


def test_dau_defender_objectives():
    from unlearn_core.methods.dau import defender_adversarial_loss

    sf = torch.tensor([6.0, 5.0], requires_grad=True)  # attacker sure the forget samples are members
    sv = torch.tensor([-6.0, -5.0], requires_grad=True)
    g = {}
    for obj in ("minimax", "nonsaturating", "confuse"):
        (gf,) = torch.autograd.grad(defender_adversarial_loss(sf, sv, obj), sf)
        g[obj] = gf
        assert (gf > 0).all()  # every objective pushes A(f) down (towards "non-member")
    assert g["nonsaturating"].abs().min() > 50 * g["minimax"].abs().max()  # Eq. 1 saturates there


# ------------------------------------------------------------------------------------------------ ℓ1-sparse
def test_l1_sparse_alpha_decays_per_epoch_over_all_parameters(world):
    from unlearn_core.methods.l1_sparse import l1_weight

    assert [l1_weight(1.0, s, 3, 4, "epoch") for s in range(12)] == [1.0] * 3 + [0.75] * 3 + [0.5] * 3 + [0.25] * 3
    assert l1_weight(1.0, 6, 3, 4, "step") == 0.5
    p = get_method("l1_sparse").resolve_params(world.ds, None)
    assert p["alpha_schedule"] == "epoch" and p["l1_params"] == "all"
    over = {"alpha": 2e-3, "epochs": 2}
    every = run_method(world, "l1_sparse", overrides=over)
    weights = run_method(world, "l1_sparse", overrides={**over, "l1_params": "weights"})
    # The reference penalises biases too: they shrink more than when only weight matrices are penalised.
    assert every.head.bias.abs().sum() < weights.head.bias.abs().sum()


# ------------------------------------------------------------------------------------------- soft relabeling
def test_soft_relabel_reference_targets(world, monkeypatch):
    """The reference's targets: attention softmax(−||z_f − z_r||) over the batch's retain samples, z = θ_o's logits."""
    import unlearn_core.methods.soft_relabel as sr

    torch.manual_seed(0)
    z = torch.randn(6, 4)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    is_f = torch.tensor([True, False, False, False, True, False])
    t, ok = sr.soft_targets(z, y, is_f, 3, 1.0, False, "neg_l2")
    w = torch.softmax(-torch.cdist(z[is_f], z[~is_f]), 1)
    assert ok.all() and torch.allclose(t, w @ F.one_hot(y[~is_f], 3).float())
    seen = []
    real = sr.soft_targets
    monkeypatch.setattr(sr, "soft_targets", lambda zz, *a, **k: (seen.append(zz), real(zz, *a, **k))[1])
    run_method(world, "soft_relabel", overrides={"epochs": 1, "space": "original_logits", "similarity": "neg_l2",
                                                 "tau": 1.0, "exclude_same_class": False})
    assert seen and all(zz.shape[1] == world.ds.num_classes for zz in seen)  # θ_o's logits, not features
