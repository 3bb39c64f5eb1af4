"""Loss score: cross-entropy of θ_o on each training sample (Chen et al., Forgetting Sequence: low loss = hard to forget)."""
from __future__ import annotations

from ..training import per_sample_loss
from .base import ScoreInput, ScoreResult, register_score, to_numpy


@register_score("loss", label="Loss", hard_end="low",
                description="Cross-entropy of the original model on the sample (eval mode). Low loss = hard to "
                            "forget; correlates positively with LiRA ASR (Chen et al., Forgetting Sequence).")
def loss_score(inp: ScoreInput) -> ScoreResult:
    return ScoreResult(to_numpy(per_sample_loss(inp.original, inp.ds, "train")))
