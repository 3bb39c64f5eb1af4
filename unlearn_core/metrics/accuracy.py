"""Accuracies of the unlearned model θ_u in percent (Fan et al., Challenging Forgets §3)."""
from __future__ import annotations

import torch

from .registry import register_metric


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Share of samples whose arg-max logit is the label (NaN for an empty set)."""
    return float((logits.argmax(1) == y).float().mean().item()) if len(y) else float("nan")


@register_metric("UA", label="UA (unlearning accuracy)", direction="higher", unit="%",
                 formula="100 · (1 − acc(θ_u; D_f))",
                 help="Unlearning accuracy = 100 − accuracy on the forget set (%). Higher = more forgotten.",
                 paper="Fan et al., Challenging Forgets §3")
def unlearning_accuracy(view) -> float:
    return 100.0 * (1.0 - accuracy(view.logits_forget, view.y_forget))


@register_metric("RA", label="RA (remaining accuracy)", direction="higher", unit="%", formula="100 · acc(θ_u; D_r)",
                 help="Remaining accuracy: accuracy on the retain set (%).", paper="Fan et al., Challenging Forgets §3")
def remaining_accuracy(view) -> float:
    return 100.0 * accuracy(view.logits_retain, view.y_retain)


@register_metric("TA", label="TA (testing accuracy)", direction="higher", unit="%", formula="100 · acc(θ_u; D_t)",
                 help="Testing accuracy: accuracy on the test set (%).", paper="Fan et al., Challenging Forgets §3")
def testing_accuracy(view) -> float:
    return 100.0 * accuracy(view.logits_test, view.y_test)
