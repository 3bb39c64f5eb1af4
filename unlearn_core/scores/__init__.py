"""Per-sample forget scores: one module per score, each registering itself in ``SCORES`` (see base.py)."""
from __future__ import annotations

import importlib
import pkgutil

from .base import SCORES, ScoreInput, ScoreResult, ScoreSpec, get_score, register_score, score_names

_LOADED = False


def load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name != "base" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _LOADED = True


__all__ = ["SCORES", "ScoreInput", "ScoreResult", "ScoreSpec", "get_score", "register_score", "score_names", "load_all"]
