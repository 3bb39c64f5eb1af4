"""Evaluating an unlearned model: θ_u's logits on D_f, D_r and D_t once, then every registered ``model`` metric.

``evaluate`` is what a run stores (:meth:`unlearn_core.pipeline.Pipeline.run`); :func:`compute_metrics` computes a
chosen few from the same view (a metric added later, for a cached run).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..data import ImageDataset
from ..errors import ConfigError
from ..training import as_index_tensor, predict_logits
from .registry import get as get_metric, run_time_names
from .mia import DEFAULT_MIA, variant_metric


@dataclass
class EvalView:
    """θ_u's logits and labels on the forget (f), retain (r) and test (t) sets of one run; ``seed`` draws the MIA's
    member sample. ``value(name)`` computes a registered model metric once per view; ``seconds[name]`` is the wall
    time of that computation (the metrics it reads through ``value`` included)."""

    logits_forget: torch.Tensor
    y_forget: torch.Tensor
    logits_retain: torch.Tensor
    y_retain: torch.Tensor
    logits_test: torch.Tensor
    y_test: torch.Tensor
    seed: int = 0
    _values: dict[str, float] = field(default_factory=dict, repr=False)
    seconds: dict[str, float] = field(default_factory=dict, repr=False)

    def value(self, name: str) -> float:
        if name not in self._values:
            t0 = time.perf_counter()
            self._values[name] = float(get_metric(name).fn(self))
            self.seconds[name] = time.perf_counter() - t0
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


def evaluate_view(view: EvalView, mia_variants: tuple[str, ...] = (DEFAULT_MIA,)) -> dict[str, float]:
    """The run-time model metrics of θ_u (UA, RA, TA, ``MIA`` = MIA-efficacy on the confidence p_y as the papers
    report it, ``MIA_confidence``, and any metric registered since that is not on demand), plus the on-demand MIA
    feature variants named in ``mia_variants`` (``MIA_<variant>``). Leaving the confidence variant out of
    ``mia_variants`` makes ``MIA`` and ``MIA_confidence`` NaN (no SVC fitted)."""
    conf = variant_metric(DEFAULT_MIA)
    out: dict[str, float] = {}
    for name in run_time_names():
        if name in ("MIA", conf) and DEFAULT_MIA not in mia_variants:
            out[name] = float("nan")
            continue
        out[name] = view.value(name)
    for v in mia_variants:
        out.setdefault(variant_metric(v), view.value(variant_metric(v)))
    return out


def evaluate(model: torch.nn.Module, ds: ImageDataset, forget_idx, retain_idx, seed: int = 0,
             test_idx=None, mia_variants: tuple[str, ...] = (DEFAULT_MIA,)) -> dict[str, float]:
    """:func:`evaluate_view` of θ_u on the run's sets (:func:`eval_view`): what a run stores. By default only the
    confidence MIA variant; ``mia_variants=MIA_VARIANTS`` adds the four on-demand ones (what every run computed
    before they became on-demand metrics)."""
    return evaluate_view(eval_view(model, ds, forget_idx, retain_idx, seed, test_idx), mia_variants)
