"""Entropy score: H(softmax(θ_o(x))) of each training sample (Chen et al., Forgetting Sequence Fig. 2)."""
from __future__ import annotations

import torch

from ..training import predict_logits
from .base import ScoreInput, ScoreResult, register_score, to_numpy


@register_score("entropy", label="Entropy", hard_end="low",
                description="Entropy of the original model's softmax output. Confident (low-entropy) samples are "
                            "typically harder to forget (Chen et al., Forgetting Sequence Fig. 2).")
def entropy_score(inp: ScoreInput) -> ScoreResult:
    logp = torch.log_softmax(predict_logits(inp.original, inp.ds, "train"), dim=1)
    return ScoreResult(to_numpy(-(logp.exp() * logp).sum(1)))
