"""Evaluating an unlearned model: θ_u's logits on D_f, D_r and D_t once, then every registered ``model`` metric.

``evaluate`` is what a run stores (:meth:`unlearn_core.pipeline.Pipeline.run`); :func:`compute_metrics` computes a
chosen few from the same view (a metric added later, for a cached run).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..data import ImageDataset
from ..errors import ConfigError
from ..training import as_index_tensor, predict_logits
from .registry import get as get_metric, names as metric_names
from .mia import DEFAULT_MIA, MIA_VARIANTS


@dataclass
class EvalView:
    """θ_u's logits and labels on the forget (f), retain (r) and test (t) sets of one run; ``seed`` draws the MIA's
    member sample. ``value(name)`` computes a registered model metric once per view."""

    logits_forget: torch.Tensor
    y_forget: torch.Tensor
    logits_retain: torch.Tensor
    y_retain: torch.Tensor
    logits_test: torch.Tensor
    y_test: torch.Tensor
    seed: int = 0
    _values: dict[str, float] = field(default_factory=dict, repr=False)

    def value(self, name: str) -> float:
        if name not in self._values:
            self._values[name] = float(get_metric(name).fn(self))
        return self._values[name]


def eval_view(model: torch.nn.Module, ds: ImageDataset, forget_idx, retain_idx, seed: int = 0,
              test_idx=None) -> EvalView:
    """θ_u's logits on every training and test sample, split into the run's sets (``test_idx`` restricts D_t:
    class-wise forgetting evaluates TA on the remaining classes' test samples)."""
    device = ds.device
    forget_t = as_index_tensor(forget_idx, device)
    retain_t = as_index_tensor(retain_idx, device)
    if forget_t.numel() == 0:
        raise ConfigError("The forget set is empty.")
    logits_train = predict_logits(model, ds, "train")
    logits_test_all = predict_logits(model, ds, "test")
    test_t = torch.arange(ds.x_test.shape[0], device=device) if test_idx is None else as_index_tensor(test_idx, device)
    y_tr = ds.y_train
    return EvalView(logits_train[forget_t], y_tr[forget_t], logits_train[retain_t], y_tr[retain_t],
                    logits_test_all[test_t], ds.y_test[test_t], seed)


def compute_metrics(view: EvalView, names: list[str]) -> dict[str, float]:
    return {n: view.value(n) for n in names}


def evaluate(model: torch.nn.Module, ds: ImageDataset, forget_idx, retain_idx, seed: int = 0,
             test_idx=None, mia_variants: tuple[str, ...] = MIA_VARIANTS) -> dict[str, float]:
    """Every registered model metric of θ_u: UA, RA, TA, MIA-efficacy per feature variant (``MIA_<variant>``;
    ``MIA`` = the confidence variant the papers report), and any metric registered since. ``mia_variants`` limits
    the MIA variants computed (``MIA`` is NaN when the confidence variant is left out)."""
    view = eval_view(model, ds, forget_idx, retain_idx, seed, test_idx)
    skip = {f"MIA_{v}" for v in MIA_VARIANTS if v not in mia_variants}
    out: dict[str, float] = {}
    for name in metric_names("model"):
        if name in skip:
            continue
        if name == "MIA" and f"MIA_{DEFAULT_MIA}" in skip:
            out[name] = float("nan")
            continue
        out[name] = view.value(name)
    return out
