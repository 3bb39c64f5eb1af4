"""Per-sample forget scores: one module per score, each registering itself in ``SCORES`` (see base.py)."""
from __future__ import annotations

from .base import SCORES, ScoreInput, ScoreResult, ScoreSpec, get_score, load_all, register_score, score_names

__all__ = ["SCORES", "ScoreInput", "ScoreResult", "ScoreSpec", "get_score", "register_score", "score_names", "load_all"]
