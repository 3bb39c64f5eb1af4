"""Helpers shared by method files (the trainer in training.py does the real work; these are the small
batched building blocks several methods need: masks, partial training, per-sample gradients, KL)."""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DivergenceError
from ..training import MethodTrainConfig, TrainConfig, get_batch, shuffled_batches


def method_cfg(base: TrainConfig, params: dict[str, Any], schedule: str = "constant") -> MethodTrainConfig:
    """The method's own optimiser settings on top of the original recipe (augmentation, batch size kept), with its
    budget: ``epochs`` and, for a partial pass, ``epoch_fraction`` and ``min_steps`` (unlearn_core/budget.py)."""
    return replace(
        MethodTrainConfig(**{k: getattr(base, k) for k in TrainConfig.__dataclass_fields__}),
        epoch_fraction=float(params.get("epoch_fraction", 1.0)),
        min_steps=int(params.get("min_steps", 0)),
        epochs=int(params.get("epochs", base.epochs)),
        lr=float(params.get("lr", base.lr)),
        batch_size=int(params.get("batch_size", base.batch_size)),
        optimizer=str(params.get("optimizer", "sgd")),
        weight_decay=float(params.get("weight_decay", base.weight_decay)),
        schedule=str(params.get("schedule", schedule)),
    ).validate()


def random_other_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random label different from the true one, per sample (RL's old "exclude true" relabeling)."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator).to(y.device)
    return (y + shift) % num_classes


def random_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator, exclude_true: bool = False
                  ) -> torch.Tensor:
    """Uniformly random labels for ``y``'s samples: any class (the true one included, as the reference RL/SalUn
    code's ``torch.randint(0, num_classes)``) or, with ``exclude_true``, any class but the true one."""
    if exclude_true:
        return random_other_labels(y, num_classes, generator)
    return torch.randint(0, num_classes, y.shape, generator=generator).to(y.device)


class ForgetRelabeler:
    """Random labels for the forget samples of a training batch (RL, SalUn); retain samples keep theirs.

    ``redraw``: fresh labels each time a forget sample is visited, i.e. once per epoch (the reference RL / SalUn
    code draws ``randint(0, K)`` over the forget set at every epoch); otherwise labels drawn once at construction
    and kept. ``exclude_true``: draw among the K − 1 wrong classes only. Draws come from ``generator`` (CPU).
    """

    def __init__(self, y_train: torch.Tensor, forget_idx: torch.Tensor, num_classes: int, generator: torch.Generator,
                 redraw: bool = True, exclude_true: bool = False):
        self.is_forget = forget_mask(int(y_train.shape[0]), forget_idx)
        self.k, self.gen, self.redraw, self.exclude = int(num_classes), generator, bool(redraw), bool(exclude_true)
        self.fixed = None
        if not self.redraw:
            self.fixed = y_train.clone()
            self.fixed[forget_idx] = random_labels(y_train[forget_idx], self.k, generator, self.exclude)

    def __call__(self, y: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
        f = self.is_forget[ib]
        y = y.clone()
        if self.redraw:
            y[f] = random_labels(y[f], self.k, self.gen, self.exclude)
        else:
            y[f] = self.fixed[ib][f]
        return y


def relabel_loss(relabel: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable:
    """A ``train_loop`` loss: cross-entropy against ``relabel(y, ib)``."""

    def loss_fn(m, x, y, ib):
        return F.cross_entropy(m(x), relabel(y, ib))

    return loss_fn


# ---------------------------------------------------------------------------------------------------------
# Precision. Training forward/backward passes run under bf16 autocast on CUDA (training.train_loop); every
# per-sample quantity a method derives from a model (saliency, Fisher, influence gradients, FGSM neighbours,
# teacher logits used as targets, features used for soft targets, attacker inputs, difficulty scores) is computed
# in float32 with autocast switched off, whatever context the caller is in.
# ---------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """Switch autocast off (CPU and, when present, CUDA) inside the block."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.autocast("cpu", enabled=False))
        if torch.cuda.is_available():
            stack.enter_context(torch.autocast("cuda", enabled=False))
        yield


def fp32_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` in float32 with autocast off (e.g. teacher logits that become training targets)."""
    with full_precision():
        return model(x.float()).float()


def fp32_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model.features(x)`` in float32 with autocast off."""
    with full_precision():
        return model.features(x.float()).float()


# ---------------------------------------------------------------------------------------------------------
# Pixel space. get_batch returns images standardised with the training-set channel mean/std; attacks with a
# bound "in pixel units" (BS's FGSM, 0.1 on [0, 1] images) work on x_pix = x·std + mean and map back.
# ---------------------------------------------------------------------------------------------------------

def _channel_stats(ds, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (ds.mean.to(device=x.device, dtype=torch.float32).view(shape),
            ds.std.to(device=x.device, dtype=torch.float32).view(shape))


def to_pixels(ds, x_norm: torch.Tensor) -> torch.Tensor:
    """Standardised images (as ``get_batch`` returns them) -> [0, 1] pixel values."""
    mean, std = _channel_stats(ds, x_norm)
    return x_norm.float() * std + mean


def from_pixels(ds, x_pix: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixel values -> standardised images (inverse of :func:`to_pixels`, same as ``ds.normalize``)."""
    mean, std = _channel_stats(ds, x_pix)
    return (x_pix.float() - mean) / std


# ---------------------------------------------------------------------------------------------------------
# Helpers added for the full method registry (issue 4). Everything here is batched and device-agnostic.
# ---------------------------------------------------------------------------------------------------------

def forget_mask(n: int, forget_idx: torch.Tensor) -> torch.Tensor:
    """Boolean (n,) tensor on forget_idx's device, True for forget samples."""
    m = torch.zeros(n, dtype=torch.bool, device=forget_idx.device)
    m[forget_idx] = True
    return m


def cycle_batches(idx: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless stream of shuffled index batches (re-shuffled after each pass); for side streams such as
    forget / validation batches drawn alongside the retain epoch."""
    if idx.numel() == 0:
        raise ConfigError("cannot draw batches from an empty index set")
    while True:
        yield from shuffled_batches(idx, batch_size, generator)


def check_model_finite(model: nn.Module, what: str) -> None:
    """Raise DivergenceError when any parameter is NaN/inf (for methods that do not train, e.g. Fisher)."""
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all().item()]
    if bad:
        raise DivergenceError(f"{what}: non-finite weights after unlearning (e.g. {bad[:3]}). "
                              f"Lower the step size / noise scale.")


@torch.no_grad()
def check_outputs_finite(model: nn.Module, ds, idx: torch.Tensor, what: str) -> None:
    """Raise DivergenceError when the model's logits on (up to 256 of) ``idx`` are not finite: finite but huge
    weights can still overflow the forward pass."""
    from ..training import predict_logits

    if not torch.isfinite(predict_logits(model, ds, "train", idx[:256])).all().item():
        raise DivergenceError(f"{what}: the unlearned model's outputs are not finite. Lower the step size / noise scale.")


def kl_to_teacher(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0,
                  reduction: str = "batchmean") -> torch.Tensor:
    """KL(teacher || student) on temperature-softened outputs, scaled by T² (Hinton distillation)."""
    t = float(temperature)
    log_s = F.log_softmax(student_logits.float() / t, dim=1)
    log_p = F.log_softmax(teacher_logits.float() / t, dim=1)
    if reduction == "none":
        return (log_p.exp() * (log_p - log_s)).sum(1) * t * t
    return F.kl_div(log_s, log_p, reduction=reduction, log_target=True) * t * t


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy against soft targets."""
    return -(target_probs * F.log_softmax(logits.float(), dim=1)).sum(1)


def last_k_groups(model, k: int) -> tuple[list[nn.Module], list[nn.Module]]:
    """(last k layer groups, the other groups) of a Classifier (head = last group)."""
    groups = model.layer_groups()
    k = int(k)
    if not 1 <= k <= len(groups):
        raise ConfigError(f"k must be between 1 and {len(groups)} (the model has {len(groups)} layer groups), got {k}.")
    return groups[-k:], groups[:-k]


class PartialTrain(nn.Module):
    """Wraps a model for :func:`training.train_loop` when only part of it trains.

    ``train(True)`` puts the model in training mode but keeps ``frozen`` modules in eval mode, so frozen
    BatchNorm layers neither update their running statistics nor switch to batch statistics: the frozen part
    computes exactly what it computed in θ_o. Unwrap with ``.inner``.
    """

    def __init__(self, inner: nn.Module, frozen: Sequence[nn.Module]):
        super().__init__()
        self.inner = inner
        self._frozen = list(frozen)  # plain list: not registered twice as submodules

    def forward(self, x):
        return self.inner(x)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self._frozen:
            m.eval()
        return self


def train_only(model: nn.Module, trainable: Sequence[nn.Module]) -> list[torch.nn.Parameter]:
    """Set requires_grad on the parameters of ``trainable`` only; return them."""
    keep = {id(p) for m in trainable for p in m.parameters()}
    params = []
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
        if id(p) in keep:
            params.append(p)
    return params


def all_trainable(model: nn.Module) -> nn.Module:
    """Restore requires_grad=True everywhere (returned models must be fully trainable, e.g. for relearn time)."""
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    return model


class _MaskedMixin:
    """Optimizer mixin: multiplies each gradient by its 0/1 mask before the step."""

    def set_masks(self, masks: dict[int, torch.Tensor]) -> None:
        self._masks = masks

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                m = self._masks.get(id(p))
                if m is not None and p.grad is not None:
                    p.grad.mul_(m.to(p.grad.dtype))
        return super().step(closure)


class MaskedSGD(_MaskedMixin, torch.optim.SGD):
    pass


class MaskedAdam(_MaskedMixin, torch.optim.Adam):
    pass


def masked_optimizer(params: Sequence[torch.nn.Parameter], masks: dict[int, torch.Tensor], cfg: TrainConfig
                     ) -> torch.optim.Optimizer:
    """The recipe's optimizer (SGD+momentum or Adam) whose gradients are masked by ``masks`` (id(p) -> 0/1).

    Masking the gradient keeps momentum buffers of masked-out entries free of gradient signal; weight decay
    can still move them inside ``step``, so callers also re-impose the frozen values after each step
    (:func:`restore_masked`) — that makes "masked-out weights stay exactly at θ_o" hold bit for bit.
    """
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "adam":
        opt = MaskedAdam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = MaskedSGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    opt.set_masks(masks)
    return opt


def restore_masked(params: Sequence[torch.nn.Parameter], masks: Sequence[torch.Tensor],
                   frozen_values: Sequence[torch.Tensor]) -> Callable[[], None]:
    """An ``after_step`` callback: entries where mask == 0 are reset to ``frozen_values`` exactly."""
    triples = list(zip(params, masks, frozen_values))

    @torch.no_grad()
    def after_step() -> None:
        for p, m, v in triples:
            p.copy_(torch.where(m.bool(), p, v))

    return after_step


def per_sample_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Per-sample gradients of the cross-entropy, {name: (B, *shape)}, via torch.func (vmap over grad).

    The model is evaluated in its current mode with its buffers fixed (call it in eval mode: BatchNorm then
    uses running statistics, which is what a per-sample gradient means). Computed in float32.
    """
    from torch.func import functional_call, grad, vmap

    named = dict(model.named_parameters())
    names = list(names) if names is not None else list(named)
    params = {n: named[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in named.items() if n not in params}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def loss_one(ps, xi, yi):
        out = functional_call(model, ({**ps, **fixed}, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out.float(), yi.unsqueeze(0))

    with full_precision():
        return vmap(grad(loss_one), in_dims=(None, 0, 0), randomness="different")(params, x.float(), y)


def flat_grads_of(grads: dict[str, torch.Tensor], names: Sequence[str]) -> torch.Tensor:
    """Concatenate per-sample gradients {name: (B, ...)} into a (B, P) matrix in ``names`` order."""
    return torch.cat([grads[n].reshape(grads[n].shape[0], -1) for n in names], dim=1)


def add_flat_(params: Sequence[torch.Tensor], delta: torch.Tensor) -> None:
    """params += delta (a flat vector in the order of ``params``)."""
    off = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.add_(delta[off:off + n].view_as(p).to(p.dtype))
            off += n


def batch_mean_grad(model: nn.Module, ds, idx: torch.Tensor, batch_size: int,
                    params: Sequence[torch.nn.Parameter], labels: torch.Tensor | None = None) -> torch.Tensor:
    """Flat gradient of the mean cross-entropy over ``idx`` (batched backward passes, float32, autocast off for
    the forward *and* the backward: on the CPU the backward runs on the calling thread, inside its autocast)."""
    total = torch.zeros(sum(p.numel() for p in params), device=ds.device)
    n = idx.numel()
    with full_precision():
        for ib in shuffled_batches(idx, batch_size, None, shuffle=False):
            xb, yb = get_batch(ds, ib)
            if labels is not None:
                yb = labels[ib]
            loss = F.cross_entropy(fp32_logits(model, xb), yb, reduction="sum") / n
            gs = torch.autograd.grad(loss, list(params))
            total += torch.cat([g.reshape(-1).float() for g in gs])
    return total


__all__ = [
    "method_cfg", "random_other_labels", "random_labels", "ForgetRelabeler", "relabel_loss", "full_precision", "fp32_logits", "fp32_features",
    "to_pixels", "from_pixels", "forget_mask", "cycle_batches", "check_model_finite", "check_outputs_finite",
    "kl_to_teacher", "soft_cross_entropy", "last_k_groups", "PartialTrain", "train_only", "all_trainable", "masked_optimizer",
    "restore_masked", "per_sample_grads", "flat_grads_of", "add_flat_", "batch_mean_grad",
]
