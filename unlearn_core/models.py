"""Models by name. Every model is a :class:`Classifier`: ``body`` (features) followed by a linear ``head``.

The split lets methods reach the penultimate features (embeddings, DAU's Barlow-Twins loss) and the last
layers (EU-k / CF-k) in one way for every architecture. ``layer_groups()`` lists the parameter groups from
input to output; "the last k layers" means the last k groups.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .errors import ConfigError, unknown_name


class Classifier(nn.Module):
    """body -> flatten features -> head (nn.Linear)."""

    def __init__(self, body: nn.Module, head: nn.Linear, groups: list[nn.Module] | None = None):
        super().__init__()
        self.body = body
        self.head = head
        self._groups = groups

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.body(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def layer_groups(self) -> list[nn.Module]:
        """Parameter-holding blocks from input to output; the head is always the last one."""
        if self._groups is not None:
            return list(self._groups) + [self.head]
        return [m for m in self.body.children() if any(p.requires_grad for p in m.parameters())] + [self.head]


def mlp(in_shape: tuple[int, int, int], num_classes: int, width: int = 256) -> Classifier:
    c, h, w = in_shape
    l1 = nn.Sequential(nn.Linear(c * h * w, width), nn.ReLU())
    l2 = nn.Sequential(nn.Linear(width, width), nn.ReLU())
    body = nn.Sequential(nn.Flatten(), l1, l2)
    return Classifier(body, nn.Linear(width, num_classes), groups=[l1, l2])


def cnn(in_shape: tuple[int, int, int], num_classes: int, width: int = 32, pool: int = 4,
        hidden: int = 256) -> Classifier:
    """Small CNN: conv-pool-BN-ReLU, conv-BN-ReLU-avgpool to pool×pool, a hidden dense layer.

    Sized by measurement (README, "Recipes in the papers' regime"): a 4×4 average pool and a 256-unit hidden layer
    (instead of 2×2 and 128) give the capacity to fit the CIFAR-10 subset's training set (train accuracy 72.7% →
    95.3% at 20 epochs with the 4×4 pool; 100.0% at 30 epochs with 256 units) for ~4% more FLOPs; the first block
    pools *before* BatchNorm and ReLU (same conv FLOPs, a quarter of their memory-bound work), which fits as well
    (CIFAR subset 100.0% vs 99.98%, gray-28 99.70% vs 99.65%) with a faster step.

    Kernels (issue 23, measured side by side on one thread, benchmarks/bench_perf.py section 0): ReLUs in place (no
    extra activation buffer; BatchNorm's and Linear's backward do not read their output) and, when the pooled map
    divides evenly (32 px: 16 → 4), a fixed AvgPool2d instead of the adaptive one (whose backward is a slow
    generic kernel). Both give bit-identical outputs and gradients to the previous layers (checked in
    tests/test_kernels.py). Measured on a loaded 2-core machine: 183 → 162 ms per step (32×32×3, batch 64) in one run, 13.2 → 13.5 GFLOP/s in another; no gain on 28×28×1 (125 → 120 ms, 16.5 → 15.6 GFLOP/s).
    """
    c, h, w = in_shape
    b1 = nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
    side = h // 2
    fixed = side == w // 2 and side % pool == 0 and side >= pool
    b2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True),
                       nn.AvgPool2d(side // pool) if fixed else nn.AdaptiveAvgPool2d(pool))
    fc = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * pool * pool, hidden), nn.ReLU(inplace=True))
    return Classifier(nn.Sequential(b1, b2, fc), nn.Linear(hidden, num_classes), groups=[b1, b2, fc])


def _cifar_resnet(arch: str, in_shape: tuple[int, int, int], num_classes: int) -> Classifier:
    """torchvision ResNet with the CIFAR stem: 3x3 stride-1 conv, no max-pool."""
    import torchvision.models as tvm

    net = getattr(tvm, arch)(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(in_shape[0], 64, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    stem = nn.Sequential(net.conv1, net.bn1, net.relu)
    body = nn.Sequential(stem, net.layer1, net.layer2, net.layer3, net.layer4, nn.AdaptiveAvgPool2d(1))
    return Classifier(body, net.fc, groups=[stem, net.layer1, net.layer2, net.layer3, net.layer4])


def vgg16_bn(in_shape: tuple[int, int, int], num_classes: int) -> Classifier:
    import torchvision.models as tvm

    net = tvm.vgg16_bn(weights=None)
    feats = net.features
    if in_shape[0] != 3:
        feats[0] = nn.Conv2d(in_shape[0], 64, 3, padding=1)
    # Five conv stages (split at the max-pools) are the layer groups.
    groups, cur = [], []
    for m in feats:
        cur.append(m)
        if isinstance(m, nn.MaxPool2d):
            groups.append(nn.Sequential(*cur))
            cur = []
    if cur:
        groups.append(nn.Sequential(*cur))
    body = nn.Sequential(*groups, nn.AdaptiveAvgPool2d(1))
    return Classifier(body, nn.Linear(512, num_classes), groups=groups)


MODELS: dict[str, Callable[[tuple[int, int, int], int], Classifier]] = {
    "mlp": mlp,
    "cnn": cnn,
    "resnet18": lambda s, k: _cifar_resnet("resnet18", s, k),
    "resnet50": lambda s, k: _cifar_resnet("resnet50", s, k),
    "vgg16_bn": vgg16_bn,
}


def build_model(name: str, in_shape: tuple[int, int, int], num_classes: int) -> Classifier:
    """Instantiate a freshly initialised model by name (call under a seeded generator for reproducibility)."""
    if name not in MODELS:
        raise unknown_name("model", name, list(MODELS))
    return MODELS[name](tuple(in_shape), int(num_classes))


_FITS: dict[tuple, str | None] = {}


def _fit_error(name: str, in_shape: tuple[int, int, int], num_classes: int) -> str | None:
    """Why ``name`` cannot classify images of ``in_shape`` (None if it can). A forward pass of one zero image on the
    meta device: shapes only, no memory, no random draws (the global RNG is untouched)."""
    key = (name, tuple(in_shape), int(num_classes))
    if key not in _FITS:
        try:
            with torch.device("meta"):
                out = build_model(name, in_shape, num_classes).eval()(torch.zeros(1, *in_shape))
            _FITS[key] = None if tuple(out.shape) == (1, num_classes) else f"it outputs shape {tuple(out.shape)}"
        except (RuntimeError, ValueError) as err:  # torch: "Output size is too small", "Expected more than ..."
            _FITS[key] = str(err).split("\n")[0][:160]
    return _FITS[key]


def check_model_fits(name: str, in_shape: tuple[int, int, int], num_classes: int) -> None:
    """Refuse a model too deep for the image size (e.g. vgg16_bn on 8x8) before anything trains, naming the
    smallest size it needs and the models that do fit."""
    if name not in MODELS:
        raise unknown_name("model", name, list(MODELS))
    why = _fit_error(name, in_shape, num_classes)
    if why is None:
        return
    c, h, w = in_shape
    need = next((s for s in (2, 4, 8, 16, 32, 64, 128, 256) if s >= min(h, w)
                 and _fit_error(name, (c, s, s), num_classes) is None), None)
    fits = [m for m in MODELS if m != name and _fit_error(m, in_shape, num_classes) is None]
    raise ConfigError(f"Model '{name}' does not fit {h}x{w} images ({why})."
                      + (f" It needs images of at least {need}x{need}." if need else "")
                      + (f" Models that fit: {', '.join(fits)} (--model NAME)." if fits else
                         " No model fits images this small; use larger images."))


# Models built for 32×32 (and larger) RGB images: on tiny images they still run (adaptive pooling) but are a poor and
# very slow choice: ResNet-18 has ~11 M parameters for 1,437 8×8 digits.
DESIGNED_MIN_SIZE = {"resnet18": 32, "resnet50": 32, "vgg16_bn": 32}


def model_mismatch_warning(name: str, in_shape: tuple[int, int, int], n_train: int, default: str) -> str | None:
    """A warning when ``name`` is far too large for the data (built for ≥ 32×32 images, or more parameters than
    1000 per training image); None when it fits. Does not refuse: a user may want it anyway."""
    if name not in MODELS:
        return None
    c, h, w = in_shape
    with torch.device("meta"):
        n_params = sum(p.numel() for p in build_model(name, in_shape, 10).parameters())
    small = DESIGNED_MIN_SIZE.get(name, 0) > min(h, w)
    if not small and n_params <= 1000 * max(n_train, 1):
        return None
    why = f"it is built for images of at least {DESIGNED_MIN_SIZE[name]}×{DESIGNED_MIN_SIZE[name]}" if small else \
        f"that is {n_params / max(n_train, 1):,.0f} parameters per training image"
    return (f"model '{name}' ({n_params / 1e6:.1f} M parameters) on {h}×{w} images ({n_train:,} training images): "
            f"{why}; training is slow and overfits. The default for this data set is '{default}' (--model "
            f"{default}).")
